"""The paper's architectures as data: one row per network, read by the single builder.

Table 1 of He et al. (2015) for the ImageNet nets and Section 4.2 for the CIFAR-10 nets.
Everything the builder needs to know about a depth lives here, nowhere else.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass

BLOCK_KINDS: dict[str, dict[str, tuple[int, ...]]] = {
    # kernel size and width multiplier of each convolution in the block.
    "basic": {"kernels": (3, 3), "widths": (1, 1)},
    "bottleneck": {"kernels": (1, 3, 1), "widths": (1, 1, 4)},
}
SHORTCUTS = ("A", "B", "C")
VARIANTS = ("v1", "v1.5")
MIN_INPUT_SIZE = 32


@dataclass(frozen=True)
class Architecture:
    """One network: block kind, blocks and base filters per stage, stem, and the paper's family
    it belongs to, which decides its model id, default shortcut and input preprocessing."""

    kind: str
    blocks: tuple[int, ...]
    filters: tuple[int, ...]
    stem: str  # "imagenet": 7x7/2 conv + 3x3/2 max-pool; "cifar": 3x3 conv
    default_size: int
    default_classes: int
    family: str  # "imagenet" (Table 1: option B, centre crop) or "cifar" (Section 4.2: option A)

    @property
    def expansion(self) -> int:
        return BLOCK_KINDS[self.kind]["widths"][-1]

    @property
    def depth(self) -> int:
        """Weighted layers on the main path: stem conv + block convs + classifier."""
        return 1 + sum(self.blocks) * len(BLOCK_KINDS[self.kind]["kernels"]) + 1


def _imagenet(kind: str, blocks: tuple[int, ...]) -> Architecture:
    return Architecture(kind, blocks, (64, 128, 256, 512), "imagenet", 224, 1000, "imagenet")


IMAGENET: dict[int, Architecture] = {
    18: _imagenet("basic", (2, 2, 2, 2)),
    34: _imagenet("basic", (3, 4, 6, 3)),
    50: _imagenet("bottleneck", (3, 4, 6, 3)),
    101: _imagenet("bottleneck", (3, 4, 23, 3)),
    152: _imagenet("bottleneck", (3, 8, 36, 3)),
}

# Paper's multiply-adds (x10^9, 224x224, Table 1) and CIFAR-10 results (Table 6).
PAPER_GFLOPS: dict[int, float] = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}
PAPER_CIFAR10: dict[int, dict[str, float]] = {
    3: {"error": 8.75, "params_m": 0.27},
    5: {"error": 7.51, "params_m": 0.46},
    7: {"error": 7.17, "params_m": 0.66},
    9: {"error": 6.97, "params_m": 0.85},
    18: {"error": 6.43, "params_m": 1.7},
    200: {"error": 7.93, "params_m": 19.4},
}


# Depths named in the paper: Table 6 (ResNets) and Figure 6 (plain nets).
CIFAR_RESNET_DEPTHS = (20, 32, 44, 56, 110, 1202)
CIFAR_PLAIN_DEPTHS = (20, 32, 44, 56, 110)


def cifar(n: int) -> Architecture:
    """The 6n+2-layer CIFAR-10 net: three stages of n basic blocks, 16/32/64 filters."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:  # numpy ints too
        raise ValueError(f"`n` must be an integer >= 1 (depth 6n+2); received n={n!r}.")
    return Architecture("basic", (int(n),) * 3, (16, 32, 64), "cifar", 32, 10, "cifar")


def cifar_by_depth(depth: int) -> Architecture:
    """The CIFAR-10 net of `depth` = 6n+2 layers (20: n=3), as the paper and the CLI name it."""
    if isinstance(depth, bool) or not isinstance(depth, numbers.Integral) or depth < 8 or depth % 6 != 2:
        raise ValueError(f"`depth` must be 6n+2 for an integer n >= 1 (8, 14, 20, ...); received depth={depth!r}.")
    return cifar((int(depth) - 2) // 6)


def model_id(arch: Architecture, residual: bool) -> str:
    """The network's name (registry key, command-line id, default model name): resnet50,
    plainnet34, cifar_resnet20, ..."""
    family = "resnet" if residual else "plainnet"
    return f"{'cifar_' if arch.family == 'cifar' else ''}{family}{arch.depth}"


def parse_model_id(model: str) -> tuple[Architecture, bool]:
    """(architecture, residual) of a model id; the inverse of `model_id`."""
    m = re.fullmatch(r"(cifar_)?(resnet|plainnet)([1-9][0-9]*)", model) if isinstance(model, str) else None
    depth = int(m[3]) if m else 0
    if m and m[1] and depth % 6 == 2 and depth >= 8:
        return cifar_by_depth(depth), m[2] == "resnet"
    if m and not m[1] and depth in IMAGENET:
        return IMAGENET[depth], m[2] == "resnet"
    raise ValueError(
        f"`model` must be resnet|plainnet{{{','.join(map(str, IMAGENET))}}} or "
        f"cifar_resnet|cifar_plainnet{{6n+2}}; received model={model!r}."
    )
