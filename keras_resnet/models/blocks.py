"""The one block factory: basic or bottleneck, residual or plain, post- or pre-activation,
grouped or wide, shortcut A/B/C/D, stride in the first conv (v1) or the 3x3 (v1.5).

Every network of the package, ImageNet or CIFAR, residual or plain, V1, V2, ResNeXt, Wide or
ResNet-D, is a stack of these. Layer names follow keras.applications (`names`:
`conv2_block1_1_conv`, `..._0_conv` for the projection, `..._preact_bn` in V2, `..._out`) so
published weights and feature taps line up.
"""

from __future__ import annotations

import keras
from keras import layers

from keras_resnet.core.architectures import BLOCK_KINDS, BN_EPSILON, BN_MOMENTUM
from keras_resnet.core.names import BN, CONV, POOL, PREACT, RELU, block_output
from keras_resnet.models.layers import channel_axis


def conv(x, filters: int, kernel: int, stride: int, name: str, *, groups: int = 1, use_bias: bool = False):
    """A convolution, He-initialised as the paper. Strided convs pad explicitly and
    symmetrically (as Caffe and PyTorch do; TF's "same" pads bottom/right only), so published
    weights reproduce."""
    padding = "valid"
    if kernel > 1 and stride > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    elif kernel > 1:
        padding = "same"  # symmetric at stride 1 for odd kernels
    return layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding=padding,
        groups=groups,
        use_bias=use_bias,
        kernel_initializer=keras.initializers.VarianceScaling(
            2.0, "fan_in", "untruncated_normal"  # He et al. (2015b), as the paper
        ),
        name=name + CONV,
    )(x)


def batchnorm(x, name: str):
    return layers.BatchNormalization(axis=channel_axis(), epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name + BN)(x)


def bn_relu(x, name: str):
    return layers.Activation("relu", name=name + RELU)(batchnorm(x, name))


def conv_bn(x, filters: int, kernel: int, stride: int, name: str, *, groups: int = 1):
    """Bias-free conv + BN, the paper's unit."""
    return batchnorm(conv(x, filters, kernel, stride, name, groups=groups), name)


def block(
    x,
    filters: int,
    *,
    kind: str,
    stride: int = 1,
    shortcut: str = "B",
    variant: str = "v1",
    residual: bool = True,
    preact: bool = False,
    width: int | None = None,
    groups: int = 1,
    name: str,
):
    """One block. Post-activation (the paper): `kind`'s convolutions, BN after each, ReLU after
    each but the last, then (if `residual`) the shortcut addition, then ReLU. Pre-activation
    (He et al. 2016, keras' V2): BN-ReLU before each conv, the addition last; the projection
    reads the pre-activated input, and the convs that no BN follows have a bias, as keras'.

    `width`: the inner convs' channels (default `filters`; ResNeXt and Wide ResNet widen them),
    the 3x3 in `groups` groups (ResNeXt). `variant` places a stride-2 downsampling: "v1"
    (paper, Caffe weights) in the first conv, "v1.5" (torchvision/timm) in the first 3x3;
    basic blocks are the same in both. `shortcut` applies where the channels change ("A":
    zero-padded identity, "B": projection, "D": average pool then projection) or everywhere
    ("C": projection on every block); where only the stride changes (keras' V2), the identity
    is subsampled.
    """
    spec = BLOCK_KINDS[kind]
    kernels = spec["kernels"]
    stride_at = 0 if variant == "v1" else kernels.index(3)
    channels = [width or filters] * (len(kernels) - 1) + [filters * spec["widths"][-1]]

    entry = bn_relu(x, name + PREACT) if preact else x
    y = entry
    for i, (kernel, out) in enumerate(zip(kernels, channels)):
        unit, last = f"{name}_{i + 1}", i == len(kernels) - 1
        y = conv(y, out, kernel, stride if i == stride_at else 1, unit,
                 groups=groups if kernel == 3 else 1, use_bias=preact and last)
        if not last:
            y = bn_relu(y, unit)
        elif not preact:
            y = batchnorm(y, unit)
    if not residual:
        return layers.Activation("relu", name=block_output(name))(y)
    branches = [_shortcut(x, entry, channels[-1], stride, shortcut, name, preact), y]
    if preact:  # the addition is the block's output; the next block's BN-ReLU follows
        return layers.Add(name=block_output(name))(branches)
    return layers.Activation("relu", name=block_output(name))(layers.Add(name=f"{name}_add")(branches))


def _shortcut(x, entry, channels: int, stride: int, option: str, name: str, preact: bool):
    """The identity of `x`, or a projection of `entry` (`x`, or its pre-activation: then with a
    bias and no BN, as keras' V2)."""
    changes = x.shape[channel_axis()] != channels
    if option == "C" or (option in ("B", "D") and changes):
        if option == "D" and stride > 1:  # ResNet-D: average pool, then a stride-1 projection
            entry = layers.AveragePooling2D(2, stride, padding="same", name=f"{name}_0{POOL}")(entry)
            stride = 1
        y = conv(entry, channels, 1, stride, f"{name}_0", use_bias=preact)
        return y if preact else batchnorm(y, f"{name}_0")
    if stride > 1:  # every `stride`-th pixel from 0, where a padded strided conv centres its windows
        x = layers.MaxPooling2D(1, strides=stride, name=f"{name}_0{POOL}")(x)
    return zero_pad_channels(x, channels, f"{name}_0") if changes else x


def zero_pad_channels(x, channels: int, name: str):
    """Option A's new channels, zeros split evenly before and after (as the reference CIFAR
    implementation, so converted weights reproduce it), in stock layers: ZeroPadding2D pads
    the first two axes after the batch, so channels go there (channels first already are)."""
    extra = channels - x.shape[channel_axis()]
    pad = ((extra // 2, extra - extra // 2), (0, 0))
    if channel_axis() == 1:
        return layers.ZeroPadding2D(pad, data_format="channels_last", name=f"{name}_pad")(x)
    x = layers.Permute((3, 1, 2), name=f"{name}_to_channels_first")(x)
    x = layers.ZeroPadding2D(pad, data_format="channels_last", name=f"{name}_pad")(x)
    return layers.Permute((2, 3, 1), name=f"{name}_to_channels_last")(x)
