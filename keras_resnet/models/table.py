"""The paper's Table 1 (and Table 6's CIFAR-10 sizes) from the models as built: the numbers
are counted on the networks this library builds, then set beside the published ones, so a
difference in the architecture shows as a difference in the table."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from keras_resnet.core.architectures import (
    FAMILY,
    IMAGENET,
    PAPER_CIFAR10,
    PAPER_GFLOPS,
    PAPER_PREACT_CIFAR10,
    REFERENCES,
    Architecture,
    cifar,
    parse_model_id,
)
from keras_resnet.core.keras_internals import unallocated
from keras_resnet.models.builder import build_resnet
from keras_resnet.models.flops import count_flops, count_trainable_params


def paper_table(variant: str, plain: bool, cifar_n: Sequence[int], family: bool = False) -> list[dict]:
    """One row per model: layers, trainable parameters, multiply-adds, the paper's numbers;
    the ImageNet nets of `variant` (with `plain`, their plain twins too), CifarResNet(n) for
    each n of `cifar_n`, and with `family`, the family's nets beside their references'
    published numbers. The nets are built without memory for their weights (shapes are all a
    count reads): 4x faster."""
    with unallocated():
        return _rows(variant, plain, cifar_n, family)


def _rows(variant: str, plain: bool, cifar_n: Sequence[int], family: bool) -> list[dict]:
    rows = []
    for residual in (True, False) if plain else (True,):
        for depth, arch in IMAGENET.items():
            model = build_resnet(arch, residual=residual, variant=variant)
            rows.append(_row(model, arch, PAPER_GFLOPS[depth] if residual else None))
    for n in cifar_n:
        arch = cifar(n)
        rows.append(_row(build_resnet(arch), arch, None, PAPER_CIFAR10.get(n, {}).get("params_m")))
    for name in (*FAMILY, *PAPER_PREACT_CIFAR10) if family else ():
        arch, _ = parse_model_id(name)
        ref = REFERENCES.get(name)
        reference = f"{ref['params']:,} {ref['source']}" if ref else "He et al. 2016"
        rows.append(_row(build_resnet(arch), arch, ref and ref["gmacs"], PAPER_PREACT_CIFAR10.get(name), reference))
    return rows


def _row(model: keras.Model, arch: Architecture, paper_gmacs: float | None = None,
         paper_params: float | None = None, reference: str | None = None) -> dict:
    return {
        "model": model.name,
        "layers": arch.depth,
        "stages": f"{list(arch.blocks)} x {arch.kind}",
        "params": count_trainable_params(model),
        "gmacs": count_flops(model) / 1e9,
        "paper_gmacs": paper_gmacs,
        "paper_params_m": paper_params,
        "reference": reference,
    }
