"""The public entries, written out as keras.applications writes its own: one function per
network of the paper, each a single call to the one builder (`builder.build_resnet`), which
it hands its arguments as they are (`**locals()`, its first statement: exactly its signature's).

Every entry takes the keras.applications arguments (`include_top`, `weights`: None, a registry
name or a weights file, `input_tensor`, `input_shape`, `pooling`, `classes`,
`classifier_activation`, `name`), plus `shortcut` ("A": zero-padded identity, "B": projection
where the shape changes, "C": projection everywhere; None: the paper's, B on ImageNet and A on
CIFAR; plain nets have none), `variant` ("v1", the paper's: a bottleneck strides in its first
1x1 conv; "v1.5", torchvision's and timm's: in the 3x3; None, the default: the weights' own,
else "v1"; basic blocks are the same in both, so the CIFAR entries by depth accept it for a
uniform signature) and `include_preprocessing` (`build_resnet`).

The CIFAR-10 nets are named by depth as the paper and the command line name them
(CifarResNet20 = CifarResNet(n=3), model name "cifar_resnet20"); `CifarResNet(n)` and
`CifarPlainNet(n)` take the paper's n of 6n+2 layers, any n >= 1.

The family (`architectures.FAMILY`) takes the keras.applications arguments, `shortcut` among
those its published net accepts and `include_preprocessing`; its stride placement is the
published one. ResNet50V2/101V2/152V2 are keras.applications' (pre-activation, He et al.
2016); ResNeXt and Wide ResNet torchvision's; ResNet50D timm's (deep stem, average-pool
shortcut, shortcut="D"); `CifarPreActResNet(n, bottleneck)` the Identity Mappings paper's
CIFAR-10 nets (ResNet-164: n=18, ResNet-1001: n=111, ResNet-110: n=18 and bottleneck=False).
"""

from __future__ import annotations

import warnings

import keras

from keras_resnet.core.architectures import (
    CIFAR_PLAIN_DEPTHS,
    CIFAR_RESNET_DEPTHS,
    FAMILY,
    IMAGENET,
    cifar,
    cifar_by_depth,
    cifar_preact,
)
from keras_resnet.models.builder import Activation, InputPreprocessing, build_resnet


def ResNet18(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 18-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[18], residual=True, **locals())


def ResNet34(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 34-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[34], residual=True, **locals())


def ResNet50(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 50-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[50], residual=True, **locals())


def ResNet101(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 101-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[101], residual=True, **locals())


def ResNet152(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 152-layer ImageNet ResNet of Table 1."""
    return build_resnet(IMAGENET[152], residual=True, **locals())


def PlainNet18(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 18-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[18], residual=False, **locals())


def PlainNet34(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 34-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[34], residual=False, **locals())


def PlainNet50(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 50-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[50], residual=False, **locals())


def PlainNet101(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 101-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[101], residual=False, **locals())


def PlainNet152(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 152-layer ImageNet plain net of Table 1."""
    return build_resnet(IMAGENET[152], residual=False, **locals())


def CifarResNet20(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 20-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(20), residual=True, **locals())


def CifarResNet32(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 32-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(32), residual=True, **locals())


def CifarResNet44(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 44-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(44), residual=True, **locals())


def CifarResNet56(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 56-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(56), residual=True, **locals())


def CifarResNet110(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 110-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(110), residual=True, **locals())


def CifarResNet1202(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 1202-layer CIFAR-10 ResNet of Section 4.2."""
    return build_resnet(cifar_by_depth(1202), residual=True, **locals())


def CifarPlainNet20(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 20-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(20), residual=False, **locals())


def CifarPlainNet32(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 32-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(32), residual=False, **locals())


def CifarPlainNet44(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 44-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(44), residual=False, **locals())


def CifarPlainNet56(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 56-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(56), residual=False, **locals())


def CifarPlainNet110(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 10, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, variant: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The 110-layer CIFAR-10 plain net of Section 4.2."""
    return build_resnet(cifar_by_depth(110), residual=False, **locals())


def ResNet50V2(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """keras.applications' ResNet50V2: the 50-layer net with pre-activation blocks (He et al. 2016)."""
    return build_resnet(FAMILY["resnet50v2"], residual=True, **locals())


def ResNet101V2(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """keras.applications' ResNet101V2: the 101-layer net with pre-activation blocks."""
    return build_resnet(FAMILY["resnet101v2"], residual=True, **locals())


def ResNet152V2(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """keras.applications' ResNet152V2: the 152-layer net with pre-activation blocks."""
    return build_resnet(FAMILY["resnet152v2"], residual=True, **locals())


def ResNeXt50_32x4d(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNeXt-50 (32x4d), torchvision's: ResNet-50 with its 3x3 convs in 32 groups of width 4 per 64 filters."""
    return build_resnet(FAMILY["resnext50_32x4d"], residual=True, **locals())


def ResNeXt101_32x8d(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNeXt-101 (32x8d), torchvision's: 32 groups of width 8 per 64 filters."""
    return build_resnet(FAMILY["resnext101_32x8d"], residual=True, **locals())


def ResNeXt101_64x4d(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNeXt-101 (64x4d), torchvision's: 64 groups of width 4 per 64 filters."""
    return build_resnet(FAMILY["resnext101_64x4d"], residual=True, **locals())


def WideResNet50_2(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """Wide ResNet-50-2, torchvision's: ResNet-50 with twice the inner (3x3) width."""
    return build_resnet(FAMILY["wide_resnet50_2"], residual=True, **locals())


def WideResNet101_2(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """Wide ResNet-101-2, torchvision's: ResNet-101 with twice the inner (3x3) width."""
    return build_resnet(FAMILY["wide_resnet101_2"], residual=True, **locals())


def ResNet50D(
    include_top: bool = True, weights: str | None = None, input_tensor=None, input_shape: tuple | None = None,
    pooling: str | None = None, classes: int = 1000, classifier_activation: Activation = "softmax",
    name: str | None = None, shortcut: str | None = None, include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """ResNet-50-D, timm's resnet50d (Bag of Tricks, He et al. 2019): deep 3x3 stem, average-pool shortcut."""
    return build_resnet(FAMILY["resnet50d"], residual=True, **locals())


def CifarPreActResNet(
    n: int, bottleneck: bool = True, include_top: bool = True, weights: str | None = None, input_tensor=None,
    input_shape: tuple | None = None, pooling: str | None = None, classes: int = 10,
    classifier_activation: Activation = "softmax", name: str | None = None, shortcut: str | None = None,
    include_preprocessing: InputPreprocessing = None,
) -> keras.Model:
    """The pre-activation CIFAR-10 ResNet of He et al. (2016): 3x3 conv 16, three stages of n
    blocks (BN-ReLU-conv) on 32/16/8 maps, BN-ReLU, global average pool, 10-way classifier;
    bottleneck blocks (16/32/64 x 4 channels) give 9n+2 layers (ResNet-164: n=18, ResNet-1001:
    n=111), basic blocks 6n+2 (ResNet-110: n=18). Model name cifar_preact_resnet164, ...,
    cifar_preact_resnet110_basic."""
    kwargs = {k: v for k, v in locals().items() if k not in ("n", "bottleneck")}
    return build_resnet(cifar_preact(n, bottleneck), residual=True, **kwargs)


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
