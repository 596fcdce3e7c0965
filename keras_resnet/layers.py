"""Parameter-free layers of the paper, written with keras.ops so they serialise and run on
every Keras backend (no `Lambda`, which `safe_mode=True` refuses to load); and the walk
over a model's layers that fine-tuning and training share."""

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


def all_layers(model: keras.Model):
    """Every layer of `model`, descending into nested models (e.g. a pretrained base under a
    new head), but not yielding the nested models themselves."""
    for layer in model.layers:
        yield from all_layers(layer) if isinstance(layer, keras.Model) else (layer,)
