"""Deployment formats: TensorFlow SavedModel, ONNX (tf2onnx, run in onnxruntime) and TFLite,
each verified against the Keras model before it is kept (`artefacts.build_verified`); int8
files go through `quantize`, held to an accuracy budget instead of a tolerance."""

from __future__ import annotations

import os

import numpy as np

from keras_resnet.core.arguments import check_choice
from keras_resnet.deploy.artefacts import (
    EXPORT_FORMATS,
    MAX_ACCURACY_DROP,
    MIN_AGREEMENT,
    RUNTIMES,
    TOLERANCE,
    Images,
    build_verified,
    check_backend,
    model_images,
)
from keras_resnet.deploy.quantize import quantize_model


def export_model(model, path: str | os.PathLike, format: str, images: Images | np.ndarray, *,
                 tolerance: float = TOLERANCE, quantize: str | None = None,
                 calibration: Images | np.ndarray | None = None, labels: np.ndarray | None = None,
                 max_accuracy_drop: float = MAX_ACCURACY_DROP, min_agreement: float = MIN_AGREEMENT) -> dict:
    """Write `model` to `path` in `format`, verified on `images` (N x H x W x C, what the
    model takes: an array, or `artefacts.Images`, such as `verification_images` gives, read a
    batch at a time); returns the check: images, max_abs_diff, top1_agreement. Raises ValueError
    (and writes nothing) if the exported model's outputs differ by more than `tolerance`
    or it ranks any image's top class differently. `quantize="int8"` (tflite, onnx) writes a
    full-integer model calibrated on `calibration`, held to an accuracy budget instead
    (keras_resnet.deploy.quantize.quantize_model; `tolerance` does not apply)."""
    check_backend(format)
    if quantize is not None:
        return quantize_model(model, path, format, images, quantize=quantize, calibration=calibration,
                              labels=labels, max_accuracy_drop=max_accuracy_drop, min_agreement=min_agreement)
    check_choice("format", format, EXPORT_FORMATS)
    if not (isinstance(tolerance, (int, float)) and tolerance >= 0):
        raise ValueError(f"`tolerance` must be a number >= 0; received tolerance={tolerance!r}.")
    images = model_images(model, images, "images")
    runtime = RUNTIMES[format]

    def verify(got: np.ndarray, expected: np.ndarray) -> dict:
        check = {
            "format": format,
            "path": str(path),
            "images": len(images),
            "max_abs_diff": float(np.max(np.abs(got - expected))),
            "top1_agreement": float(np.mean(np.argmax(got, -1) == np.argmax(expected, -1))),
        }
        if check["max_abs_diff"] > tolerance or check["top1_agreement"] < 1:
            raise ValueError(
                f"the {format} export differs from the Keras model on {len(images)} images: max abs "
                f"difference {check['max_abs_diff']:.3g} (tolerance {tolerance:g}), top-1 agreement "
                f"{check['top1_agreement']:.1%}; nothing was written to {str(path)!r}."
            )
        return check

    return build_verified(model, path, format, images, runtime.write, verify)
