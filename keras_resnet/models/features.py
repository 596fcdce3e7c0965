"""Multi-scale feature maps C2-C5 (strides 4-32) for detection and segmentation heads,
tapped at the last block output of each stage at the stage's resolution, as keras-hub's
`pyramid_outputs`."""

from __future__ import annotations

import keras

from keras_resnet.core.names import parse_block_layer, parse_block_output


def pyramid_outputs(model: keras.Model) -> dict[str, keras.KerasTensor]:
    """{"C2": ..., "C5": ...}: the output of each stage's last block, by layer name; where
    that block itself halves the size (keras' V2 strides at a stage's end), the block's before,
    so that C_k has stride 2^k."""
    outputs: dict[int, dict[int, keras.layers.Layer]] = {}
    strided: set[tuple[int, int]] = set()
    for layer in model.layers:
        block = parse_block_output(layer.name)
        if block:
            outputs.setdefault(block[0], {})[block[1]] = layer
        elif any(s > 1 for s in getattr(layer, "strides", ())):
            strided.add(parse_block_layer(layer.name))
    if not outputs:
        raise ValueError(f"Model {model.name!r} has no `convN_blockM_out` layers: not built by keras_resnet.")
    taps = {}
    for stage, blocks in sorted(outputs.items()):
        last = max(blocks)
        index = last - 1 if last > 1 and (stage, last) in strided and last - 1 in blocks else last
        taps[f"C{stage}"] = blocks[index].output
    return taps


def feature_extractor(model: keras.Model, levels: tuple[str, ...] | None = None) -> keras.Model:
    """A model returning a dict of the requested pyramid levels (default: all stages)."""
    outputs = pyramid_outputs(model)
    levels = tuple(outputs) if levels is None else tuple(levels)
    unknown = [lvl for lvl in levels if lvl not in outputs]
    if unknown:
        raise ValueError(f"`levels` must be among {list(outputs)}; received {list(levels)}.")
    return keras.Model(model.inputs, {lvl: outputs[lvl] for lvl in levels}, name=f"{model.name}_features")
