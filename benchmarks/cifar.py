"""CifarResNet(3) (ResNet-20) training throughput at the paper's batch 128: ours vs the same
network in PyTorch on the CPU, alternating in one process. "ours, keras BN" is ours with
keras' own (unfused) BatchNormalization, to show what the fused kernel buys.

    python benchmarks/cifar.py [--repeats 7] [--no-torch]
"""

from __future__ import annotations

import sys

import numpy as np

import keras_resnet as kr  # first: it switches TensorFlow's oneDNN kernels on
from harness import Case, alternate, arguments, report, summarise, torch_or_none

import keras  # noqa: E402

BATCH = 128
CALLS = 4  # train steps per sample


def keras_cases() -> list[Case]:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (BATCH, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, BATCH)
    ours = kr.CifarResNet(3)
    stock_bn = keras.models.clone_model(ours, clone_function=_stock_batchnorm)
    models = {"ours": ours, "ours, keras BN": stock_bn, "ours, XLA": kr.CifarResNet(3)}
    cases = []
    for name, model in models.items():
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy",
                      jit_compile=name.endswith("XLA"))
        cases.append(Case(name, lambda m=model: m.train_on_batch(x, y), BATCH, CALLS))
    return cases


def _stock_batchnorm(layer):
    if isinstance(layer, kr.BatchNormalization):
        return keras.layers.BatchNormalization.from_config(layer.get_config())
    return layer.__class__.from_config(layer.get_config())


def torch_cases(torch) -> list[Case]:
    from torch_resnet import ResNet

    cases = []
    for layout in (torch.contiguous_format, torch.channels_last):
        model = ResNet(kr.cifar(3), "A").to(memory_format=layout).train()
        x = (torch.rand(BATCH, 3, 32, 32) * 255).contiguous(memory_format=layout)
        y = torch.randint(0, 10, (BATCH,))
        optimizer = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9)

        def step(model=model, x=x, y=y, optimizer=optimizer):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()

        cases.append(Case("torch" + (", channels-last" if layout == torch.channels_last else ""), step, BATCH, CALLS))
    return cases


def main() -> None:
    args = arguments(__doc__)
    torch = torch_or_none(args.no_torch)
    cases = keras_cases() + (torch_cases(torch) if torch else [])
    pairs = [("ours", name) for name in [c.name for c in cases] if name != "ours"]
    report("cifar_resnet20_training", summarise(alternate(cases, args.repeats), pairs),
           "python benchmarks/cifar.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
