"""The one block factory: basic or bottleneck, residual or plain, shortcut A/B/C, v1 or v1.5.

Every network of the package, ImageNet or CIFAR, residual or plain, is a stack of these.
Layer names follow keras.applications (`names`: `conv2_block1_1_conv`, `..._0_conv` for the
projection, `..._add`, `..._out`) so published weights and feature taps line up.
"""

from __future__ import annotations

import keras
from keras import layers

from keras_resnet.models.architectures import BLOCK_KINDS
from keras_resnet.models.layers import BatchNormalization, ZeroPadShortcut
from keras_resnet.models.names import BN, CONV, block_output

BN_EPSILON = 1e-5  # PyTorch's and Caffe's; converters fold other epsilons into the variance.
BN_MOMENTUM = 0.9  # moving-average keep rate, PyTorch's 0.1 update.


def conv_bn(x, filters: int, kernel: int, stride: int, name: str):
    """Bias-free conv + BN. Strided convs pad explicitly and symmetrically (as Caffe and
    PyTorch do; TF's "same" pads bottom/right only), so published weights reproduce."""
    padding = "valid"
    if kernel > 1 and stride > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    elif kernel > 1:
        padding = "same"  # symmetric at stride 1 for odd kernels
    x = layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding=padding,
        use_bias=False,
        kernel_initializer=keras.initializers.VarianceScaling(
            2.0, "fan_in", "untruncated_normal"  # He et al. (2015b), as the paper
        ),
        name=name + CONV,
    )(x)
    return BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name + BN)(x)


def block(
    x,
    filters: int,
    *,
    kind: str,
    stride: int = 1,
    shortcut: str = "B",
    variant: str = "v1",
    residual: bool = True,
    name: str,
):
    """One block: `kind`'s convolutions, BN after each, ReLU after each but the last, then
    (if `residual`) the shortcut addition, then ReLU.

    `variant` places a stride-2 downsampling: "v1" (paper, Caffe weights) in the first conv,
    "v1.5" (torchvision/timm weights) in the first 3x3 conv; basic blocks are the same in
    both. `shortcut` applies where the shape changes ("A": zero-padded identity, "B":
    projection) or everywhere ("C": projection on every block).
    """
    spec = BLOCK_KINDS[kind]
    stride_at = 0 if variant == "v1" else spec["kernels"].index(3)
    out_channels = filters * spec["widths"][-1]

    y = x
    for i, (kernel, width) in enumerate(zip(spec["kernels"], spec["widths"])):
        y = conv_bn(y, filters * width, kernel, stride if i == stride_at else 1, f"{name}_{i + 1}")
        if i < len(spec["kernels"]) - 1:
            y = layers.Activation("relu", name=f"{name}_{i + 1}_relu")(y)
    if residual:
        y = layers.Add(name=f"{name}_add")([_shortcut(x, out_channels, stride, shortcut, name), y])
    return layers.Activation("relu", name=block_output(name))(y)


def _shortcut(x, channels: int, stride: int, option: str, name: str):
    reshapes = stride != 1 or x.shape[-1] != channels
    if option == "C" or (option == "B" and reshapes):
        return conv_bn(x, channels, 1, stride, f"{name}_0")
    if reshapes:
        return ZeroPadShortcut(channels, stride, name=f"{name}_0_pad")(x)
    return x
