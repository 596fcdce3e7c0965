"""The layer-name contract, keras.applications': published weights are matched to layers,
feature maps tapped and the classifier skipped or replaced by these names alone, so the modules
that write them (the builder, the block factory) and those that read them (features, the weight
formats and loaders) take them from here.

A unit is a convolution with its BatchNorm: `conv1` (the stem), `conv{stage}_block{index}_{i}`
(a block's i-th convolution, 0 for its projection shortcut); its layers are `{unit}_conv` and
`{unit}_bn`. A block ends in `conv{stage}_block{index}_out`; stages are numbered 2-5 as the
paper's conv2_x-conv5_x.

The family keeps the scheme: keras' V2 names its pre-activation `{block}_preact_bn` and
`_preact_relu` and the final one `post_bn`, `post_relu`; a parameter-free subsampling or
ResNet-D's average pool on the shortcut is `{block}_0_pool`, option A's zero channels
`{block}_0_pad` (channels last: between `{block}_0_to_channels_first` and `_to_channels_last`);
the deep stem's three units are `conv1_1`, `conv1_2`, `conv1_3`.
"""

from __future__ import annotations

import re

CLASSIFIER = "predictions"
STEM = "conv1"
CONV = "_conv"
BN = "_bn"
RELU = "_relu"
POOL = "_pool"
PREACT = "_preact"
POST = "post"  # the pre-activation nets' last BN-ReLU: post_bn, post_relu
_BLOCK_OUTPUT = re.compile(r"^conv(\d+)_block(\d+)_out$")
_BLOCK_LAYER = re.compile(r"^conv(\d+)_block(\d+)_")


def block_name(stage: int, index: int) -> str:
    """The prefix of every layer of a block: conv2_block1, ..."""
    return f"conv{stage}_block{index}"


def block_output(block: str) -> str:
    """The layer a block's output leaves by (its last ReLU): where features are tapped."""
    return f"{block}_out"


def parse_block_output(layer: str) -> tuple[int, int] | None:
    """(stage, index) of a block's output layer, or None for any other layer."""
    m = _BLOCK_OUTPUT.match(layer)
    return (int(m[1]), int(m[2])) if m else None


def parse_block_layer(layer: str) -> tuple[int, int] | None:
    """(stage, index) of the block any layer belongs to, or None for the stem and head."""
    m = _BLOCK_LAYER.match(layer)
    return (int(m[1]), int(m[2])) if m else None
