"""What `import keras_resnet` switching TensorFlow's oneDNN kernels on buys on this CPU:
CifarResNet(3) training (batch 128) and ResNet-50 inference (batch 32) in fresh processes
with TF_ENABLE_ONEDNN_OPTS=0 (TensorFlow's default on CPUs other than recent Intel ones) and
=1, alternating 0/1/1/0... (the switch is read once per process, so one process per sample).

    python benchmarks/onednn.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = "--child"


def child() -> None:
    """One sample of each case in this process: a warm-up round, then one timed round."""
    import numpy as np
    from harness import alternate, keras_case

    import keras_resnet as kr  # keeps the parent's explicit setting

    rng = np.random.default_rng(0)
    cases = []
    for name, model, batch, training in (("cifar_resnet20 training b128", kr.CifarResNet(3), 128, True),
                                         ("resnet50 inference b32", kr.ResNet50(), 32, False)):
        x = rng.uniform(0, 255, (batch, *model.input_shape[1:])).astype("float32")
        y = rng.integers(0, 10, batch)
        cases.append(keras_case(name, model, x, y, training=training, calls=4 if training else 2))
    print(json.dumps({name: rates[0] for name, rates in alternate(cases, repeats=1).items()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(CHILD, action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child()
    from harness import report, summarise

    rates: dict[str, list[float]] = {}
    for round_ in range(args.repeats):
        for setting in ("0", "1") if round_ % 2 == 0 else ("1", "0"):
            env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": setting, "TF_CPP_MIN_LOG_LEVEL": "3"}
            out = subprocess.run([sys.executable, __file__, CHILD], env=env, capture_output=True, text=True, check=True)
            for name, rate in json.loads(out.stdout.strip().splitlines()[-1]).items():
                rates.setdefault(f"{name}, oneDNN {'on' if setting == '1' else 'off'}", []).append(rate)
    names = sorted({name.rsplit(",", 1)[0] for name in rates})
    pairs = [(f"{n}, oneDNN on", f"{n}, oneDNN off") for n in names]
    report("onednn", summarise(rates, pairs))


if __name__ == "__main__":
    main()
