"""The package's own layers, serialisable and runnable on every Keras backend (no `Lambda`,
which `safe_mode=True` refuses to load): the option-A shortcut, and BatchNormalization on
TensorFlow's fused kernel; and the walk over a model's layers that fine-tuning and training
share."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_resnet")
class ZeroPadShortcut(keras.layers.Layer):
    """Option A shortcut: identity subsampled by `stride`, new channels filled with zeros.

    Takes every `stride`-th pixel starting at 0 (where a padded 3x3 stride-2 conv centres its
    windows) and splits the extra channels evenly before and after, as in the reference
    CIFAR implementation, so that converted weights reproduce its outputs.
    """

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


@keras.saving.register_keras_serializable(package="keras_resnet")
class BatchNormalization(keras.layers.BatchNormalization):
    """keras' BatchNormalization (same weights, update rule and outputs up to round-off),
    trained with TensorFlow's fused kernel where it applies.

    Keras 3 computes training-mode BN as separate moment and element-wise ops (and their
    gradients); TensorFlow's FusedBatchNormV3 is one pass each way (BENCHMARKS.md: CifarResNet(3)
    and ResNet-50 training). Inference keeps keras' own per-channel affine: oneDNN's fused
    inference kernels are 10x slower at batch 1 on our CPUs. Other backends, masks, renorm,
    synchronised BN, inputs that are not 4-D channels-last, and GPUs (cuDNN refuses
    epsilon < 1.001e-5; XLA fuses there anyway) take keras' own path too.
    """

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
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

    def _fusable(self, inputs, training, mask) -> bool:
        if not (training and self.trainable) or keras.backend.backend() != "tensorflow":
            return False
        if mask is not None or self.renorm or self.synchronized or len(inputs.shape) != 4 or self.axis not in (-1, 3):
            return False
        import tensorflow as tf

        return not tf.config.list_logical_devices("GPU")


def all_layers(model: keras.Model):
    """Every layer of `model`, descending into nested models (e.g. a pretrained base under a
    new head), but not yielding the nested models themselves."""
    for layer in model.layers:
        yield from all_layers(layer) if isinstance(layer, keras.Model) else (layer,)
