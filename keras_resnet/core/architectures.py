"""The architectures as data: one row per network, read by the single builder.

Table 1 of He et al. (2015) for the ImageNet nets and Section 4.2 for the CIFAR-10 nets; then
the family built on them, each a few fields of the same row: pre-activation (He et al. 2016,
"Identity Mappings"; keras.applications' V2), ResNeXt (grouped 3x3, torchvision), Wide ResNet
(wider 3x3, torchvision) and timm's ResNets named by the letters of "Bag of Tricks" (He et al.
2019): b (the stride in the 3x3, torchvision's v1.5, which all of them have), c (a deep 3x3
stem), d (c and an average-pool shortcut; keras-hub "vd"), s (a deep stem twice as wide) and t (a
tiered deep stem and d's shortcut). Everything the builder needs to know about a network lives
here, nowhere else.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass

from keras_resnet.core.arguments import did_you_mean

BLOCK_KINDS: dict[str, dict[str, tuple[int, ...]]] = {
    # kernel size and width multiplier of each convolution in the block.
    "basic": {"kernels": (3, 3), "widths": (1, 1)},
    "bottleneck": {"kernels": (1, 3, 1), "widths": (1, 1, 4)},
}
VARIANTS = ("v1", "v1.5")
MIN_INPUT_SIZE = 32
BN_EPSILON = 1e-5  # PyTorch's and Caffe's; converters fold other epsilons into the variance.
BN_MOMENTUM = 0.9  # moving-average keep rate, PyTorch's 0.1 update.


@dataclass(frozen=True)
class Architecture:
    """One network: block kind, blocks and base filters per stage, stem, and the paper's family
    it belongs to, which decides its input preprocessing and default shortcut; then what the
    later members of the family change, with the paper's nets as defaults."""

    kind: str
    blocks: tuple[int, ...]
    filters: tuple[int, ...]
    stem: str  # "imagenet": 7x7/2 conv + 3x3/2 max-pool; "deep": 3x3/2, 3x3, 3x3 convs + max-pool; "cifar": 3x3 conv
    default_size: int
    default_classes: int
    family: str  # "imagenet" (Table 1: option B, centre crop) or "cifar" (Section 4.2: option A)
    series: str = "resnet"  # resnet (the paper's; the only one with plain twins), resnet_v2, resnext,
    # resnext_d, wide_resnet, resnet_b/c/d/s/t (timm's, by their letter) or preact: which names the model (`model_id`)
    preact: bool = False  # BN-ReLU before each conv, nothing after the addition (He et al. 2016)
    groups: int = 1  # ResNeXt's cardinality: the 3x3 conv in `groups` groups
    width_per_group: int = 64  # a bottleneck's inner width is filters * width_per_group / 64 * groups
    downsample: str = "first"  # the block of a stage that strides: "first", or "last" (keras' V2)
    shortcuts: tuple[str, ...] = ()  # the options accepted, the first the default; (): the paper's A, B, C
    variant: str | None = None  # stride placement fixed by the published net; None: the argument's
    stem_widths: tuple[int, int, int] = (32, 32, 64)  # the deep stem's convs (timm's "deep"; "s" and "t" change
    # them), the last what conv2_x takes: an "s" stem's 128 channels get a projection in conv2_block1

    @property
    def expansion(self) -> int:
        return BLOCK_KINDS[self.kind]["widths"][-1]

    @property
    def width(self) -> tuple[int, ...]:
        """Each stage's inner (3x3) width: its filters, ResNeXt's and Wide ResNet's wider."""
        return tuple(f * self.width_per_group // 64 * self.groups for f in self.filters)

    @property
    def depth(self) -> int:
        """Weighted layers on the main path: stem conv + block convs + classifier."""
        return 1 + sum(self.blocks) * len(BLOCK_KINDS[self.kind]["kernels"]) + 1

    @property
    def default_shortcut(self) -> str:
        """The published net's shortcut, else the paper's: A on CIFAR, B on ImageNet."""
        return self.shortcuts[0] if self.shortcuts else "A" if self.family == "cifar" else "B"

    def accepted_shortcuts(self) -> list[str]:
        return sorted(self.shortcuts or ("A", "B", "C"))


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


def cifar_preact(n: int, bottleneck: bool = True) -> Architecture:
    """The pre-activation CIFAR-10 net of He et al. (2016): 9n+2 layers with bottleneck
    blocks (ResNet-164: n=18, ResNet-1001: n=111), 6n+2 with basic blocks (ResNet-110: n=18);
    16/32/64 base filters, projection shortcuts, the stride in the 3x3 conv as their code."""
    if not isinstance(bottleneck, bool):
        raise ValueError(f"`bottleneck` must be True or False; received bottleneck={bottleneck!r}.")
    arch = cifar(n)
    return Architecture("bottleneck" if bottleneck else "basic", arch.blocks, arch.filters, "cifar", 32, 10, "cifar",
                        series="preact", preact=True, shortcuts=("B", "A", "C"), variant="v1.5")


def _family(series: str, kind: str, blocks: tuple[int, ...], **fields) -> Architecture:
    return Architecture(kind, blocks, (64, 128, 256, 512), fields.pop("stem", "imagenet"), 224, 1000, "imagenet",
                        series=series, variant="v1.5", **fields)


def model_id(arch: Architecture, residual: bool = True) -> str:
    """The network's name (registry key, command-line id, default model name; timm's for the
    nets timm has): resnet50, plainnet34, cifar_resnet20, resnet50v2, resnext50_32x4d,
    wide_resnet50_2, resnet26, resnet50d, resnet10t, resnext50d_32x4d, cifar_preact_resnet164,
    cifar_preact_resnet110_basic, ..."""
    depth, series = arch.depth, arch.series
    if series == "resnet":
        return f"{'cifar_' if arch.family == 'cifar' else ''}{'resnet' if residual else 'plainnet'}{depth}"
    if not residual:
        raise ValueError(f"Only the paper's nets have plain twins; the {series} nets are residual: "
                         f"`residual` must be True; received residual={residual!r}.")
    return {
        "resnet_v2": f"resnet{depth}v2",
        "resnext": f"resnext{depth}_{arch.groups}x{arch.width_per_group}d",
        "resnext_d": f"resnext{depth}d_{arch.groups}x{arch.width_per_group}d",
        "wide_resnet": f"wide_resnet{depth}_{arch.width_per_group // 64}",
        **{f"resnet_{letter}": f"resnet{depth}{letter}" for letter in "cdst"},
        "resnet_b": f"resnet{depth}",  # timm's depths beyond the paper's, named as the paper names its nets
        "preact": f"cifar_preact_resnet{depth}{'_basic' if arch.kind == 'basic' else ''}",
    }[series]


_BOTTLENECK_50_101_152 = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
# timm's stages by depth: the paper's, and the depths only timm has
_STAGES: dict[int, tuple[str, tuple[int, ...]]] = {
    **{depth: (arch.kind, arch.blocks) for depth, arch in IMAGENET.items()},
    10: ("basic", (1, 1, 1, 1)), 14: ("bottleneck", (1, 1, 1, 1)), 26: ("bottleneck", (2, 2, 2, 2)),
    200: ("bottleneck", (3, 24, 36, 3)),
}
# What each of timm's letters changes in the row (stem_type, stem_width, avg_down of timm's resnet.py),
# and the depths timm builds with it; all stride in the 3x3 (b), as timm's.
_TIMM_LETTERS: dict[str, tuple[dict, tuple[int, ...]]] = {
    "resnet_b": ({"shortcuts": ("B", "C")}, (26, 200)),
    "resnet_c": ({"stem": "deep", "shortcuts": ("B", "C")}, (50, 101, 152)),
    "resnet_d": ({"stem": "deep", "shortcuts": ("D",)}, (18, 26, 34, 50, 101, 152, 200)),
    "resnet_s": ({"stem": "deep", "stem_widths": (64, 64, 128), "shortcuts": ("B", "C")}, (50, 101, 152)),
    "resnet_t": ({"stem": "deep", "stem_widths": (24, 32, 64), "shortcuts": ("D",)}, (10, 14, 26, 50)),
}
FAMILY: dict[str, Architecture] = {
    model_id(arch): arch
    for arch in (
        # keras.applications' V2: pre-activation, the stride in each stage's last block (none in conv5_x)
        *(_family("resnet_v2", "bottleneck", b, preact=True, downsample="last", shortcuts=("B",))
          for b in _BOTTLENECK_50_101_152.values()),
        _family("resnext", "bottleneck", (3, 4, 6, 3), groups=32, width_per_group=4, shortcuts=("B", "C")),
        _family("resnext", "bottleneck", (3, 4, 23, 3), groups=32, width_per_group=8, shortcuts=("B", "C")),
        _family("resnext", "bottleneck", (3, 4, 23, 3), groups=64, width_per_group=4, shortcuts=("B", "C")),
        _family("wide_resnet", "bottleneck", (3, 4, 6, 3), width_per_group=128, shortcuts=("B", "C")),
        _family("wide_resnet", "bottleneck", (3, 4, 23, 3), width_per_group=128, shortcuts=("B", "C")),
        # timm's (resnet.py): its ResNeXt-101 widths, ResNeXt-50-D, and the ResNets of each letter
        *(_family("resnext", "bottleneck", (3, 4, 23, 3), groups=32, width_per_group=w, shortcuts=("B", "C"))
          for w in (4, 16, 32)),
        _family("resnext_d", "bottleneck", (3, 4, 6, 3), groups=32, width_per_group=4, stem="deep", shortcuts=("D",)),
        *(_family(series, *_STAGES[depth], **fields)
          for series, (fields, depths) in _TIMM_LETTERS.items() for depth in depths),
    )
}

# Published trainable parameters and multiply-adds (x10^9, 224x224) of the family's references.
REFERENCES: dict[str, dict] = {
    "resnet50v2": {"params": 25_568_360, "gmacs": None, "source": "keras.applications ResNet50V2"},
    "resnet101v2": {"params": 44_577_896, "gmacs": None, "source": "keras.applications ResNet101V2"},
    "resnet152v2": {"params": 60_236_904, "gmacs": None, "source": "keras.applications ResNet152V2"},
    "resnext50_32x4d": {"params": 25_028_904, "gmacs": 4.23, "source": "torchvision"},
    "resnext101_32x8d": {"params": 88_791_336, "gmacs": 16.414, "source": "torchvision"},
    "resnext101_64x4d": {"params": 83_455_272, "gmacs": 15.46, "source": "torchvision"},
    "wide_resnet50_2": {"params": 68_883_240, "gmacs": 11.398, "source": "torchvision"},
    "wide_resnet101_2": {"params": 126_886_696, "gmacs": 22.753, "source": "torchvision"},
    **{name: {"params": params, "gmacs": None, "source": f"timm {name}"} for name, params in {
        # sum(p.numel() for p in timm.create_model(name).parameters()), timm 1.0.29
        "resnext101_32x4d": 44_177_704, "resnext101_32x16d": 194_026_792, "resnext101_32x32d": 468_530_472,
        "resnext50d_32x4d": 25_048_136, "resnet26": 15_995_176, "resnet200": 64_673_832, "resnet50d": 25_576_264,
        "resnet50c": 25_576_264, "resnet101c": 44_568_392, "resnet152c": 60_212_040,
        "resnet18d": 11_708_744, "resnet34d": 21_816_904, "resnet26d": 16_014_408, "resnet101d": 44_568_392,
        "resnet152d": 60_212_040, "resnet200d": 64_693_064,
        "resnet50s": 25_680_808, "resnet101s": 44_672_936, "resnet152s": 60_316_584,
        "resnet10t": 5_435_488, "resnet14t": 10_081_632, "resnet26t": 16_011_872, "resnet50t": 25_573_728,
    }.items()},
}
# He et al. (2016), Table: CIFAR-10 pre-activation nets' parameters (millions).
PAPER_PREACT_CIFAR10: dict[str, float] = {
    "cifar_preact_resnet110_basic": 1.7, "cifar_preact_resnet164": 1.7, "cifar_preact_resnet1001": 10.2,
}


# The deepest net a model id names: the paper's ResNet-1202 (He et al. 2016's 1001 is below). An id
# is text from anywhere (a command line, a config file): cifar_resnet120002 would take 12 GB and
# minutes to build before anything could refuse it. Deeper nets: `cifar(n)` and the entries.
MAX_ID_DEPTH = 1202


def parse_model_id(model: str) -> tuple[Architecture, bool]:
    """(architecture, residual) of a model id; the inverse of `model_id`."""
    arch, residual = _parse_model_id(model)
    if arch.depth > MAX_ID_DEPTH:
        raise ValueError(f"`model` ids name nets of at most {MAX_ID_DEPTH} layers (the paper's deepest); received "
                         f"model={model!r}, {arch.depth} layers. Build deeper ones with CifarResNet(n) or "
                         f"CifarPreActResNet(n).")
    return arch, residual


def _parse_model_id(model: str) -> tuple[Architecture, bool]:
    if isinstance(model, str) and model in FAMILY:
        return FAMILY[model], True
    m = re.fullmatch(r"cifar_preact_resnet([1-9][0-9]*)(_basic)?", model) if isinstance(model, str) else None
    if m:
        per_block, depth = (2, int(m[1])) if m[2] else (3, int(m[1]))
        if depth >= 3 * per_block + 2 and (depth - 2) % (3 * per_block) == 0:
            return cifar_preact((depth - 2) // (3 * per_block), bottleneck=not m[2]), True
    m = re.fullmatch(r"(cifar_)?(resnet|plainnet)([1-9][0-9]*)", model) if isinstance(model, str) else None
    depth = int(m[3]) if m else 0
    if m and m[1] and depth % 6 == 2 and depth >= 8:
        return cifar_by_depth(depth), m[2] == "resnet"
    if m and not m[1] and depth in IMAGENET:
        return IMAGENET[depth], m[2] == "resnet"
    raise ValueError(
        f"`model` must be resnet|plainnet{{{','.join(map(str, IMAGENET))}}}, "
        f"cifar_resnet|cifar_plainnet{{6n+2}}, cifar_preact_resnet{{9n+2}} (bottleneck) or "
        f"cifar_preact_resnet{{6n+2}}_basic, or one of {', '.join(FAMILY)}; received model={model!r}."
        + did_you_mean(model, list_models())
    )


def list_models() -> list[str]:
    """The model ids of every named network (each has an entry, e.g. `ResNet50` for "resnet50"),
    as `build_by_id`, `weights=` listings and the command line take them; `cifar(n)` and
    `cifar_preact(n)` build the other depths."""
    imagenet = [f"{kind}{depth}" for kind in ("resnet", "plainnet") for depth in IMAGENET]
    cifar_nets = [f"cifar_resnet{d}" for d in CIFAR_RESNET_DEPTHS] + [f"cifar_plainnet{d}" for d in CIFAR_PLAIN_DEPTHS]
    return [*imagenet, *cifar_nets, *FAMILY, *PAPER_PREACT_CIFAR10]
