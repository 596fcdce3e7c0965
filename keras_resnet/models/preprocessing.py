"""Inputs as the pretrained weights expect them, and their class names.

`preprocess_input` gives keras.applications' modes ("caffe": BGR minus the ImageNet mean,
the paper authors' weights; "torch": [0, 1] then ImageNet mean/std, torchvision's and the
CIFAR-10 checkpoints'; "tf": [-1, 1]); the layers bake the same into a model
(`include_preprocessing=True`) so that raw RGB images in 0-255 go straight in.
"""

from __future__ import annotations

import json
import math
import numbers
from functools import cache

import keras
import numpy as np

from keras_resnet.core import keras_internals
from keras_resnet.core.arguments import check_choice, check_top, is_integer
from keras_resnet.data.cifar10 import CIFAR10_CLASSES
from keras_resnet.data.image_folders import CROP, EVAL_SIZE, IMAGENET_MEAN, IMAGENET_STD, MAX_ASPECT
from keras_resnet.models.layers import channel_axis
from keras_resnet.pretrained.download import weights_dir

MODES = ("caffe", "torch", "tf")
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
CLASS_NAMES = ("imagenet", "cifar10")
CROP_FRACTION = CROP / EVAL_SIZE  # 224 of 256: the paper's and torchvision's evaluation crop
# CentreCrop(resize_first=True) resizes the whole image before cropping: its shorter side to at most this
# (timm's ResNets evaluate at 416 at most), its longer to 4x that, 48 MiB of float32 RGB, beside what a
# `.keras` file's activations are counted (`formats.ACTIVATION_BUDGET`), which cannot see inside the layer
MAX_RESIZED_SIDE = 1024


DATA_FORMATS = ("channels_last", "channels_first")


def _normalise(x, mode: str, xp, const, axis: int):
    """One formula for numpy (`xp=np`) and backend tensors (`xp=keras.ops`), in the same
    operation order as keras.applications, so float32 results are bit-identical. `axis`: the
    channel axis, counted from the end (-1 channels last; -3 channels first)."""
    def per_channel(values):
        return xp.reshape(const(values), (3,) + (1,) * (-axis - 1))

    if mode == "caffe":
        return xp.subtract(xp.flip(x, axis=axis), per_channel(CAFFE_MEAN_BGR))
    if mode == "torch":
        return xp.divide(xp.subtract(xp.divide(x, const(255.0)), per_channel(IMAGENET_MEAN)),
                         per_channel(IMAGENET_STD))
    return xp.subtract(xp.divide(x, const(127.5)), const(1.0))


def _data_format(data_format: str | None) -> str:
    if data_format is None:
        return keras.config.image_data_format()
    check_choice("data_format", data_format, DATA_FORMATS)
    return data_format


def _layer_axis(data_format: str) -> int:
    return -3 if data_format == "channels_first" else -1


def preprocess_input(x, mode: str = "caffe", data_format: str | None = None):
    """RGB images in 0-255 (numpy array or tensor) normalised for `mode`, as keras.applications'
    `preprocess_input`: channels last or first as `data_format` (None: keras.config's).
    Integer inputs become float32; the input is never modified in place.

    Input it cannot normalise is refused, as it would give confident, wrong predictions: a
    shape other than one image or a batch of 3-channel images, a dtype other than numbers,
    and values outside [0, 255] (one min/max pass). A graph tensor (tf.data, a model being
    built) has no values yet: it gets the shape and dtype checks only."""
    check_choice("mode", mode, MODES)
    data_format = _data_format(data_format)
    axis = _layer_axis(data_format)
    if isinstance(x, (np.ndarray, list, tuple)):
        try:
            x = np.asarray(x)
        except ValueError as e:  # a list of images of different sizes
            raise ValueError(f"`x` must be images of one size, stacked; {e}") from None
        _check_images(x.shape, x.dtype.kind in "iuf", x.dtype, data_format)
        if x.size and x.dtype != np.uint8:
            _check_values(x.min(), x.max())
        x = x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)
        return _normalise(x, mode, np, lambda v: np.asarray(v, x.dtype), axis)
    x = keras.ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    _check_images(x.shape, dtype.startswith(("int", "uint", "float", "bfloat")), dtype, data_format)
    if dtype != "uint8" and not _symbolic(x) and 0 not in x.shape:
        extremes = keras.ops.convert_to_numpy(keras.ops.stack([keras.ops.min(x), keras.ops.max(x)]))
        # in numpy, float64 (JAX has none without x64): it holds every value of the other dtypes
        _check_values(*np.asarray(extremes).astype(np.float64))
    if "float" not in dtype:
        x = keras.ops.cast(x, "float32")
    return _normalise(x, mode, keras.ops, lambda v: keras.ops.convert_to_tensor(v, x.dtype), axis)


def _check_images(shape: tuple, numeric: bool, dtype: object, data_format: str) -> None:
    """One image or a batch, 3 channels where `data_format` puts them; a graph tensor's
    unknown rank or sizes pass."""
    rank = shape.rank if hasattr(shape, "rank") else len(shape)
    if rank is not None and (rank not in (3, 4) or shape[_layer_axis(data_format)] not in (3, None)):
        first = data_format == "channels_first"
        image = "(3, height, width)" if first else "(height, width, 3)"
        batch = "(samples, 3, height, width)" if first else "(samples, height, width, 3)"
        raise ValueError(
            f"`x` must be RGB images, channels {'first' if first else 'last'}: one image {image} or a batch "
            f"{batch} (data_format={data_format!r}; None: keras.config.image_data_format()); received x of shape "
            f"{tuple(shape) if rank is not None else shape}."
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
    """A tensor without values yet: a model being built, a tf.function / tf.data graph, or a
    JAX trace."""
    if keras.backend.is_keras_tensor(x):
        return True
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.is_symbolic_tensor(x)
    if keras.backend.backend() == "jax":  # inside jax.jit (a compiled model, `predict`)
        import jax

        return isinstance(x, jax.core.Tracer)
    return False


def _check_batch(images, channels: int | None, layer: str, data_format: str) -> None:
    """Refuse what a preprocessing layer would silently broadcast or misread: Keras' own input
    check squeezes a last axis of 1, so a grayscale batch passes it, and the normalisation
    would broadcast it to three channels. `channels=None`: any number. An unknown rank (a
    relaxed tf.function trace) cannot be checked here."""
    shape = images.shape
    rank = len(shape) if isinstance(shape, tuple) else shape.rank
    axis = _layer_axis(data_format)
    if rank is not None and (rank != 4 or None not in (channels, shape[axis]) and channels != shape[axis]):
        hint = " One image needs a batch axis: images[None]." if rank == 3 else ""
        expected = "channels" if channels is None else channels
        layout = f"{expected}, height, width" if axis == -3 else f"height, width, {expected}"
        raise ValueError(
            f"Layer {layer!r} takes a batch of images, shape (samples, {layout}), {data_format}; "
            f"received shape {tuple(shape)}.{hint}"
        )


def normalize(x, mode: str, name: str, mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None):
    """`preprocess_input(x, mode)` in stock Keras layers (a `.keras` file with them loads with
    Keras alone): a per-channel `Normalization`, after the RGB to BGR flip for "caffe".
    The same values as `preprocess_input` up to float32 round-off (the "caffe" mode exactly).
    `mean` and `std` of [0, 1] values replace ImageNet's in the "torch" mode (a timm config's)."""
    if (mean is not None or std is not None) and mode != "torch":
        raise ValueError(f"`mean` and `std` apply to mode 'torch' (of [0, 1] values); received mode={mode!r}.")
    if mode == "caffe":
        x = _flip_channels(x, name)
        mean, std = CAFFE_MEAN_BGR, (1.0, 1.0, 1.0)
    elif mode == "torch":
        mean, std = tuple(255.0 * m for m in mean or IMAGENET_MEAN), tuple(255.0 * s for s in std or IMAGENET_STD)
    else:
        mean, std = (127.5,) * 3, (127.5,) * 3
    layer = keras.layers.Normalization(axis=channel_axis(), mean=mean, variance=[s * s for s in std], name=name)
    # Keras lets a batch with a last axis of 1 past a model's input check, and the normalisation
    # would broadcast it to 3 channels: refused here (an instance's spec; Keras alone loads without it)
    layer.input_spec = keras.layers.InputSpec(ndim=4, axes={channel_axis(): 3})
    return layer(x)


def _flip_channels(x, name: str):
    """RGB to BGR: each channel cropped out (Cropping2D crops the two axes after the batch,
    where channels first have them) and concatenated in reverse order."""
    last = channel_axis() == -1
    if last:
        x = keras.layers.Permute((3, 1, 2), name=f"{name}_to_channels_first")(x)
    channels = [
        keras.layers.Cropping2D(((c, 2 - c), (0, 0)), data_format="channels_last", name=f"{name}_channel{c}")(x)
        for c in (2, 1, 0)
    ]
    x = keras.layers.Concatenate(axis=1, name=f"{name}_bgr")(channels)
    return keras.layers.Permute((2, 3, 1), name=f"{name}_to_channels_last")(x) if last else x


@keras.saving.register_keras_serializable(package="keras_resnet")
class CentreCrop(keras.layers.Layer):
    """ImageNet evaluation crop for images of any size: the central square of side
    `crop_fraction` x the shorter side, resized to `size` x `size`; the same region as
    torchvision's Resize(size / crop_fraction) + CenterCrop(size), resampled from the crop alone.
    `resize_first=True` takes torchvision's and timm's order itself (`timm.data.create_transform`
    at evaluation): the image resized, aspect kept, so that its shorter side is
    floor(size / crop_fraction), then its central `size` x `size` pixels, offsets rounded as
    torchvision's CenterCrop rounds them; the two differ by the floor's rounding of the region
    (<= 1 pixel) and by resampling at the crop's edges. As it resizes whole images, it takes RGB
    ones only, to a shorter side of at most MAX_RESIZED_SIDE.

    The one layer of the package's models that is not stock Keras, so a model built with it
    (`include_preprocessing` on an ImageNet net) needs keras_resnet to load. Keras' own
    Resizing and CenterCrop could express it, but their `call(training=True)` default turns
    a plain `model(images)` into training mode for every BatchNormalization after them
    (Keras resolves an unset `training` from the first layer's default), which silently
    changes the outputs and the moving statistics."""

    def __init__(self, size: int = CROP, crop_fraction: float = CROP_FRACTION, interpolation: str = "bilinear",
                 data_format: str | None = None, resize_first: bool = False, **kwargs):
        super().__init__(**kwargs)
        if not is_integer(size) or size < 1:
            raise ValueError(f"`size` must be an integer >= 1 (the output's side in pixels); received size={size!r}.")
        if not (isinstance(crop_fraction, numbers.Real) and not isinstance(crop_fraction, bool)
                and 0 < crop_fraction <= 1):  # NaN fails the comparison
            raise ValueError(f"`crop_fraction` must be a number in (0, 1]; received crop_fraction={crop_fraction!r}.")
        check_choice("resize_first", resize_first, (False, True))
        if resize_first and math.floor(size / crop_fraction) > MAX_RESIZED_SIDE:
            raise ValueError(f"With resize_first=True the shorter side is first resized to floor(`size` / "
                             f"`crop_fraction`), at most {MAX_RESIZED_SIDE} pixels; received size={size!r} and "
                             f"crop_fraction={crop_fraction!r}: {math.floor(size / crop_fraction)}.")
        self.size, self.crop_fraction, self.interpolation = int(size), float(crop_fraction), interpolation
        self.resize_first = bool(resize_first)
        self.data_format = _data_format(data_format)
        self.channels = None

    def build(self, input_shape):
        self.channels = input_shape[_layer_axis(self.data_format)]  # images of another depth: another model's
        if self.resize_first and self.channels != 3:  # what it resizes whole is then bounded (MAX_RESIZED_SIDE)
            raise ValueError(f"Layer {self.name!r} (resize_first=True) takes RGB images, 3 channels; received input "
                             f"shape {tuple(input_shape)} ({self.data_format}).")
        spatial = input_shape[2:4] if self.data_format == "channels_first" else input_shape[1:3]
        if None not in spatial and not self.resize_first:
            self._check_crop(min(spatial))

    def _check_crop(self, shorter: int) -> None:
        """A crop that rounds down to 0 pixels leaves nothing to resize (the backends fail deep inside);
        `shorter` x `crop_fraction` in float32, as `call` computes it."""
        if int(np.float32(shorter) * np.float32(self.crop_fraction)) < 1:
            least = f"at least 1/{shorter} (= {1 / shorter:.3g}) for them" if shorter else "images of 1 pixel or more"
            raise ValueError(f"`crop_fraction` {self.crop_fraction!r} of layer {self.name!r} crops images whose "
                             f"shorter side is {shorter} pixels to 0 pixels; it needs {least}.")

    def call(self, images):
        _check_batch(images, self.channels, self.name, self.data_format)
        first = self.data_format == "channels_first"
        shape = keras.ops.shape(images)
        height, width = (shape[2], shape[3]) if first else (shape[1], shape[2])
        if self.resize_first:
            return self._resize_then_crop(images, height, width)
        side = keras.ops.cast(
            keras.ops.floor(keras.ops.cast(keras.ops.minimum(height, width), "float32") * self.crop_fraction), "int32"
        )
        if not _symbolic(side):  # sizes known only now (built for any size); in a compiled graph they are not
            self._check_crop(int(keras.ops.convert_to_numpy(keras.ops.minimum(height, width))))
        top, left = (height - side) // 2, (width - side) // 2
        return keras.ops.image.resize(
            keras.ops.cast(self._crop(images, top, left, side, side), self.compute_dtype), (self.size, self.size),
            interpolation=self.interpolation, antialias=True, data_format=self.data_format,
        )

    def _resize_then_crop(self, images, height, width):
        """torchvision's Resize(floor(size / crop_fraction)) (the longer side int(scale x longer /
        shorter), exactly, in integers) then CenterCrop(size) (offsets round((side - size) / 2),
        half to even as Python's round). A side longer than MAX_ASPECT shorter sides is first
        cropped about its centre to that, as `image_folders.resize_shorter` does (a panorama is
        2-4), so the resized image holds at most MAX_RESIZED_SIDE x 4 x that pixels whatever the
        input's shape. Sizes known now are Python ints (eager, JAX), else tensors."""
        scale = math.floor(self.size / self.crop_fraction)  # timm's scale_size, in Python's float64
        known = isinstance(height, int) and isinstance(width, int)
        shorter = min(height, width) if known else keras.ops.minimum(height, width)
        kept = [min(side, MAX_ASPECT * shorter) if known else keras.ops.minimum(side, MAX_ASPECT * shorter)
                for side in (height, width)]
        images = self._crop(images, (height - kept[0]) // 2, (width - kept[1]) // 2, *kept)
        resized_height, resized_width = (scale * kept[0]) // shorter, (scale * kept[1]) // shorter

        def offset(side):
            if known:
                return round((side - self.size) / 2)
            return keras.ops.cast(keras.ops.round(keras.ops.cast(side - self.size, "float32") / 2), "int32")

        resized = keras_internals.resize(keras.ops.cast(images, self.compute_dtype), (resized_height, resized_width),
                                         interpolation=self.interpolation, antialias=True, data_format=self.data_format)
        crop = self._crop(resized, offset(resized_height), offset(resized_width), self.size, self.size)
        if known or self.channels is None:
            return crop
        # in a graph, the crop's size too: TensorFlow cannot infer it from tensor offsets
        return keras.ops.reshape(crop, self.compute_output_shape((-1, self.channels, self.channels, self.channels)))

    def _crop(self, images, top, left, height, width):
        if self.data_format == "channels_first":
            return images[:, :, top : top + height, left : left + width]
        return images[:, top : top + height, left : left + width, :]

    def compute_output_shape(self, input_shape):
        if self.data_format == "channels_first":
            return (input_shape[0], input_shape[1], self.size, self.size)
        return (input_shape[0], self.size, self.size, input_shape[3])

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "crop_fraction": self.crop_fraction,
                "interpolation": self.interpolation, "data_format": self.data_format,
                "resize_first": self.resize_first}


def pixel_mean(mean: np.ndarray, name: str = "pixel_mean") -> keras.layers.Normalization:
    """The paper's training normalisation for images of the mean's size, as a stock layer:
    the per-pixel mean image of the training set subtracted, then 0-255 scaled to unit range.
    The mean is a (non-trainable) weight, saved with the model. For other sizes (multi-scale
    testing), `PixelMean`."""
    mean = np.asarray(mean, np.float32)
    layer = keras.layers.Normalization(axis=(1, 2, 3), name=name)
    layer.build((None, *mean.shape))
    layer.set_weights([mean, np.full(mean.shape, 255.0**2, np.float32), np.zeros((), "int64")])
    layer.finalize_state()
    axis = channel_axis()  # refuse what would broadcast, as `normalize`
    layer.input_spec = keras.layers.InputSpec(ndim=4, axes={axis: mean.shape[0 if axis == 1 else -1]})
    return layer


@keras.saving.register_keras_serializable(package="keras_resnet")
class PixelMean(keras.layers.Layer):
    """`pixel_mean` for images of any size: the mean image is resized to theirs (multi-scale
    testing). Without a stock equivalent (Keras' Normalization needs the mean's size), so a
    model with it needs keras_resnet to load; `train` builds with `pixel_mean`."""

    def __init__(self, mean_shape: tuple[int, int, int], mean: np.ndarray | None = None,
                 data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.mean_shape = tuple(int(d) for d in mean_shape)
        self.data_format = _data_format(data_format)
        self._initial_mean = None if mean is None else np.asarray(mean, np.float32).reshape(self.mean_shape)

    def build(self, input_shape):
        initializer = "zeros" if self._initial_mean is None else keras.initializers.Constant(self._initial_mean)
        self.mean = self.add_weight(shape=self.mean_shape, initializer=initializer, trainable=False, name="mean")

    def call(self, images):
        first = self.data_format == "channels_first"
        _check_batch(images, self.mean_shape[0 if first else 2], self.name, self.data_format)
        images = keras.ops.cast(images, self.compute_dtype)
        mean = keras.ops.cast(self.mean, self.compute_dtype)
        spatial = slice(2, 4) if first else slice(1, 3)
        size, mean_size = tuple(images.shape[spatial]), self.mean_shape[1:] if first else self.mean_shape[:2]
        if size != mean_size:
            if None in size:
                size = tuple(keras.ops.shape(images)[spatial])
            mean = keras.ops.image.resize(mean[None], size, interpolation="bilinear", data_format=self.data_format)[0]
        return (images - mean) / 255.0

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "mean_shape": self.mean_shape, "data_format": self.data_format}


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
    numeric = np.issubdtype(preds.dtype, np.number)
    finite = np.isfinite(preds).all(axis=1) if numeric else np.zeros(len(preds), bool)
    if not finite.all():  # argsort ranks NaN first: a made-up top class with score nan
        found = f"NaN or infinite values in sample(s) {np.flatnonzero(~finite)[:10].tolist()}" if numeric \
            else f"values of dtype {preds.dtype}"
        raise ValueError(f"`preds` must be finite numbers (a model's scores); received {found}.")
    check_top(top, len(names))
    return [[(*names[i], float(p[i])) for i in np.argsort(p)[::-1][:top]] for p in preds]
