"""Multi-scale feature maps C2-C5 (strides 4-32) for detection and segmentation heads,
tapped at the last block output of each stage, as keras-hub's `pyramid_outputs`."""

from __future__ import annotations

import keras

from keras_resnet.models.names import parse_block_output


def pyramid_outputs(model: keras.Model) -> dict[str, keras.KerasTensor]:
    """{"C2": ..., "C5": ...}: the output of each stage's last block, by layer name."""
    last: dict[int, tuple[int, keras.layers.Layer]] = {}
    for layer in model.layers:
        block = parse_block_output(layer.name)
        if block:
            stage, index = block
            if index > last.get(stage, (0, None))[0]:
                last[stage] = (index, layer)
    if not last:
        raise ValueError(f"Model {model.name!r} has no `convN_blockM_out` layers: not built by keras_resnet.")
    return {f"C{stage}": layer.output for stage, (_, layer) in sorted(last.items())}


def feature_extractor(model: keras.Model, levels: tuple[str, ...] | None = None) -> keras.Model:
    """A model returning a dict of the requested pyramid levels (default: all stages)."""
    outputs = pyramid_outputs(model)
    levels = tuple(outputs) if levels is None else tuple(levels)
    unknown = [lvl for lvl in levels if lvl not in outputs]
    if unknown:
        raise ValueError(f"`levels` must be among {list(outputs)}; received {list(levels)}.")
    return keras.Model(model.inputs, {lvl: outputs[lvl] for lvl in levels}, name=f"{model.name}_features")
