"""Fine-tuning pretrained weights on a new task."""

from __future__ import annotations

import keras

from keras_resnet.layers import all_layers


def freeze_batchnorm(model: keras.Model) -> int:
    """Freeze every BatchNormalization layer; returns how many.

    A frozen BN layer in Keras 3 runs in inference mode: it normalises with the pretrained
    moving statistics and keeps them, and its scale and offset stay fixed. Small fine-tuning
    batches would otherwise overwrite the statistics learnt on the large dataset.
    """
    bns = [layer for layer in all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in bns:
        layer.trainable = False
    return len(bns)
