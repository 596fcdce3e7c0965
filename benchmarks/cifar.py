"""CifarResNet(3) (ResNet-20) training throughput at the paper's batch 128: ours vs the same
network in PyTorch on the CPU, alternating in one process. "ours, keras BN" is ours with
keras' own (unfused) BatchNormalization, to show what the fused kernel buys.

    python benchmarks/cifar.py [--repeats 7] [--no-torch]
"""

from __future__ import annotations

import keras  # noqa: E402
import numpy as np
from harness import Case, alternate, arguments, keras_case, report, summarise, torch_or_none

import keras_resnet as kr  # first: it switches TensorFlow's oneDNN kernels on
from keras_resnet.core.architectures import cifar  # noqa: E402

BATCH = 128
CALLS = 4  # train steps per sample


def keras_cases() -> list[Case]:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (BATCH, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, BATCH)
    ours = kr.CifarResNet(3)
    stock_bn = keras.models.clone_model(ours)  # a clone's BN layers are stock: no fused kernel attached
    models = {"ours": ours, "ours, keras BN": stock_bn, "ours, XLA": kr.CifarResNet(3)}
    return [keras_case(name, model, x, y, training=True, calls=CALLS) for name, model in models.items()]


def main() -> None:
    args = arguments(__doc__)
    torch = torch_or_none(args.no_torch)
    cases = keras_cases()
    if torch:
        from torch_resnet import torch_cases

        cases += torch_cases(cifar(3), "A", BATCH, training=True, calls=CALLS)
    pairs = [("ours", name) for name in [c.name for c in cases] if name != "ours"]
    report("cifar_resnet20_training", summarise(alternate(cases, args.repeats), pairs))


if __name__ == "__main__":
    main()
