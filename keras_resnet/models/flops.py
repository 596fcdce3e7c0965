"""Multiply-adds of one forward pass, counted as the paper does: convolutions and dense
layers only (BN, ReLU, additions and pooling are left out)."""

from __future__ import annotations

import math

import keras

from keras_resnet.models.layers import all_layers


def count_flops(model: keras.Model) -> int:
    """Multiply-adds for one image. The model's input size must be fixed (not None)."""
    total = 0
    for layer in all_layers(model):
        if isinstance(layer, keras.layers.Dense):
            total += layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, keras.layers.Conv2D):  # Conv2D's subclasses too (e.g. depthwise)
            out = layer.output.shape
            spatial = out[1:-1] if layer.data_format == "channels_last" else out[2:]
            if any(d is None for d in spatial):
                raise ValueError(
                    f"count_flops needs a fixed input size; layer {layer.name!r} has output "
                    f"shape {out}. Build the model with e.g. input_shape=(224, 224, 3)."
                )
            # kernel: (kh, kw, in/groups, out) - each output value costs kh*kw*in/groups MACs
            total += math.prod(spatial) * math.prod(layer.kernel.shape)
    return total


def count_trainable_params(model: keras.Model) -> int:
    """Trainable parameters (BN scale and offset included, moving statistics not), the
    count torchvision and the paper report."""
    return sum(math.prod(w.shape) for w in model.trainable_weights)
