"""ResNet-50 throughput: ours vs keras.applications.ResNet50 vs a PyTorch CPU ResNet-50, for
inference (batch 1 and 32, 224x224) and a training step (batch 16), alternating in one
process; and the multiply-adds per second achieved, against this machine's matmul peak.

    python benchmarks/resnet50.py [--repeats 7] [--no-torch]
"""

from __future__ import annotations

import keras  # noqa: E402
import numpy as np
import tensorflow as tf  # noqa: E402
from harness import Case, alternate, arguments, keras_case, report, summarise, torch_or_none

import keras_resnet as kr  # first: it switches TensorFlow's oneDNN kernels on (for both sides)
from keras_resnet.core.architectures import IMAGENET  # noqa: E402

MATMUL = 2048


def keras_cases(batch: int, training: bool) -> list[Case]:
    """Ours (plain, BN folded, XLA, both) and keras.applications', as users call them."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch, 224, 224, 3)).astype("float32")
    y = rng.integers(0, 1000, batch)
    models = {"ours": kr.ResNet50(), "keras.applications": keras.applications.ResNet50(weights=None)}
    if not training:
        models["ours, BN folded"] = kr.fold_batchnorm(models["ours"])
    models["ours, XLA"] = kr.ResNet50()
    if not training:
        models["ours, BN folded, XLA"] = kr.fold_batchnorm(models["ours"])
    return [keras_case(name, model, x, y, training=training, calls=calls(batch)) for name, model in models.items()]


def calls(batch: int) -> int:
    return max(1, 8 // batch)  # at least 8 images per sample


def matmul_peak(repeats: int) -> float:
    """Multiply-adds/s of a large float32 matmul: what this CPU's TensorFlow can do at best."""
    a = tf.random.uniform((MATMUL, MATMUL))
    matmul = tf.function(lambda: tf.linalg.matmul(a, a))
    rates = alternate([Case("matmul", lambda: matmul().numpy(), 1, calls=10)], repeats)
    return summarise(rates, [])["images_per_s"]["matmul"] * MATMUL**3


def main() -> None:
    args = arguments(__doc__)
    torch = torch_or_none(args.no_torch)
    macs = kr.count_flops(kr.ResNet50())
    peak = matmul_peak(args.repeats)
    print(f"matmul peak {peak / 1e9:.1f} GMAC/s; ResNet-50 {macs / 1e9:.2f} GMAC per 224x224 image")
    for label, batch, training in (("inference_b32", 32, False), ("inference_b1", 1, False),
                                   ("training_b16", 16, True)):
        cases = keras_cases(batch, training)
        if torch:
            from torch_resnet import torch_cases

            cases += torch_cases(IMAGENET[50], "B", batch, training=training, calls=calls(batch))
        names = [c.name for c in cases]
        pairs = [(n, "keras.applications") for n in names if n.startswith("ours")]
        pairs += [("ours" if training else "ours, BN folded", n) for n in names if n.startswith("torch")]
        summary = summarise(alternate(cases, args.repeats), pairs)
        # forward = macs; a training step is about 3x (forward, and two backward products)
        per_image = macs * (3 if training else 1)
        summary["gmac_per_s"] = {n: r * per_image / 1e9 for n, r in summary["images_per_s"].items()}
        summary["fraction_of_matmul_peak"] = {n: r * per_image / peak for n, r in summary["images_per_s"].items()}
        summary["matmul_peak_gmac_per_s"] = peak / 1e9
        report(f"resnet50_{label}", summary)
        for name, fraction in summary["fraction_of_matmul_peak"].items():
            print(f"{'':>14} {name:<34} {summary['gmac_per_s'][name]:10.1f} GMAC/s = {fraction:.0%} of matmul peak")


if __name__ == "__main__":
    main()
