"""timm's Hugging Face Hub checkpoints of the nets we build, `weights/timm_tags.json`: data, one
`HubTag` per `hf://timm/<arch>.<tag>` handle (timm's pretrained_cfg and its published ImageNet
top-1), and the timm ResNet-family architectures we refuse, each with the reason.

The table is listed beside the registry (`keras-resnet weights --model ID`); `refusal` gives the
loader its one-line reason for an architecture we do not build. Kept free of Keras."""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache

from keras_resnet.core.architectures import parse_model_id
from keras_resnet.pretrained.download import weights_dir


@dataclass(frozen=True)
class HubTag:
    """One timm checkpoint on the Hub: its handle, our model id (timm's architecture name), its
    classes and timm's eval transform (resize to `input_size` / `crop_pct`, then centre crop, then
    mean/std), its licence, and timm's published top-1 (%) at the size and crop it was measured
    at, or None where timm publishes none."""

    handle: str  # "hf://timm/resnet50.a1h_in1k"
    model: str
    classes: int
    input_size: int
    crop_pct: float
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    license: str | None
    top1: float | None
    top1_img_size: int | None
    top1_crop_pct: float | None


@cache
def _table() -> dict:
    with open(weights_dir() / "timm_tags.json", encoding="utf-8") as f:
        return json.load(f)


@cache
def _tags() -> tuple[HubTag, ...]:
    return tuple(HubTag(**{**raw, "mean": tuple(raw["mean"]), "std": tuple(raw["std"])}) for raw in _table()["tags"])


def hub_tags(model: str | None = None) -> tuple[HubTag, ...]:
    """Every listed timm checkpoint, or those of the model id `model` (an unknown id is refused
    naming the ids accepted; a known one timm publishes none for gives none)."""
    if model is None:
        return _tags()
    parse_model_id(model)
    return tuple(tag for tag in _tags() if tag.model == model)


def refusal(architecture: str) -> str | None:
    """Why we do not build the timm architecture `architecture` (every reason that applies, as
    `ecaresnet50d_pruned` is both ECA and pruned), or None where the table refuses nothing of
    that name."""
    reasons = [entry["reason"] for entry in _table()["refused"]
               if (fnmatchcase(architecture, entry["pattern"]) if "pattern" in entry
                   else architecture == entry["architecture"])]
    return "; ".join(reasons) or None
