"""Post-training full-integer (int8) quantization for TFLite and ONNX, verified to a stated budget.

BatchNorm is folded into the convolutions first (folding.py), so each conv is one int8 op with
an int32 bias. Weights are quantized per output channel; activation ranges are calibrated on
images the user gives (training images: never those the export is verified on). The int8
artefact is then run in its own runtime on the verification images and kept only if its top-1
accuracy is within `max_accuracy_drop` points of the Keras model's (with labels) and its top-1
agrees with the Keras model's on at least `min_agreement` of them: a wrong calibration
(another preprocessing, say) fails loudly instead of shipping a model that guesses.

- TFLite: TensorFlow's converter with a representative dataset and int8 builtin ops only, so
  every op runs in int8; input and output stay float32, so the file is a drop-in for the float
  export (same 0-255 images in, probabilities out), at the cost of one quantize op at the input.
- ONNX: the float tf2onnx export, then onnxruntime's static quantization in QDQ format,
  weights int8 (signed, symmetric) and activations uint8: x86's int8 dot product (VNNI's
  VPDPBUSD, and AVX2's VPMADDUBSW without it) multiplies unsigned by signed bytes, the layout
  onnxruntime recommends for x86; with int8 activations its CPU kernels were slower than float
  (ResNet-20, batch 1: 1.29 vs 0.87 ms), with uint8 faster (0.46 ms).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from keras_resnet.core.arguments import display_path
from keras_resnet.data.cifar10 import load_cifar10
from keras_resnet.data.image_folders import IMAGE_SUFFIXES, list_images
from keras_resnet.deploy.artefacts import (
    MAX_ACCURACY_DROP,
    MIN_AGREEMENT,
    Images,
    OnnxRuntime,
    TFLiteRuntime,
    build_verified,
    check_backend,
    check_count,
    check_quantize,
    image_files,
    model_images,
    verification_images,
)

CALIBRATION_COUNT = 256  # images whose activation ranges set the scales: TensorFlow's guide asks a few hundred


def quantize_model(model, path: str | os.PathLike, format: str, images: Images | np.ndarray, *,
                   quantize: str = "int8", calibration: Images | np.ndarray, labels: np.ndarray | None = None,
                   max_accuracy_drop: float = MAX_ACCURACY_DROP, min_agreement: float = MIN_AGREEMENT) -> dict:
    """Write `model`, BN folded, as a full-integer `format` file at `path`, calibrated on
    `calibration` and verified on `images` (arrays or `Images`, each read a batch at a time;
    with integer `labels`, if given: accuracy too). Returns the check: images,
    calibration_images, keras_accuracy and int8_accuracy (None without labels), accuracy_drop
    (points), top1_agreement, float_bytes and int8_bytes (the float export of the same model,
    and this one). Raises ValueError, writing nothing, when the budget is missed (giving both
    accuracies and the agreement) or on bad input."""
    check_backend(format)
    check_quantize(quantize, format)
    if not (isinstance(max_accuracy_drop, (int, float)) and 0 <= max_accuracy_drop <= 100):
        raise ValueError(f"`max_accuracy_drop` must be a number of percentage points in [0, 100]; received "
                         f"max_accuracy_drop={max_accuracy_drop!r}.")
    if not (isinstance(min_agreement, (int, float)) and 0 <= min_agreement <= 1):
        raise ValueError(f"`min_agreement` must be a share in [0, 1]; received min_agreement={min_agreement!r}.")
    if calibration is None or len(calibration) == 0:
        raise ValueError("`calibration` must be a non-empty batch of images (training images, preprocessed as "
                         "the verification images are) to set the int8 ranges; received none.")
    calibration = model_images(model, calibration, "calibration")
    images = model_images(model, images, "images")
    labels = _check_labels(labels, images, model.output_shape[-1])
    shared = len(_digests(calibration) & _digests(images))
    if shared:
        raise ValueError(f"{shared} of the {len(images)} verification `images` are also `calibration` images: "
                         "calibrate on training images and verify on others, or the accuracy shown is not one "
                         "the model has on new images.")
    sizes = {}

    def write(model, artefact: Path, work: Path) -> None:
        from keras_resnet.deploy.folding import fold_batchnorm  # imports Keras: not while the command line checks

        _WRITERS[format](fold_batchnorm(model), artefact, work, calibration)
        sizes.update(float_bytes=(work / f"float.{format}").stat().st_size, int8_bytes=artefact.stat().st_size)

    def verify(got: np.ndarray, expected: np.ndarray) -> dict:
        agreement = float(np.mean(np.argmax(got, -1) == np.argmax(expected, -1)))
        keras_accuracy = int8_accuracy = drop = None
        if labels is not None:
            keras_accuracy = float(np.mean(np.argmax(expected, -1) == labels))
            int8_accuracy = float(np.mean(np.argmax(got, -1) == labels))
            drop = 100 * (keras_accuracy - int8_accuracy)
        check = {"format": format, "path": str(path), "quantize": quantize, "images": len(images),
                 "calibration_images": len(calibration), "keras_accuracy": keras_accuracy,
                 "int8_accuracy": int8_accuracy, "accuracy_drop": drop, "top1_agreement": agreement, **sizes}
        if agreement < min_agreement or drop is not None and drop > max_accuracy_drop:
            accuracies = (f"top-1 accuracy Keras {keras_accuracy:.2%}, int8 {int8_accuracy:.2%} (drop {drop:.2f} "
                          f"points, budget {max_accuracy_drop:g}), " if labels is not None else "")
            raise ValueError(
                f"the int8 {format} export misses its budget on {len(images)} images: {accuracies}top-1 "
                f"agreement with Keras {agreement:.1%} (minimum {min_agreement:.0%}); nothing was written to "
                f"{str(path)!r}. Calibrate on more images of the kind it will see, preprocessed as these are."
            )
        return check

    return build_verified(model, path, format, images, write, verify)


def _check_labels(labels, images: Images, classes: int) -> np.ndarray | None:
    if labels is None:
        return None
    labels = np.asarray(labels)
    if labels.shape != (len(images),) or labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= classes:
        raise ValueError(f"`labels` must be {len(images)} integers in [0, {classes}), one per image; received "
                         f"shape {labels.shape}, dtype {labels.dtype}.")
    return labels


def _digests(images: Images) -> set[bytes]:
    """A digest per image, a batch decoded at a time: 16 bytes an image are held, not the images."""
    return {hashlib.blake2b(image.tobytes(), digest_size=16).digest() for batch in images.batches() for image in batch}


def _tflite_int8(model, path: Path, work: Path, calibration: Images) -> None:
    import tensorflow as tf

    def full_integer(converter) -> None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([image[None]] for batch in calibration.batches() for image in batch)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]  # an op without int8 fails

    TFLiteRuntime.write(model, work / "float.tflite", work)
    TFLiteRuntime.write(model, path, work, configure=full_integer)


def _onnx_int8(model, path: Path, work: Path, calibration: Images) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self, name: str):
            self.batches = iter({name: batch} for batch in calibration.batches())

        def get_next(self):
            return next(self.batches, None)

    floating, prepared = work / "float.onnx", work / "prepared.onnx"
    OnnxRuntime.write(model, floating, work)
    # onnxruntime's recommended first step (shape inference, graph clean-up); its symbolic pass cannot type
    # the batch axis here, and plain ONNX shape inference is enough for a static-shaped CNN
    quant_pre_process(str(floating), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(path), Batches(OnnxRuntime.INPUT), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


_WRITERS = {"tflite": _tflite_int8, "onnx": _onnx_int8}


def calibration_images(source: str | os.PathLike, shape: tuple, count: int = CALIBRATION_COUNT,
                       seed: int = 0) -> Images:
    """`count` images drawn at random (seeded) to calibrate on: from the training batches
    (data_batch_*) of a CIFAR-10 directory, or from the JPEG/PNG files under a folder
    (resized to `shape`, H x W x C)."""
    check_count(count)
    source = Path(source)
    rng = np.random.default_rng(seed)
    if (source / "data_batch_1").is_file():
        images = load_cifar10(source, "train")[0]
        return Images.of(images[np.sort(rng.choice(len(images), min(count, len(images)), replace=False))])
    files = image_files(source)
    if not files:
        raise ValueError(f"`calibration` {display_path(source)} must be a CIFAR-10 directory (with data_batch_*) or "
                         f"a folder of {'/'.join(IMAGE_SUFFIXES)} images; it holds none.")
    chosen = [files[i] for i in np.sort(rng.choice(len(files), min(count, len(files)), replace=False))]
    return Images.files(chosen, shape)  # a file that is no image: a ValueError naming it, before any work


def labelled_images(source: str | os.PathLike, shape: tuple, count: int,
                    seed: int = 0) -> tuple[Images, np.ndarray | None]:
    """(images, labels) to verify an int8 export on: the first `count` of a CIFAR-10 test batch,
    or `count` drawn at random (seeded) from a folder of class folders (`DIR/<class>/*.jpg`,
    labelled by sorted class name, as training labels them); a folder of loose images gives
    images without labels (agreement is then checked, not accuracy)."""
    check_count(count)
    source = Path(source)
    if (source / "test_batch").is_file():
        images, labels = load_cifar10(source, "test")
        return Images.of(images[:count]), labels[:count]
    if not source.is_dir() or any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in source.iterdir()):
        return verification_images(source, shape, count), None
    paths, labels, _ = list_images(source)
    chosen = np.sort(np.random.default_rng(seed).choice(len(paths), min(count, len(paths)), replace=False))
    return Images.files([paths[i] for i in chosen], shape), labels[chosen]


def check_separate(calibration: str | os.PathLike, images: str | os.PathLike) -> None:
    """The folders calibrated and verified on hold different images: neither is inside the other,
    except one CIFAR-10 directory, which calibrates on its training and verifies on its test batches."""
    calibration, images = Path(calibration).resolve(), Path(images).resolve()
    cifar = calibration == images and (calibration / "data_batch_1").is_file() and (images / "test_batch").is_file()
    if not cifar and (calibration == images or calibration in images.parents or images in calibration.parents):
        raise ValueError(f"`calibration` {display_path(calibration)} and `images` {display_path(images)} overlap: "
                         "calibrate on training images and verify on others (e.g. DIR/train and DIR/val).")

