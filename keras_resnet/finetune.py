"""Fine-tuning pretrained weights on a new task."""

from __future__ import annotations

import keras


def freeze_batchnorm(model: keras.Model) -> int:
    """Freeze every BatchNormalization layer; returns how many.

    A frozen BN layer in Keras 3 runs in inference mode: it normalises with the pretrained
    moving statistics and keeps them, and its scale and offset stay fixed. Small fine-tuning
    batches would otherwise overwrite the statistics learnt on the large dataset.
    """
    frozen = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
            frozen += 1
        elif isinstance(layer, keras.Model):  # a pretrained base nested in a new model
            frozen += freeze_batchnorm(layer)
    return frozen
