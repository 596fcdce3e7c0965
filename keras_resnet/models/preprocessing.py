"""Inputs as the pretrained weights expect them, and their class names.

`preprocess_input` gives keras.applications' modes ("caffe": BGR minus the ImageNet mean,
the paper authors' weights; "torch": [0, 1] then ImageNet mean/std, torchvision's and the
CIFAR-10 checkpoints'; "tf": [-1, 1]); the layers bake the same into a model
(`include_preprocessing=True`) so that raw RGB images in 0-255 go straight in.
"""

from __future__ import annotations

import json
from functools import cache

import keras
import numpy as np

from keras_resnet.arguments import check_choice, check_top
from keras_resnet.data.cifar10 import CIFAR10_CLASSES
from keras_resnet.data.image_folders import CROP, EVAL_SIZE
from keras_resnet.pretrained.download import weights_dir

MODES = ("caffe", "torch", "tf")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
CLASS_NAMES = ("imagenet", "cifar10")
CROP_FRACTION = CROP / EVAL_SIZE  # 224 of 256: the paper's and torchvision's evaluation crop


def _normalise(x, mode: str, xp, const):
    """One formula for numpy (`xp=np`) and backend tensors (`xp=keras.ops`), in the same
    operation order as keras.applications, so float32 results are bit-identical."""
    if mode == "caffe":
        return xp.subtract(xp.flip(x, axis=-1), const(CAFFE_MEAN_BGR))
    if mode == "torch":
        return xp.divide(xp.subtract(xp.divide(x, const(255.0)), const(IMAGENET_MEAN)), const(IMAGENET_STD))
    return xp.subtract(xp.divide(x, const(127.5)), const(1.0))


def preprocess_input(x, mode: str = "caffe"):
    """RGB images in 0-255 (channels last; numpy array or tensor) normalised for `mode`.
    Integer inputs become float32; the input is never modified in place.

    Input it cannot normalise is refused, as it would give confident, wrong predictions: a
    shape other than one image or a batch of 3-channel images, a dtype other than numbers,
    and values outside [0, 255] (one min/max pass). A graph tensor (tf.data, a model being
    built) has no values yet: it gets the shape and dtype checks only."""
    check_choice("mode", mode, MODES)
    if isinstance(x, (np.ndarray, list, tuple)):
        try:
            x = np.asarray(x)
        except ValueError as e:  # a list of images of different sizes
            raise ValueError(f"`x` must be images of one size, stacked; {e}") from None
        _check_images(x.shape, x.dtype.kind in "iuf", x.dtype)
        if x.size and x.dtype != np.uint8:
            _check_values(x.min(), x.max())
        x = x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)
        return _normalise(x, mode, np, lambda v: np.asarray(v, x.dtype))
    x = keras.ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    _check_images(x.shape, dtype.startswith(("int", "uint", "float", "bfloat")), dtype)
    if dtype != "uint8" and not _symbolic(x) and 0 not in x.shape:
        extremes = keras.ops.stack([keras.ops.min(x), keras.ops.max(x)])
        # float64: numpy has no bfloat16, and float64 holds every value of the other dtypes
        _check_values(*keras.ops.convert_to_numpy(keras.ops.cast(extremes, "float64")))
    if "float" not in dtype:
        x = keras.ops.cast(x, "float32")
    return _normalise(x, mode, keras.ops, lambda v: keras.ops.convert_to_tensor(v, x.dtype))


def _check_images(shape: tuple, numeric: bool, dtype: object) -> None:
    """One image (height, width, 3) or a batch; a graph tensor's unknown rank or sizes pass."""
    if getattr(shape, "rank", 0) is not None and (len(shape) not in (3, 4) or shape[-1] not in (3, None)):
        raise ValueError(
            "`x` must be RGB images, channels last: one image (height, width, 3) or a batch "
            f"(samples, height, width, 3); received x of shape {tuple(shape)}."
        )
    if not numeric:
        raise ValueError(f"`x` must hold integer or float pixel values; received x of dtype {dtype}.")


def _check_values(low: float, high: float) -> None:
    """NaN makes min and max NaN, so both tests see it."""
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError("`x` must be finite RGB values in [0, 255]; received NaN or infinite values.")
    if low < 0 or high > 255:
        raise ValueError(
            f"`x` must be raw RGB values in [0, 255]; received values in [{float(low):g}, {float(high):g}]. "
            "A common cause is input already normalised (by preprocess_input, or to [-1, 1])."
        )


def _symbolic(x: object) -> bool:
    """A tensor without values yet: a model being built, or a tf.function / tf.data graph."""
    if keras.backend.is_keras_tensor(x):
        return True
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.is_symbolic_tensor(x)
    return False


def _check_batch(images, channels: int | None, layer: str) -> None:
    """Refuse what a preprocessing layer would silently broadcast or misread: Keras' own input
    check squeezes a last axis of 1, so a grayscale batch passes it, and the normalisation
    would broadcast it to three channels. `channels=None`: any number. An unknown rank (a
    relaxed tf.function trace) cannot be checked here."""
    shape = images.shape
    rank = len(shape) if isinstance(shape, tuple) else shape.rank
    if rank is not None and (rank != 4 or None not in (channels, shape[-1]) and channels != shape[-1]):
        hint = " One image needs a batch axis: images[None]." if rank == 3 else ""
        expected = "channels" if channels is None else channels
        raise ValueError(
            f"Layer {layer!r} takes a batch of images, shape (samples, height, width, {expected}), "
            f"channels last; received shape {tuple(shape)}.{hint}"
        )


@keras.saving.register_keras_serializable(package="keras_resnet")
class ImageNormalization(keras.layers.Layer):
    """`preprocess_input(x, mode)` as a layer (no weights)."""

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        check_choice("mode", mode, MODES)
        self.mode = mode

    def call(self, images):
        _check_batch(images, 3, self.name)
        images = keras.ops.cast(images, self.compute_dtype)
        return _normalise(images, self.mode, keras.ops, lambda v: keras.ops.convert_to_tensor(v, self.compute_dtype))

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="keras_resnet")
class CentreCrop(keras.layers.Layer):
    """ImageNet evaluation crop for images of any size: the central square of side
    `crop_fraction` x the shorter side, resized to `size` x `size`; the same region as
    torchvision's Resize(size / crop_fraction) + CenterCrop(size)."""

    def __init__(self, size: int = CROP, crop_fraction: float = CROP_FRACTION, interpolation: str = "bilinear",
                 **kwargs):
        super().__init__(**kwargs)
        if not 0 < crop_fraction <= 1:
            raise ValueError(f"`crop_fraction` must be in (0, 1]; received crop_fraction={crop_fraction!r}.")
        self.size, self.crop_fraction, self.interpolation = size, crop_fraction, interpolation
        self.channels = None

    def build(self, input_shape):
        self.channels = input_shape[-1]  # images of another depth are another model's input

    def call(self, images):
        _check_batch(images, self.channels, self.name)
        shape = keras.ops.shape(images)
        height, width = shape[1], shape[2]
        side = keras.ops.cast(
            keras.ops.floor(keras.ops.cast(keras.ops.minimum(height, width), "float32") * self.crop_fraction), "int32"
        )
        top, left = (height - side) // 2, (width - side) // 2
        crop = images[:, top : top + side, left : left + side, :]
        return keras.ops.image.resize(
            keras.ops.cast(crop, self.compute_dtype), (self.size, self.size), interpolation=self.interpolation,
            antialias=True,
        )

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, input_shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "crop_fraction": self.crop_fraction,
                "interpolation": self.interpolation}


@keras.saving.register_keras_serializable(package="keras_resnet")
class PixelMean(keras.layers.Layer):
    """The paper's training normalisation: subtract the per-pixel mean image of the training
    set, then scale 0-255 to unit range. The mean is a weight (saved with the model, not in
    its config); images of another size (multi-scale testing) get it resized to theirs."""

    def __init__(self, mean_shape: tuple[int, int, int], mean: np.ndarray | None = None, **kwargs):
        super().__init__(**kwargs)
        self.mean_shape = tuple(int(d) for d in mean_shape)
        self._initial_mean = None if mean is None else np.asarray(mean, np.float32).reshape(self.mean_shape)

    def build(self, input_shape):
        initializer = "zeros" if self._initial_mean is None else keras.initializers.Constant(self._initial_mean)
        self.mean = self.add_weight(shape=self.mean_shape, initializer=initializer, trainable=False, name="mean")

    def call(self, images):
        _check_batch(images, self.mean_shape[2], self.name)
        images = keras.ops.cast(images, self.compute_dtype)
        mean = keras.ops.cast(self.mean, self.compute_dtype)
        size = tuple(images.shape[1:3])
        if size != self.mean_shape[:2]:
            if None in size:
                size = tuple(keras.ops.shape(images)[1:3])
            mean = keras.ops.image.resize(mean[None], size, interpolation="bilinear")[0]
        return (images - mean) / 255.0

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "mean_shape": self.mean_shape}


@cache
def class_names(dataset: str = "imagenet") -> tuple[tuple[str, str], ...]:
    """(class id, name) per output index: ImageNet WordNet ids from the bundled class index
    (never downloaded); CIFAR-10 names, whose id is the label."""
    check_choice("dataset", dataset, CLASS_NAMES)
    if dataset == "cifar10":
        return tuple((str(i), name) for i, name in enumerate(CIFAR10_CLASSES))
    with open(weights_dir() / "imagenet_class_index.json", encoding="utf-8") as f:
        index = json.load(f)
    return tuple(tuple(index[str(i)]) for i in range(len(index)))


def decode_predictions(preds, top: int = 5, dataset: str = "imagenet") -> list[list[tuple[str, str, float]]]:
    """keras.applications' format: per image, the `top` (class id, name, score), best first."""
    names = class_names(dataset)
    preds = np.asarray(keras.ops.convert_to_numpy(preds))
    if preds.ndim != 2 or preds.shape[1] != len(names):
        raise ValueError(
            f"`preds` must be a batch of {len(names)} {dataset} scores, shape (samples, {len(names)}); "
            f"received shape {preds.shape}."
        )
    check_top(top, len(names))
    return [[(*names[i], float(p[i])) for i in np.argsort(p)[::-1][:top]] for p in preds]
