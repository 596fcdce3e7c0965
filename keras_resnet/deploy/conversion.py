"""Convert a published weights file (keras.applications .h5, torchvision/timm .safetensors or
.pth, Idelbayev's CIFAR .th) into a keras_resnet weights file (`keras-resnet convert`)."""

from __future__ import annotations

import os
from pathlib import Path

from keras_resnet.core.keras_internals import unallocated
from keras_resnet.core.names import CLASSIFIER
from keras_resnet.models.builder import build_by_id
from keras_resnet.pretrained import formats
from keras_resnet.pretrained.download import sha256
from keras_resnet.pretrained.loading import assign, matched, save_weights


def convert_file(
    source: str | os.PathLike, output: str | os.PathLike, model: str, *, variant: str | None = None, **build_kwargs
) -> str:
    """Build `model` (e.g. "resnet50", "cifar_resnet20"), load `source` into it, all layers
    checked, and write `output` atomically. Returns the output file's SHA-256.

    The source's declared layout is read first: it chooses include_top and classes, and is
    checked against the model built without memory (`core.keras_internals.unallocated`), so a file of
    kilobytes cannot build a gigabyte layer; only then is data read. `output` replaces only an
    earlier keras_resnet weights file; a missing directory is made (`loading.save_weights`).

    `variant` defaults to the source's (`formats.OpenedWeights.variant`): v1 for keras.applications
    (the paper's), v1.5 for torchvision and timm (identical for basic-block nets).
    `build_kwargs` go to the builder (shortcut, classes, include_top); a headless source
    converts with include_top=False.
    """
    with formats.open_weights(source) as opened:  # the layout first: it chooses the model built
        weights = opened.layers
        build_kwargs = {k: v for k, v in build_kwargs.items() if v is not None}
        top = weights.get(CLASSIFIER, [])
        build_kwargs.setdefault("include_top", bool(top))
        if build_kwargs["include_top"] and "classes" not in build_kwargs and len(top) == 2 and len(top[1].shape) == 1:
            build_kwargs["classes"] = top[1].shape[0]  # else the builder's default, and `assign` names the misfit
        variant = variant or opened.variant or "v1"
        with unallocated():  # shapes only: `classes` from a file must not build a huge layer
            matched(build_by_id(model, variant=variant, **build_kwargs), weights, str(source))
        keras_model = build_by_id(model, variant=variant, **build_kwargs)
        assign(keras_model, weights, source=str(source))
    save_weights(keras_model, Path(output))
    return sha256(output)
