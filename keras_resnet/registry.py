"""The pretrained-weights registry, `weights/registry.json`: data, one entry per (weights
name, model, variant). This module only reads it and checks a request against it."""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path

from keras_resnet.architectures import IMAGENET, Architecture, cifar_by_depth


def model_id(arch: Architecture, residual: bool) -> str:
    """Registry key of an architecture: resnet50, plainnet34, cifar_resnet20, ..."""
    family = "resnet" if residual else "plainnet"
    return f"{'cifar_' if arch.stem == 'cifar' else ''}{family}{arch.depth}"


def parse_model_id(model: str) -> tuple[Architecture, bool]:
    """(architecture, residual) of a model id; the inverse of `model_id`."""
    m = re.fullmatch(r"(cifar_)?(resnet|plainnet)([1-9][0-9]*)", model) if isinstance(model, str) else None
    depth = int(m[3]) if m else 0
    if m and m[1] and depth % 6 == 2 and depth >= 8:
        return cifar_by_depth(depth), m[2] == "resnet"
    if m and not m[1] and depth in IMAGENET:
        return IMAGENET[depth], m[2] == "resnet"
    raise ValueError(
        f"`model` must be resnet|plainnet{{{','.join(map(str, IMAGENET))}}} or "
        f"cifar_resnet|cifar_plainnet{{6n+2}}; received model={model!r}."
    )


def weights_dir() -> Path:
    """`weights/` is installed inside the package; in a source checkout it sits beside it."""
    installed = Path(__file__).parent / "weights"
    return installed if installed.is_dir() else Path(__file__).parent.parent / "weights"


@cache
def registry() -> tuple[dict, ...]:
    with open(weights_dir() / "registry.json", encoding="utf-8") as f:
        return tuple(json.load(f)["entries"])


def names() -> list[str]:
    return sorted({e["weights"] for e in registry()})


def resolve(weights, model: str, *, variant: str, shortcut: str | None, kind: str) -> dict | Path | None:
    """What `weights=` names: None, the registry entry for `model` (and `variant`, where the
    block `kind` has one), or a local file."""
    if weights is None:
        return None
    if isinstance(weights, str) and weights in names():
        for_model = [e for e in registry() if e["weights"] == weights and e["model"] == model]
        if not for_model:
            have = sorted({e["model"] for e in registry() if e["weights"] == weights})
            raise ValueError(f"weights={weights!r} exist for {have}, not for {model!r}.")
        # basic blocks have no 1x1 conv, so v1 and v1.5 are the same network
        matches = [e for e in for_model if kind == "basic" or e["variant"] == variant]
        if not matches or matches[0]["shortcut"] != shortcut:
            offered = ", ".join(f"variant={e['variant']!r} shortcut={e['shortcut']!r}" for e in for_model)
            raise ValueError(
                f"weights={weights!r} for {model} exist with {offered}; "
                f"received variant={variant!r}, shortcut={shortcut!r}."
            )
        return matches[0]
    if isinstance(weights, (str, os.PathLike)) and Path(weights).is_file():
        return Path(weights)
    raise ValueError(
        f"`weights` must be None, a registry name ({', '.join(names())}) or the path to an "
        f"existing weights file (.h5, .safetensors, .pth); received weights={weights!r}."
    )


def check_compatible(entry: dict, *, include_top: bool, classes: int, input_shape: tuple) -> None:
    """Refuse, before building, arguments that the pretrained weights cannot serve."""
    if input_shape[-1] != 3:
        raise ValueError(
            f"weights={entry['weights']!r} were trained on RGB images: the input must have 3 "
            f"channels; received input_shape={input_shape!r}."
        )
    if include_top and classes != entry["classes"]:
        raise ValueError(
            f"weights={entry['weights']!r} with include_top=True need classes={entry['classes']}; "
            f"received classes={classes}. Use include_top=False for a new classifier."
        )


def file_spec(entry: dict, include_top: bool) -> dict:
    """The file to fetch for an entry: its headless file where one is published and the
    classifier is not wanted (smaller download), else the full one."""
    return entry["notop"] if not include_top and "notop" in entry else entry["file"]
