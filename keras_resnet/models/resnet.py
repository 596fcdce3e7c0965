"""The public entries, written out as keras.applications writes its own: one function per
network of the paper, each a single call to the one builder (`builder.build_resnet`), which
it hands its arguments as they are (`**locals()`, its first statement: exactly its signature's).

Every entry takes the keras.applications arguments (`include_top`, `weights`: None, a registry
name or a weights file, `input_tensor`, `input_shape`, `pooling`, `classes`,
`classifier_activation`, `name`), plus `shortcut` ("A": zero-padded identity, "B": projection
where the shape changes, "C": projection everywhere; None: the paper's, B on ImageNet and A on
CIFAR; plain nets have none), `variant` ("v1", the paper's: a bottleneck strides in its first
1x1 conv; "v1.5", torchvision's and timm's: in the 3x3; basic blocks are the same in both, so
the CIFAR entries by depth accept it for a uniform signature) and `include_preprocessing`
(`build_resnet`).

The CIFAR-10 nets are named by depth as the paper and the command line name them
(CifarResNet20 = CifarResNet(n=3), model name "cifar_resnet20"); `CifarResNet(n)` and
`CifarPlainNet(n)` take the paper's n of 6n+2 layers, any n >= 1.
"""

from __future__ import annotations

import warnings

import keras

from keras_resnet.models.architectures import CIFAR_PLAIN_DEPTHS, CIFAR_RESNET_DEPTHS, IMAGENET, cifar, cifar_by_depth
from keras_resnet.models.builder import Activation, InputPreprocessing, build_resnet


def ResNet18(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 18-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[18], residual=True, **locals())


def ResNet34(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 34-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[34], residual=True, **locals())


def ResNet50(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 50-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[50], residual=True, **locals())


def ResNet101(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 101-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[101], residual=True, **locals())


def ResNet152(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 152-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[152], residual=True, **locals())


def PlainNet18(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 18-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[18], residual=False, **locals())


def PlainNet34(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 34-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[34], residual=False, **locals())


def PlainNet50(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 50-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[50], residual=False, **locals())


def PlainNet101(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 101-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[101], residual=False, **locals())


def PlainNet152(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 152-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[152], residual=False, **locals())


def CifarResNet20(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 20-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(20), residual=True, **locals())


def CifarResNet32(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 32-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(32), residual=True, **locals())


def CifarResNet44(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 44-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(44), residual=True, **locals())


def CifarResNet56(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 56-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(56), residual=True, **locals())


def CifarResNet110(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 110-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(110), residual=True, **locals())


def CifarResNet1202(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 1202-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(1202), residual=True, **locals())


def CifarPlainNet20(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 20-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(20), residual=False, **locals())


def CifarPlainNet32(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 32-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(32), residual=False, **locals())


def CifarPlainNet44(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 44-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(44), residual=False, **locals())


def CifarPlainNet56(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 56-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(56), residual=False, **locals())


def CifarPlainNet110(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str = "v1",
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 110-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(110), residual=False, **locals())


def CifarResNet(
    n: int, include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 6n+2-layer CIFAR-10 ResNet of Section 4.2: 3x3 conv 16, three stages of n basic
    blocks on 32/16/8 maps with 16/32/64 filters, global average pool, 10-way classifier. Any
    n >= 1 (n=200 is the 1202-layer net); the model's name gives the depth (cifar_resnet20 for
    n=3). By depth: CifarResNet20, CifarResNet32, ..."""
    return _by_n("CifarResNet", True, **locals())


def CifarPlainNet(
    n: int, include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """`CifarResNet(n)` without shortcuts (model name cifar_plainnet{6n+2}); by depth: CifarPlainNet20, ..."""
    return _by_n("CifarPlainNet", False, **locals())


def _by_n(entry: str, residual: bool, n: int, **kwargs) -> keras.Model:
    """The 6n+2-layer net, with a warning where `n` is more likely a depth (the CLI takes depths)."""
    arch = cifar(n)
    if n in (CIFAR_RESNET_DEPTHS if residual else CIFAR_PLAIN_DEPTHS):
        warnings.warn(
            f"{entry}(n={n}) builds the {arch.depth}-layer net (6n+2 layers); the {n}-layer net "
            f"is {entry}{n}() or {entry}({(n - 2) // 6}).",
            stacklevel=3,
        )
    return build_resnet(arch, residual=residual, **kwargs)
