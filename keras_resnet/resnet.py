"""keras.applications.resnet's names, so that `from keras.applications.resnet import ...` becomes
`from keras_resnet.resnet import ...` and nothing else changes: ResNet50, ResNet101 and ResNet152
with keras.applications' signature and defaults (weights="imagenet": the paper authors' weights,
the same file, from the registry), `preprocess_input` in that module's "caffe" mode, and
`decode_predictions`. keras.applications.resnet50 is `keras_resnet.resnet50`, its resnet_v2
`keras_resnet.resnet_v2`.

The package's own entries (`keras_resnet.ResNet50`, ...) build the same networks with more
arguments (`shortcut`, `variant`, `include_preprocessing`) and weights=None by default."""

from __future__ import annotations

import keras

from keras_resnet.models import networks, preprocessing
from keras_resnet.models.builder import Activation
from keras_resnet.models.preprocessing import decode_predictions

__all__ = ["ResNet50", "ResNet101", "ResNet152", "decode_predictions", "preprocess_input"]


def ResNet50(
    include_top: bool = True, weights: str | None = "imagenet", input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str = "resnet50",
) -> keras.Model:
    """keras.applications.resnet.ResNet50: `keras_resnet.ResNet50` with its defaults (`help()` there)."""
    return networks.ResNet50(**locals())


def ResNet101(
    include_top: bool = True, weights: str | None = "imagenet", input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str = "resnet101",
) -> keras.Model:
    """keras.applications.resnet.ResNet101: `keras_resnet.ResNet101` with its defaults (`help()` there)."""
    return networks.ResNet101(**locals())


def ResNet152(
    include_top: bool = True, weights: str | None = "imagenet", input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str = "resnet152",
) -> keras.Model:
    """keras.applications.resnet.ResNet152: `keras_resnet.ResNet152` with its defaults (`help()` there)."""
    return networks.ResNet152(**locals())


def preprocess_input(x, data_format: str | None = None):
    """keras.applications.resnet.preprocess_input: RGB images in 0-255 to the "caffe" input of the
    paper authors' weights (BGR, minus the ImageNet mean); `keras_resnet.preprocess_input(x, "caffe")`."""
    return preprocessing.preprocess_input(x, mode="caffe", data_format=data_format)
