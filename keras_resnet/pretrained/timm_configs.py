"""timm's `config.json` as data: the architecture (our model id, where we build it), the number
of classes and the evaluation preprocessing, every field checked, so that a forged or damaged
config is refused naming the field, never built from. Both forms timm reads
(`timm.models._hub._parse_model_cfg`): `pretrained_cfg` nested under the top level (what
`save_for_hf` writes) or, in older repositories, the whole file flat. The architecture is the
authority: resnetaa50's state dict has resnet50's keys and shapes, only its name tells them apart.

Kept free of Keras: it reads a dict."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

from keras_resnet.core.architectures import MIN_INPUT_SIZE, Architecture, list_models, parse_model_id
from keras_resnet.core.arguments import is_integer
from keras_resnet.pretrained.registry import Preprocessing
from keras_resnet.pretrained.timm_tags import refusal

INTERPOLATIONS = ("bilinear", "bicubic", "nearest")  # timm's others (lanczos, box, hamming) Keras lacks
MAX_CLASSES = 100_000  # ImageNet-22k has 21,843; a classifier of 10^9 classes would take terabytes
MAX_INPUT_SIZE = 512  # timm's ResNets are evaluated at 160 to 416 pixels
MIN_CROP_PCT = 0.5  # theirs are 0.875 to 1; resized first to MAX_INPUT_SIZE / this at most (CentreCrop's bound)
# timm's defaults for what a pretrained_cfg leaves out (timm/data/config.py resolve_data_config)
DEFAULTS = {"input_size": (3, 224, 224), "interpolation": "bicubic", "crop_pct": 0.875, "crop_mode": "center",
            "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
# model_args that change nothing at inference (timm applies them as create_model arguments)
INFERENCE_NEUTRAL = {"drop_rate", "drop_path_rate", "drop_block_rate", "zero_init_last"}


@dataclass(frozen=True)
class TimmConfig:
    """What keras_resnet takes from a timm config: the model id, the classifier's classes and the
    evaluation transform timm applies (`timm.data.create_transform` of the config's input_size,
    not its test_input_size)."""

    model: str
    classes: int
    preprocessing: Preprocessing


def in_timm(arch: Architecture, residual: bool = True) -> bool:
    """Whether timm builds the net under our model id (its architecture name): the ImageNet
    residual nets but the pre-activation ones (timm's resnetv2_* are another layout)."""
    return residual and arch.family == "imagenet" and not arch.preact


def supported_architectures() -> tuple[str, ...]:
    """The timm architectures keras_resnet builds: our model ids that are timm's names too."""
    return tuple(model for model in list_models() if in_timm(*parse_model_id(model)))


def parse_config(config: Mapping, source: str) -> TimmConfig:
    """The architecture, classes and preprocessing of a timm config (a dict from config.json);
    `source` names it in messages (`weights='hf://...'`)."""
    nested = "pretrained_cfg" in config
    cfg = config["pretrained_cfg"] if nested else config
    if not isinstance(cfg, Mapping):
        raise ValueError(f"{source}: config.json's `pretrained_cfg` must be an object; received "
                         f"{type(cfg).__name__}.")
    field = _Fields(source, cfg, "pretrained_cfg." if nested else "")
    model = _architecture(config.get("architecture"), source)
    arch, _ = parse_model_id(model)
    _check_head(config, source, arch.filters[-1] * arch.expansion)
    top = _Fields(source, config, "")
    classes = (top if "num_classes" in config else field).get(  # timm: the top level's wins
        "num_classes", lambda v: is_integer(v) and 1 <= v <= MAX_CLASSES, f"an integer from 1 to {MAX_CLASSES:,}",
        default=1000)
    size = field.get("input_size", _input_size, f"[3, size, size] with a size from {MIN_INPUT_SIZE} to "
                     f"{MAX_INPUT_SIZE} (a square RGB input, as every timm ResNet is evaluated)")[1]
    field.get("crop_mode", lambda v: v == "center", "'center' (resized, then the central crop)")
    return TimmConfig(model, int(classes), Preprocessing(
        mode="torch", size=int(size),
        crop_fraction=float(field.get("crop_pct", lambda v: _real(v) and MIN_CROP_PCT <= v <= 1,
                                      f"a number from {MIN_CROP_PCT} to 1")),
        interpolation=field.get("interpolation", lambda v: v in INTERPOLATIONS, f"one of {list(INTERPOLATIONS)}"),
        mean=tuple(float(v) for v in field.get("mean", _rgb(lambda v: True), "3 finite numbers, one a channel")),
        std=tuple(float(v) for v in field.get("std", _rgb(lambda v: v > 0), "3 finite numbers above 0")),
        resize_first=True,
    ))


@dataclass(frozen=True)
class _Fields:
    """A config object's fields, read with timm's defaults (`DEFAULTS`; a null is absent, as
    timm reads it) and checked, refused naming the field by its path (`prefix`)."""

    source: str
    values: Mapping
    prefix: str

    def get(self, key: str, valid, accepted: str, default=None):
        value = self.values.get(key)
        if value is None:
            return DEFAULTS.get(key, default)
        try:
            ok = bool(valid(value))
        except TypeError:  # a comparison of the wrong type: "a" > 0
            ok = False
        if not ok:
            raise ValueError(f"{self.source}: config.json's `{self.prefix}{key}` must be {accepted}; received "
                             f"{_shown(value)}.")
        return value


def _architecture(name, source: str) -> str:
    """The model id of the config's architecture, refused naming what it has that we lack."""
    supported = supported_architectures()
    if isinstance(name, str) and name in supported:
        return name
    if not isinstance(name, str) or not name:
        raise ValueError(f"{source}: config.json's `architecture` must name a timm architecture (e.g. 'resnet50'); "
                         f"received {_shown(name)}: not a timm model repository.")
    missing = refusal(name)
    has = f"it has {missing}, which keras_resnet does not build" if missing else "keras_resnet does not build it"
    raise ValueError(f"{source}: its config.json names architecture {name!r}: {has}. timm architectures keras_resnet "
                     f"builds: {', '.join(supported)}.")


def _check_head(config: Mapping, source: str, features: int) -> None:
    """What timm would build differently from the name alone: `model_args` (create_model
    arguments) other than training-only ones, a pool other than the average, another width."""
    args = config.get("model_args") or {}
    if not isinstance(args, Mapping):
        raise ValueError(f"{source}: config.json's `model_args` must be an object; received {_shown(args)}.")
    changed = sorted(set(map(str, args)) - INFERENCE_NEUTRAL - {"global_pool", "in_chans"})
    if changed:
        raise ValueError(f"{source}: config.json's `model_args` change the network timm builds ({', '.join(changed)}); "
                         f"keras_resnet builds the architecture as named, with only "
                         f"{', '.join(sorted(INFERENCE_NEUTRAL))} (training-only) there.")
    checks = {"global_pool": ("'avg'", lambda v: v == "avg"), "in_chans": ("3", lambda v: v == 3),
              "num_features": (str(features), lambda v: v == features)}
    for key, (accepted, valid) in checks.items():
        for where, values in (("", config), ("model_args.", args)):
            if values.get(key) is not None and not (valid(values[key]) and not isinstance(values[key], bool)):
                raise ValueError(f"{source}: config.json's `{where}{key}` must be {accepted} for "
                                 f"{config.get('architecture')}; received {_shown(values[key])}.")


def _real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _rgb(valid):
    """Valid as a per-channel list: 3 finite numbers, each `valid`."""
    return lambda v: isinstance(v, (list, tuple)) and len(v) == 3 and all(_real(x) and valid(x) for x in v)


def _input_size(value) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == 3 and all(is_integer(v) for v in value)
            and value[0] == 3 and value[1] == value[2] and MIN_INPUT_SIZE <= value[1] <= MAX_INPUT_SIZE)


def _shown(value) -> str:
    text = repr(value)
    return text[:100] + ("..." if len(text) > 100 else "")
