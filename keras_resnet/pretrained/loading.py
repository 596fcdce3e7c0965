"""Weights into a model, all or nothing, from a file of any supported format (`formats`); our
own format is a layer-name-keyed HDF5 file written by `save_weights`."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import h5py
import keras
import numpy as np

from keras_resnet.core.atomic import check_replaceable, write_bytes
from keras_resnet.core.names import CONV, block_name
from keras_resnet.pretrained import formats


def save_weights(model: keras.Model, path: str | os.PathLike) -> None:
    """Write `/<layer name>/<i>` datasets (in `layer.weights` order); atomically, so an
    interrupted write never leaves a file that passes for complete, and only over an earlier
    keras_resnet weights file (never over a directory or another file of the user's)."""
    path = Path(path)
    check_replaceable(path, "keras_resnet weights file", formats.is_keras_resnet_file)
    # built in memory: on a full disk HDF5's own writes fail in its destructors (and crash);
    # Python's write below raises an OSError instead
    with h5py.File(path.name, "w", driver="core", backing_store=False) as f:
        variant = stride_placement(model)
        if variant is not None:  # read back by `formats.open_weights`, so the file builds its own network
            f.attrs[formats.VARIANT_ATTRIBUTE] = variant
        for layer in model.layers:
            if layer.weights:
                group = f.create_group(layer.name)
                for i, w in enumerate(layer.weights):
                    # no timestamps: the same weights give the same bytes (and hash)
                    group.create_dataset(str(i), data=keras.ops.convert_to_numpy(w), track_times=False)
        f.flush()
        image = f.id.get_file_image()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, image)


def stride_placement(model: keras.Model) -> str | None:
    """"v1" or "v1.5" for a bottleneck net (by where its conv3_x's first block strides), None
    for basic blocks (the same network either way) and models not built by keras_resnet."""
    layers = {layer.name: layer for layer in model.layers}
    first, last = (f"{block_name(3, 1)}_{i}{CONV}" for i in (1, 3))
    if last not in layers or first not in layers:
        return None
    return "v1" if tuple(layers[first].strides) == (2, 2) else "v1.5"


def load_weights(model: keras.Model, path: str | os.PathLike, skip: Iterable[str] = (), fmt: str | None = None) -> None:
    """Load a weights file of any supported format (detected unless `fmt` is given) by layer name."""
    with formats.open_weights(path, fmt) as opened:
        assign(model, opened.layers, source=str(path), skip=skip)


def matched(model: keras.Model, weights: Mapping[str, Sequence[formats.Weight]], source: str,
            skip: Iterable[str] = ()) -> list[tuple[keras.Variable, formats.Weight]]:
    """Each variable of `model` (but `skip`'s layers) with its weight in `weights`, by layer
    name and order, checked by declared shape only (no data is read): a source with a missing,
    extra or misshapen layer raises naming the first offender."""
    skip = set(skip)
    layers = [layer for layer in model.layers if layer.weights and layer.name not in skip]
    pairs = []
    for layer in layers:
        if layer.name not in weights:
            raise ValueError(f"{source} has no weights for layer {layer.name!r} of model {model.name!r}.")
        values = weights[layer.name]
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
            pairs.append((variable, value))
    extra = sorted(set(weights) - skip - {layer.name for layer in layers})
    if extra:
        raise ValueError(
            f"{source} has weights for {len(extra)} layers that model {model.name!r} lacks ({', '.join(extra[:4])}"
            f"{', ...' if len(extra) > 4 else ''}): a file of a deeper or another network."
        )
    return pairs


def assign(model: keras.Model, weights: Mapping[str, Sequence[formats.Weight]], source: str,
           skip: Iterable[str] = ()) -> None:
    """Set each layer's weights from `weights[layer.name]` (in `layer.weights` order), all or
    nothing: every shape is checked (`matched`) before any data is read (a file of kilobytes
    may declare gigabytes), and every value, after casting to the variable's dtype (float64
    1e39 is inf in float32), before any is assigned; a value that is not finite (a damaged
    file, a run that diverged) or a negative BN variance raises naming it, and the model stays
    as it was."""
    updates = []
    for variable, weight in matched(model, weights, source, skip):
        with np.errstate(over="ignore"):  # an overflow in the cast is what the check below reports
            value = np.asarray(weight.read(), dtype=variable.dtype)
        if not np.isfinite(value).all():
            raise ValueError(
                f"{source}: weight {variable.path!r} holds {np.size(value) - np.isfinite(value).sum()} NaN or "
                f"infinite values; refused (a damaged file, saved from a run that diverged, or values beyond "
                f"{variable.dtype}'s range)."
            )
        if variable.path.endswith("moving_variance") and (value < 0).any():  # its square root gives NaN
            raise ValueError(
                f"{source}: weight {variable.path!r} holds {int((value < 0).sum())} negative variances; refused "
                "(a BatchNormalization variance is >= 0, and a negative one makes the outputs NaN)."
            )
        updates.append((variable, value))
    for variable, value in updates:
        variable.assign(value)
