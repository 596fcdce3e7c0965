"""Layout and graph helpers for the models the package builds.

Models the package builds are stock Keras layers only, so that a saved `.keras` file loads
with `safe_mode=True` wherever Keras is installed (no keras_resnet, no `Lambda`); faster kernels
of the backend are attached to instances (`use_fast_kernels`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import keras

from keras_resnet.core import torch_kernels
from keras_resnet.core.keras_internals import fuse_batchnorm

DEEPEST_LAYERS = 14 * 3 * 200  # CifarResNet(200), the paper's 1202-layer net: its layers, with room


def channel_axis() -> int:
    """The channel axis of 4-D image tensors under `keras.config.image_data_format()`."""
    return 1 if keras.config.image_data_format() == "channels_first" else -1


@contextmanager
def graph_depth(layers_count: int = DEEPEST_LAYERS) -> Iterator[None]:
    """Keras walks functional graphs recursively (building, cloning, `load_model`): the
    1202-layer net (4,210 layers) needs more than Python's default stack depth of 1,000.
    Raised while the package builds, clones, saves or loads a model, then put back; a user
    loading such a file with Keras alone raises it the same way (docs/models.md)."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, 2 * layers_count + 1000))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def use_fast_kernels(model: keras.Model) -> keras.Model:
    """Run `model`'s layers (nested models' too) on the backend's faster kernels, where they give
    keras' outputs: TensorFlow's fused BatchNormalization in training
    (`core.keras_internals.fuse_batchnorm`); PyTorch's convolution without Keras' copies and its
    BatchNormalization (`core.torch_kernels`). JAX: none (XLA fuses BN itself). Returns `model`.
    The package's builders and loaders call it; public (`kr.use_fast_kernels`) for a model loaded
    with Keras' own `load_model`."""
    backend = keras.backend.backend()
    for layer in all_layers(model):
        if backend == "tensorflow" and type(layer) is keras.layers.BatchNormalization:
            fuse_batchnorm(layer)
        elif backend == "torch":
            torch_kernels.attach(layer)
    return model


def all_layers(model: keras.Model):
    """Every layer of `model`, descending into nested models (e.g. a pretrained base under a
    new head), but not yielding the nested models themselves."""
    for layer in model.layers:
        yield from all_layers(layer) if isinstance(layer, keras.Model) else (layer,)
