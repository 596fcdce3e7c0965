"""keras.applications.resnet_v2's names, so that `from keras.applications.resnet_v2 import ...`
becomes `from keras_resnet.resnet_v2 import ...` and nothing else changes: ResNet50V2,
ResNet101V2 and ResNet152V2 with keras.applications' signature and defaults (weights="imagenet":
keras.applications' V2 weights, the same file, from the registry), `preprocess_input` in that
module's "tf" mode (to [-1, 1]; keras_resnet.resnet's is "caffe"), and `decode_predictions`.

The package's own entries (`keras_resnet.ResNet50V2`, ...) build the same networks with more
arguments (`shortcut`, `include_preprocessing`) and weights=None by default."""

from __future__ import annotations

import keras

from keras_resnet.models import networks, preprocessing
from keras_resnet.models.builder import Activation
from keras_resnet.models.preprocessing import decode_predictions

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "decode_predictions", "preprocess_input"]


def ResNet50V2(
    include_top: bool = True, weights: str | None = "imagenet", input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str = "resnet50v2",
) -> keras.Model:
    """keras.applications.resnet_v2.ResNet50V2: `keras_resnet.ResNet50V2` with its defaults (`help()` there)."""
    return networks.ResNet50V2(**locals())


def ResNet101V2(
    include_top: bool = True, weights: str | None = "imagenet", input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str = "resnet101v2",
) -> keras.Model:
    """keras.applications.resnet_v2.ResNet101V2: `keras_resnet.ResNet101V2` with its defaults (`help()` there)."""
    return networks.ResNet101V2(**locals())


def ResNet152V2(
    include_top: bool = True, weights: str | None = "imagenet", input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str = "resnet152v2",
) -> keras.Model:
    """keras.applications.resnet_v2.ResNet152V2: `keras_resnet.ResNet152V2` with its defaults (`help()` there)."""
    return networks.ResNet152V2(**locals())


def preprocess_input(x, data_format: str | None = None):
    """keras.applications.resnet_v2.preprocess_input: RGB images in 0-255 scaled to [-1, 1], the
    input of keras.applications' V2 weights; `keras_resnet.preprocess_input(x, "tf")`."""
    return preprocessing.preprocess_input(x, mode="tf", data_format=data_format)
