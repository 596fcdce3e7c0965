"""Which Keras backend to run keras_resnet on, on the CPU: CifarResNet(3) training (`model.fit`,
batch 128) and ResNet-50 inference (`predict_on_batch`, batch 32) on TensorFlow, PyTorch and JAX.

Keras picks its backend once, at import, so every sample is a fresh process with KERAS_BACKEND
set; the backends take turns (tensorflow, torch, jax, tensorflow, ...) so that other load on the
machine falls on each alike, and the ratios to TensorFlow are taken within each round.

    python benchmarks/backends.py [--rounds 3] [--train-steps 20] [--predict-calls 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BACKENDS = ("tensorflow", "torch", "jax")
MEASUREMENTS = ("train", "predict")
NAMES = {"train": "CifarResNet(3) training b128", "predict": "ResNet-50 inference b32"}
CPU_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
TRAIN_BATCH, PREDICT_BATCH = 128, 32
WARMUP_STEPS = 3  # untimed `fit` steps first: tracing / XLA compilation and the first allocations
CHILD = "--child"


def train(steps: int) -> dict:
    """images/s of `model.fit` over `steps` batches, timed as a whole call (which returns once the
    last step's loss is a Python float, so JAX's asynchronous dispatch is included), after a
    separate warm-up `fit` that compiles the same train function."""
    import keras
    import numpy as np

    import keras_resnet as kr

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (steps * TRAIN_BATCH, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, steps * TRAIN_BATCH)
    model = kr.CifarResNet(3)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    warmup = WARMUP_STEPS * TRAIN_BATCH
    model.fit(x[:warmup], y[:warmup], batch_size=TRAIN_BATCH, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=TRAIN_BATCH, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    return {"images_per_s": steps * TRAIN_BATCH / seconds, "jit_compile": model.jit_compile}


def predict(calls: int) -> dict:
    """images/s of `predict_on_batch` on a fixed batch, after two untimed calls. It is the fast
    path on every backend: a compiled function on TensorFlow and JAX (an eager `model(x)` runs
    op by op there), and forward under `torch.no_grad` on torch."""
    import numpy as np

    import keras_resnet as kr

    x = np.random.default_rng(0).uniform(-1, 1, (PREDICT_BATCH, 224, 224, 3)).astype("float32")
    model = kr.ResNet50(weights=None)
    for _ in range(2):
        model.predict_on_batch(x)
    start = time.perf_counter()
    for _ in range(calls):
        np.asarray(model.predict_on_batch(x))
    seconds = time.perf_counter() - start
    return {"images_per_s": calls * PREDICT_BATCH / seconds, "api": "predict_on_batch"}


def child(measurement: str, count: int) -> None:
    """One sample in this process, printed as the last line of JSON."""
    import keras

    threads = None
    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(os.cpu_count())  # every core, as TensorFlow and XLA use by default
        threads = torch.get_num_threads()
    result = train(count) if measurement == "train" else predict(count)
    package = str(Path(sys.modules["keras_resnet"].__file__).parent)  # which copy ran: PYTHONPATH may pick one
    print(json.dumps({"backend": keras.backend.backend(), "torch_threads": threads, "keras_resnet": package, **result}))


def sample(backend: str, measurement: str, count: int) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, __file__, CHILD, measurement, str(count)]
    out = subprocess.run(command, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{backend} {measurement} failed (exit {out.returncode}):\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["backend"] == backend, result
    return result


def cpu_features() -> tuple[str, list[str]]:
    """The CPU model and the vector / matrix extensions that decide which kernels each library runs."""
    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown")
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    return model, [f for f in CPU_FEATURES if f in flags]


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("keras", "tensorflow", "tensorflow-cpu", "torch", "jax", "jaxlib", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every backend (default %(default)s)")
    parser.add_argument("--train-steps", type=int, default=20, help="timed fit steps of 128 (default %(default)s)")
    parser.add_argument("--predict-calls", type=int, default=3, help="timed batches of 32 (default %(default)s)")
    parser.add_argument(CHILD, nargs=2, metavar=("MEASUREMENT", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], int(args.child[1]))
    if min(args.rounds, args.train_steps, args.predict_calls) < 1:
        parser.error("--rounds, --train-steps and --predict-calls must be >= 1")
    from harness import report, summarise

    counts = {"train": args.train_steps, "predict": args.predict_calls}
    rates: dict[str, list[float]] = {f"{NAMES[m]}, {b}": [] for m in MEASUREMENTS for b in BACKENDS}
    details: dict[str, dict] = {}
    start = time.perf_counter()
    for round_ in range(args.rounds):
        for measurement in MEASUREMENTS:
            for backend in BACKENDS:
                case = f"{NAMES[measurement]}, {backend}"
                result = sample(backend, measurement, counts[measurement])
                rates[case].append(result.pop("images_per_s"))
                details[case] = result
                print(f"round {round_ + 1}: {case:<42} {rates[case][-1]:8.1f} images/s", flush=True)
    pairs = [(f"{NAMES[m]}, {b}", f"{NAMES[m]}, tensorflow") for m in MEASUREMENTS for b in BACKENDS[1:]]
    summary = summarise(rates, pairs)
    cpu, features = cpu_features()
    summary.update(per_round=rates, details=details, counts=counts, cpu=cpu, cpu_features=features,
                   versions=versions(), seconds=time.perf_counter() - start)
    report("backends", summary)


if __name__ == "__main__":
    main()
