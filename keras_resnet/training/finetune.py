"""Fine-tuning pretrained weights on a new task, and the one way to change every
BatchNormalization layer of a model (frozen here, synchronised in `training.distribute`)."""

from __future__ import annotations

from typing import Any

import keras

from keras_resnet.models.layers import all_layers


def set_batchnorm(model: keras.Model, **attributes: Any) -> int:
    """Set `attributes` on every BatchNormalization layer, nested models' included; returns how many."""
    bns = [layer for layer in all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in bns:
        for name, value in attributes.items():
            setattr(layer, name, value)
    return len(bns)


def freeze_batchnorm(model: keras.Model) -> int:
    """Freeze every BatchNormalization layer; returns how many.

    A frozen BN layer in Keras 3 runs in inference mode: it normalises with the pretrained
    moving statistics and keeps them, and its scale and offset stay fixed. Small fine-tuning
    batches would otherwise overwrite the statistics learnt on the large dataset.
    """
    return set_batchnorm(model, trainable=False)
