"""Back to PyTorch: a model in timm's Hub layout, the folder `timm.models._hub.save_for_hf(model, DIR,
safe_serialization=True)` writes, so that `timm.create_model("local-dir:DIR", pretrained=True)` loads
it and the folder can go to the Hub as it is. `model.safetensors` holds timm's state dict (its names,
PyTorch's axis order, float32, each BatchNorm's `num_batches_tracked` an int64 0); `config.json` the
architecture, classes and features, and the `pretrained_cfg` whose input size, crop, interpolation,
mean and std timm's eval transform reads.

timm names our ImageNet nets as we do (resnet50, resnet50d, resnext50_32x4d, ...; all but the
pre-activation V2), as variant v1.5 with the published shortcut: a model is written only when it is
that net, checked layer by layer against the builder's. The state-dict names are the loader's
(`formats.to_torch_state_dict`, the inverse of `torch_layer_name`). The folder is written beside
the output and moved into place whole; an existing output is replaced only when it is an earlier
timm folder. Free of Keras at import: the command line checks its arguments before Keras loads."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from keras_resnet.core.architectures import Architecture, parse_model_id
from keras_resnet.core.atomic import work_directory
from keras_resnet.core.names import CLASSIFIER
from keras_resnet.deploy.artefacts import TIMM, check_output, move_into_place
from keras_resnet.pretrained.timm_configs import in_timm, supported_architectures

# timm's ResNet defaults (timm/models/resnet.py `_cfg`), for what a model's built-in preprocessing
# does not tell: ImageNet's mean and std, the 224 / 256 centre crop, bilinear resizing
DEFAULT_CFG = {"interpolation": "bilinear", "crop_pct": 0.875, "crop_mode": "center",
               "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
FEATURE_STRIDE = 32  # input pixels per cell of the last feature map (`pool_size`)
INTERPOLATIONS = {"bilinear": "bilinear", "bicubic": "bicubic", "nearest": "nearest", "lanczos3": "lanczos"}
PREPROCESSING = "a centre crop and a per-channel mean and std"  # what a pretrained_cfg describes of the inputs


def timm_architecture(architecture: str) -> Architecture:
    """The row of a model id that is also a timm architecture; anything else raises, naming
    `architecture` and the ids accepted."""
    try:
        arch, residual = parse_model_id(architecture)
    except ValueError:
        arch, residual = None, False
    if arch is None or not in_timm(arch, residual):
        why = " (timm has no plain, CIFAR-10 or pre-activation nets)" if arch is not None else ""
        raise ValueError(f"`architecture` must be a model id that timm builds too, one of "
                         f"{', '.join(supported_architectures())}; received architecture={architecture!r}{why}.")
    return arch


def check_timm_output(directory: str | os.PathLike) -> None:
    """`directory` does not exist, or is an earlier timm folder (empty, or only its files)."""
    check_output(directory, TIMM)


def save_timm(model, directory: str | os.PathLike, *, architecture: str | None = None,
              pretrained_cfg: Mapping | None = None) -> Path:
    """Write `model` as a timm folder at `directory`; returns its path.

    `architecture` is the model id (default: the model's name, which the builders set to it); it
    must be one timm builds, and `model` that net as timm builds it (variant "v1.5", the published
    shortcut, a classifier), else ValueError, before anything is written. `pretrained_cfg` entries
    (e.g. `{"license": "apache-2.0"}`) go over those the model tells: the centre crop, interpolation
    and input size of a built-in `CentreCrop`, the mean and std of a built-in normalisation,
    timm's ResNet defaults (`DEFAULT_CFG`) otherwise; its num_classes, first_conv and classifier
    are the model's."""
    try:
        arch = timm_architecture(model.name if architecture is None else architecture)
    except ValueError as e:
        default = "; None takes the model's name, which is not such an id" if architecture is None else ""
        raise ValueError(f"{str(e).removesuffix('.')}{default}.") from None
    architecture = model.name if architecture is None else architecture
    if pretrained_cfg is not None and not isinstance(pretrained_cfg, Mapping):
        raise ValueError(f"`pretrained_cfg` must be a mapping (a dict of timm's pretrained_cfg entries) or None; "
                         f"received {type(pretrained_cfg).__name__}.")
    directory = Path(directory)
    check_timm_output(directory)
    state, config = _timm_folder(model, architecture, arch, dict(pretrained_cfg or {}))
    try:
        text = json.dumps(config, indent=2, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`pretrained_cfg` must hold JSON values (strings, numbers, lists, dicts); {e}.") from None
    directory.parent.mkdir(parents=True, exist_ok=True)
    with work_directory(directory) as work:  # a killed export's is removed by the next export to `directory`
        folder = work / directory.name
        folder.mkdir()
        save_file(state, folder / "model.safetensors")
        (folder / "config.json").write_text(text + "\n", encoding="utf-8")
        for written in folder.iterdir():
            with open(written, "rb") as f:
                os.fsync(f.fileno())
        check_timm_output(directory)  # again: writing took a while
        move_into_place(folder, directory, work)
    return directory


def _timm_folder(model, architecture: str, arch: Architecture, overrides: dict) -> tuple[dict, dict]:
    """The state dict and config.json of `model`, checked to be `architecture` as timm builds it."""
    import keras

    from keras_resnet.core.keras_internals import unallocated
    from keras_resnet.models.builder import build_by_id
    from keras_resnet.models.preprocessing import CentreCrop
    from keras_resnet.pretrained.formats import Weight, to_torch_state_dict
    from keras_resnet.pretrained.loading import matched, stride_placement

    source = f"`model` {model.name!r}"
    not_timm = f"{source} is not timm's {architecture} (variant v1.5, shortcut {arch.default_shortcut})"
    try:
        classifier = model.get_layer(CLASSIFIER)
    except ValueError:
        raise ValueError(f"{not_timm}: it has no classifier layer {CLASSIFIER!r} (timm's `fc`); build it with "
                         "include_top=True.") from None
    with unallocated():  # the builder's net, for its layers: names, shapes and strides, no memory
        reference = build_by_id(architecture, variant="v1.5", classes=classifier.units)
    if stride_placement(model) != stride_placement(reference):
        raise ValueError(f"{not_timm}: it strides as variant {stride_placement(model)!r}, in its bottlenecks' "
                         "first 1x1 conv, and timm's in the 3x3 conv: build it with variant='v1.5' (weights load "
                         "into either; the outputs differ).")
    network = {layer.name for layer in reference.layers}
    extra = [layer for layer in model.layers
             if layer.name not in network and not isinstance(layer, keras.layers.InputLayer)]
    preprocessing = [layer for layer in extra if isinstance(layer, CentreCrop) or _per_channel(layer)]
    others = [layer for layer in extra if layer not in preprocessing]
    if others:
        named = ", ".join(f"{layer.name!r} ({type(layer).__name__})" for layer in others[:4])
        hint = "" if all(layer.weights for layer in others) else f"; of input preprocessing timm holds {PREPROCESSING}"
        raise ValueError(f"{not_timm}: its layers {named}{', ...' if len(others) > 4 else ''} are not in that "
                         f"net{hint}.")
    layers = {layer.name: layer.weights for layer in model.layers if layer.weights and layer.name in network}
    try:
        matched(reference, {name: [Weight(v.path, tuple(v.shape), v.dtype, v.numpy) for v in weights]
                            for name, weights in layers.items()}, "it")
    except ValueError as e:
        raise ValueError(f"{not_timm}: {e}") from None
    state = to_torch_state_dict({name: [v.numpy() for v in weights] for name, weights in layers.items()},
                                arch.blocks, avg_down=arch.default_shortcut == "D")
    cfg = {**_inputs(model, preprocessing, CentreCrop), **overrides}
    return state, _config(architecture, classifier, state, cfg)


def _per_channel(layer) -> bool:
    """A Keras Normalization of one mean and variance per RGB channel (`preprocessing.normalize`)."""
    import keras

    return (isinstance(layer, keras.layers.Normalization) and not layer.invert and layer.built
            and np.size(layer.mean) == 3)


def _inputs(model, preprocessing: list, centre_crop: type) -> dict:
    """The pretrained_cfg entries of the inputs: the built-in crop's size, fraction and
    interpolation (else the model's input size, fixed where it has a classifier, and timm's
    defaults), the built-in normalisation's mean and std on 0-1 pixels (it takes 0-255 ones), else
    ImageNet's."""
    import keras

    cfg = dict(DEFAULT_CFG)
    stem = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    size = model.input_shape[2:4] if stem.data_format == "channels_first" else model.input_shape[1:3]
    for layer in preprocessing:
        if isinstance(layer, centre_crop):
            if layer.interpolation not in INTERPOLATIONS:
                raise ValueError(f"layer {layer.name!r} resizes with {layer.interpolation!r}, which timm does not "
                                 f"name; timm's are {', '.join(INTERPOLATIONS.values())}.")
            cfg |= {"crop_pct": _number(layer.crop_fraction), "interpolation": INTERPOLATIONS[layer.interpolation]}
            size = (layer.size, layer.size)
        else:
            mean, variance = np.ravel(layer.mean), np.ravel(layer.variance)
            cfg |= {"mean": [_number(m / 255) for m in mean], "std": [_number(np.sqrt(v) / 255) for v in variance]}
    return {"input_size": [3, *size], "fixed_input_size": False, **cfg,
            "pool_size": [math.ceil(side / FEATURE_STRIDE) for side in size]}


def _number(value) -> float:
    """A float32 value as its shortest decimal (123.675 / 255 is 0.485, not 0.48500001430511475)."""
    return float(f"{float(value):.7g}")


def _config(architecture: str, classifier, state: dict, cfg: dict) -> dict:
    """config.json as timm's `save_config_for_hf` lays it out; the top-level `num_classes` and the
    pretrained_cfg's agree (timm drops a classifier whose count differs from the cfg's)."""
    classes, features = classifier.units, classifier.kernel.shape[0]
    first_conv = "conv1.0" if "conv1.0.weight" in state else "conv1"
    return {"architecture": architecture, "num_classes": classes, "num_features": features,
            "pretrained_cfg": {**cfg, "num_classes": classes, "first_conv": first_conv, "classifier": "fc"}}
