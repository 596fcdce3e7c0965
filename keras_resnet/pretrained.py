"""Load pretrained weights into a model: a registry entry (fetched and verified by
`download`) or a local file of any supported format (`formats`), all or nothing. Our own
format is a layer-name-keyed HDF5 file written by `save_weights`."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import h5py
import keras
import numpy as np

from keras_resnet import download, formats
from keras_resnet.atomic import replacing
from keras_resnet.registry import file_spec

TOP_LAYERS = ("predictions",)


def load(model: keras.Model, source: dict | Path, *, include_top: bool = True) -> None:
    """Load a registry entry (its published file fetched and hash-checked) or a local file."""
    skip = () if include_top else TOP_LAYERS
    if isinstance(source, dict):
        path = download.fetch(file_spec(source, include_top))
        load_weights(model, path, skip=skip, fmt=source["format"])
    else:
        load_weights(model, source, skip=skip)


def save_weights(model: keras.Model, path: str | os.PathLike) -> None:
    """Write `/<layer name>/<i>` datasets (in `layer.weights` order); atomically, so an
    interrupted write never leaves a file that passes for complete."""
    with replacing(path) as tmp, h5py.File(tmp, "w") as f:
        for layer in model.layers:
            if layer.weights:
                group = f.create_group(layer.name)
                for i, w in enumerate(layer.weights):
                    # no timestamps: the same weights give the same bytes (and hash)
                    group.create_dataset(str(i), data=keras.ops.convert_to_numpy(w), track_times=False)


def load_weights(model: keras.Model, path: str | os.PathLike, skip: Iterable[str] = (), fmt: str | None = None) -> None:
    """Load a weights file of any supported format (detected unless `fmt` is given) by layer name."""
    assign(model, formats.read_weights(path, fmt), source=str(path), skip=skip)


def assign(model: keras.Model, arrays: dict[str, list[np.ndarray]], source: str, skip: Iterable[str] = ()) -> None:
    """Set each layer's weights from `arrays[layer.name]` (in `layer.weights` order). Every
    layer is checked before any is assigned: a source with a missing, extra or misshapen
    layer, or a non-finite value (a damaged file, or a run that diverged), raises naming the
    first offender and leaves the model as it was."""
    skip = set(skip)
    layers = [layer for layer in model.layers if layer.weights and layer.name not in skip]
    updates = []
    for layer in layers:
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
            if not np.isfinite(value).all():
                raise ValueError(
                    f"{source}: weight {variable.path!r} holds {np.size(value) - np.isfinite(value).sum()} NaN or "
                    "infinite values; refused (a damaged file, or saved from a run that diverged)."
                )
            updates.append((variable, value))
    extra = sorted(set(arrays) - skip - {layer.name for layer in layers})
    if extra:
        raise ValueError(
            f"{source} has weights for {len(extra)} layers that model {model.name!r} lacks ({', '.join(extra[:4])}"
            f"{', ...' if len(extra) > 4 else ''}): a file of a deeper or another network."
        )
    for variable, value in updates:
        variable.assign(value)
