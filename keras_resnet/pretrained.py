"""Pretrained weights: the registry in `weights/registry.json` and a layer-name-keyed HDF5
format that loads into a model with or without its classifier, all or nothing."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import h5py
import keras
import numpy as np

from keras_resnet.architectures import Architecture

TOP_LAYERS = ("predictions",)


def model_id(arch: Architecture, residual: bool) -> str:
    """Registry key of an architecture: resnet50, plainnet34, cifar_resnet20, ..."""
    family = "resnet" if residual else "plainnet"
    return f"{'cifar_' if arch.stem == 'cifar' else ''}{family}{arch.depth}"


def weights_dir() -> Path:
    """`weights/` is installed inside the package; in a source checkout it sits beside it."""
    installed = Path(__file__).parent / "weights"
    return installed if installed.is_dir() else Path(__file__).parent.parent / "weights"


@cache
def registry() -> tuple[dict, ...]:
    with open(weights_dir() / "registry.json", encoding="utf-8") as f:
        return tuple(json.load(f)["entries"])


def resolve(weights, model: str, *, variant: str, shortcut: str | None) -> dict | Path | None:
    """What `weights=` names: None, a registry entry for `model`, or a local file."""
    if weights is None:
        return None
    names = sorted({e["weights"] for e in registry()})
    if isinstance(weights, str) and weights in names:
        matches = [e for e in registry() if e["weights"] == weights and e["model"] == model]
        if not matches:
            have = sorted(e["model"] for e in registry() if e["weights"] == weights)
            raise ValueError(f"weights={weights!r} exist for {have}, not for {model!r}.")
        entry = matches[0]
        if (entry["variant"], entry["shortcut"]) != (variant, shortcut):
            raise ValueError(
                f"weights={weights!r} for {model} need variant={entry['variant']!r} and "
                f"shortcut={entry['shortcut']!r}; received variant={variant!r}, shortcut={shortcut!r}."
            )
        return entry
    if isinstance(weights, (str, os.PathLike)) and Path(weights).is_file():
        return Path(weights)
    raise ValueError(
        f"`weights` must be None, a registry name ({', '.join(names) or 'none yet'}) or the path "
        f"to an existing weights file; received weights={weights!r}."
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


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load(model: keras.Model, source: dict | Path, *, skip_top: bool = False) -> None:
    """Load a registry entry (its file verified against the registry hash first) or a file."""
    if isinstance(source, dict):
        path = weights_dir() / source["file"]
        actual = sha256(path)
        if actual != source["sha256"]:
            raise ValueError(
                f"{path} does not match the registry (sha256 {actual}, expected {source['sha256']}): "
                "the installed weights file is damaged; reinstall keras-resnet."
            )
    else:
        path = source
    load_weights(model, path, skip=TOP_LAYERS if skip_top else ())


def save_weights(model: keras.Model, path: str | os.PathLike) -> None:
    """Write `/<layer name>/<i>` datasets (in `layer.weights` order); atomically, so an
    interrupted write never leaves a file that passes for complete."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            for layer in model.layers:
                if layer.weights:
                    group = f.create_group(layer.name)
                    for i, w in enumerate(layer.weights):
                        # no timestamps: the same weights give the same bytes (and hash)
                        group.create_dataset(str(i), data=keras.ops.convert_to_numpy(w), track_times=False)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide installed weights from other users
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_weights(model: keras.Model, path: str | os.PathLike, skip: Iterable[str] = ()) -> None:
    """Load a file written by `save_weights` by layer name, all or nothing."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path} is not a readable HDF5 weights file ({e}).") from None
    with f:
        arrays = {name: [np.asarray(group[str(i)]) for i in range(len(group))] for name, group in f.items()}
    assign(model, arrays, source=str(path), skip=skip)


def assign(model: keras.Model, arrays: dict[str, list[np.ndarray]], source: str, skip: Iterable[str] = ()) -> None:
    """Set each layer's weights from `arrays[layer.name]` (in `layer.weights` order). Every
    layer is checked before any is assigned: a wrong source raises, naming the first
    mismatched layer, and leaves the model as it was."""
    skip = set(skip)
    updates = []
    for layer in model.layers:
        if not layer.weights or layer.name in skip:
            continue
        if layer.name not in arrays:
            raise ValueError(f"{source} has no weights for layer {layer.name!r} of model {model.name!r}.")
        values = arrays[layer.name]
        if len(values) != len(layer.weights):
            raise ValueError(
                f"{source}: layer {layer.name!r} has {len(values)} weights there, {len(layer.weights)} in the model."
            )
        for variable, value in zip(layer.weights, values):
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"{source}: weight {variable.path!r} has shape {tuple(value.shape)} there, "
                    f"{tuple(variable.shape)} in the model (another architecture or variant?)."
                )
            updates.append((variable, value))
    for variable, value in updates:
        variable.assign(value)
