"""Layout, TensorFlow's fused BatchNormalization kernel, and the package's own layers.

Models the package builds are stock Keras layers only, so that a saved `.keras` file loads
with `safe_mode=True` wherever Keras is installed (no keras_resnet, no `Lambda`). The fused
BN kernel is attached to their stock BatchNormalization layers when the package builds or
loads a model (`use_fused_batchnorm`), which leaves the layers' class, and so the file, stock.
`ZeroPadShortcut` and `BatchNormalization` stay registered so that `.keras` files saved by
keras-resnet 0.1 (which wrote them) still load."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

import keras
from keras import ops

DEEPEST_LAYERS = 14 * 3 * 200  # CifarResNet(200), the paper's 1202-layer net: its layers, with room


def channel_axis() -> int:
    """The channel axis of 4-D image tensors under `keras.config.image_data_format()`."""
    return 1 if keras.config.image_data_format() == "channels_first" else -1


def use_fused_batchnorm(model: keras.Model) -> keras.Model:
    """Train `model`'s BatchNormalization layers (nested models' too) with TensorFlow's fused
    kernel; on other backends, a no-op. Returns `model`."""
    if keras.backend.backend() == "tensorflow":
        for layer in all_layers(model):
            if type(layer) is keras.layers.BatchNormalization:
                layer.call = types.MethodType(_fused_call, layer)
    return model


def _fused_call(self, inputs, training=None, mask=None):
    """keras' BatchNormalization (same weights, update rule and outputs up to round-off) in
    training, on TensorFlow's FusedBatchNormV3.

    Keras 3 computes training-mode BN as separate moment and element-wise ops (and their
    gradients); the fused kernel is one pass each way (BENCHMARKS.md: CifarResNet(3) and
    ResNet-50 training). Inference keeps keras' own per-channel affine: oneDNN's fused
    inference kernels are 10x slower at batch 1 on our CPUs. Masks, renorm, synchronised BN,
    inputs that are not 4-D channels-last, and GPUs (cuDNN refuses epsilon < 1.001e-5; XLA
    fuses there anyway) take keras' own path.
    """
    if not _fusable(self, inputs, training, mask):
        return keras.layers.BatchNormalization.call(self, inputs, training=training, mask=mask)
    import tensorflow as tf

    x = tf.cast(inputs, "float32")  # as keras: BN statistics in float32 under mixed precision
    channels = x.shape[-1]
    y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
        x=x,
        scale=self.gamma if self.scale else tf.ones([channels]),
        offset=self.beta if self.center else tf.zeros([channels]),
        mean=tf.zeros([0]),
        variance=tf.zeros([0]),
        epsilon=self.epsilon,
        data_format="NHWC",
        is_training=True,
    )
    # the kernel returns the unbiased batch variance; keras averages the biased one
    count = tf.cast(tf.size(x) // channels, "float32")
    variance = variance * (count - 1.0) / count
    self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
    self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
    return tf.cast(y, self.compute_dtype)


def _fusable(layer, inputs, training, mask) -> bool:
    if not (training and layer.trainable) or keras.backend.backend() != "tensorflow":
        return False
    if mask is not None or layer.renorm or layer.synchronized or len(inputs.shape) != 4 or layer.axis not in (-1, 3):
        return False
    import tensorflow as tf

    return not tf.config.list_logical_devices("GPU")


@keras.saving.register_keras_serializable(package="keras_resnet")
class BatchNormalization(keras.layers.BatchNormalization):
    """keras' BatchNormalization trained with TensorFlow's fused kernel (`_fused_call`), as a
    class: for `.keras` files saved by keras-resnet 0.1, and for users' own models. The
    package's models use stock layers with `use_fused_batchnorm` instead."""

    call = _fused_call


@keras.saving.register_keras_serializable(package="keras_resnet")
class ZeroPadShortcut(keras.layers.Layer):
    """Option A shortcut as one layer: identity subsampled by `stride`, new channels filled
    with zeros (split evenly before and after), channels last. The builder writes the same
    computation in stock layers (`blocks.zero_pad_channels`); this class loads `.keras` files
    saved by keras-resnet 0.1."""

    def __init__(self, channels: int, stride: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.stride = int(stride)

    def call(self, inputs):
        x = inputs[:, :: self.stride, :: self.stride, :] if self.stride > 1 else inputs
        extra = self.channels - x.shape[-1]
        before = extra // 2
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [before, extra - before]])

    def compute_output_shape(self, input_shape):
        def sub(size):
            return None if size is None else -(-size // self.stride)

        return (input_shape[0], sub(input_shape[1]), sub(input_shape[2]), self.channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "channels": self.channels, "stride": self.stride}


@contextmanager
def graph_depth(layers_count: int = DEEPEST_LAYERS) -> Iterator[None]:
    """Keras walks functional graphs recursively (building, cloning, `load_model`): the
    1202-layer net (4,210 layers) needs more than Python's default stack depth of 1,000.
    Raised while the package builds, clones, saves or loads a model, then put back; a user
    loading such a file with Keras alone raises it the same way (README)."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, 2 * layers_count + 1000))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def all_layers(model: keras.Model):
    """Every layer of `model`, descending into nested models (e.g. a pretrained base under a
    new head), but not yielding the nested models themselves."""
    for layer in model.layers:
        yield from all_layers(layer) if isinstance(layer, keras.Model) else (layer,)
