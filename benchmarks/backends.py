"""keras_resnet on every Keras backend, on the CPU, against the references each backend is judged
by: keras.applications' ResNet50 on the same backend, torchvision's own ResNet-50 (torch), and
TensorFlow (JAX). ResNet-50 inference (`predict_on_batch`, batch 1 and 32, channels last and
first) and CifarResNet(3) training (`model.fit`, batch 128).

Keras picks its backend once, at import, so every sample is a fresh process; the cases take
turns within a round (in the order below, reversed every other round), so that the machine's
drift falls on each alike, and every ratio is taken within a round: median and range over rounds.
torchvision runs in its own interpreter (`--torchvision-python`: torchvision needs another torch
than the one beside Keras here); every torch process uses every core, as TensorFlow and XLA do.

    python benchmarks/backends.py [--rounds 3] [--torchvision-python .venv-timm/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CPU_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
# JAX's one-line recipe (README, docs/backends.md): XLA's experimental YNNPACK fusion list set to
# dots, with which XLA compiles most 1x1 convolutions as matrix products
JAX_RECIPE = {"XLA_FLAGS": "--xla_cpu_experimental_ynn_fusion_type=dot"}
PREDICT_BATCHES = (1, 32)
TRAIN_BATCH, WARMUP_STEPS = 128, 3
CHILD = "--child"


@dataclass(frozen=True)
class Run:
    """One fresh process: `kind` "predict" (ResNet-50, both batch sizes), "train" (CifarResNet(3))
    or "torchvision"; `model` "ours", "keras.applications" or "stock" (ours through
    `keras.models.clone_model`: Keras' own layer calls, no kernels of the package)."""

    name: str
    kind: str
    backend: str
    model: str = "ours"
    data_format: str = "channels_last"
    env: tuple = ()


def runs() -> list[Run]:
    found = []
    for backend in ("tensorflow", "torch", "jax"):
        found += [Run(f"{backend}, ours", "predict", backend),
                  Run(f"{backend}, keras.applications", "predict", backend, "keras.applications"),
                  Run(f"{backend}, ours, channels_first", "predict", backend, data_format="channels_first")]
    found += [Run("torch, stock layers", "predict", "torch", "stock"),
              Run("jax, ours, XLA_FLAGS recipe", "predict", "jax", env=tuple(JAX_RECIPE.items())),
              Run("torchvision", "torchvision", "torch"),
              Run("torchvision, channels-last", "torchvision", "torch", data_format="channels_last")]
    for backend in ("tensorflow", "torch", "jax"):
        found += [Run(f"{backend}, ours", "train", backend)]
        if backend != "tensorflow":  # left out: on TensorFlow's CPU channels_first is slower at inference already
            found += [Run(f"{backend}, ours, channels_first", "train", backend, data_format="channels_first")]
    found += [Run("torch, stock layers", "train", "torch", "stock"),
              Run("jax, ours, XLA_FLAGS recipe", "train", "jax", env=tuple(JAX_RECIPE.items()))]
    return found


def timed(step, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        step()
    return time.perf_counter() - start


def keras_predict(model_name: str, data_format: str, calls: dict[int, int]) -> dict:
    """images/s of `predict_on_batch` on a fixed batch, after three untimed calls (tracing, XLA,
    oneDNN's primitives):
    the fast path on every backend (a compiled function on TensorFlow and JAX, `no_grad` on torch)."""
    import keras
    import numpy as np

    import keras_resnet as kr

    keras.config.set_image_data_format(data_format)
    shape = (224, 224, 3) if data_format == "channels_last" else (3, 224, 224)
    if model_name == "keras.applications":
        model = keras.applications.ResNet50(weights=None, input_shape=shape)
    else:
        model = kr.ResNet50(weights=None, input_shape=shape)
        if model_name == "stock":
            model = keras.models.clone_model(model)
    rates = {}
    for batch, count in calls.items():
        x = np.random.default_rng(0).uniform(-1, 1, (batch, *shape)).astype("float32")
        for _ in range(3):
            np.asarray(model.predict_on_batch(x))
        rates[f"inference b{batch}"] = batch * count / timed(lambda: np.asarray(model.predict_on_batch(x)), count)
    return rates


def keras_train(model_name: str, data_format: str, steps: int) -> dict:
    """images/s of `model.fit` over `steps` batches, timed as a whole call (it returns once the
    last loss is a Python float: JAX's asynchronous dispatch included), after a separate warm-up
    `fit` that compiles the same train function."""
    import keras
    import numpy as np

    import keras_resnet as kr

    keras.config.set_image_data_format(data_format)
    shape = (32, 32, 3) if data_format == "channels_last" else (3, 32, 32)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (steps * TRAIN_BATCH, *shape)).astype("float32")
    y = rng.integers(0, 10, steps * TRAIN_BATCH)
    model = kr.CifarResNet(3, input_shape=shape)
    if model_name == "stock":
        model = keras.models.clone_model(model)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    warmup = WARMUP_STEPS * TRAIN_BATCH
    model.fit(x[:warmup], y[:warmup], batch_size=TRAIN_BATCH, epochs=1, verbose=0)
    seconds = timed(lambda: model.fit(x, y, batch_size=TRAIN_BATCH, epochs=1, verbose=0), 1)
    return {"training b128": steps * TRAIN_BATCH / seconds}


def torchvision_predict(layout: str, calls: dict[int, int]) -> dict:
    """torchvision's ResNet-50 as its users run it: `eval()`, `inference_mode`, NCHW input in
    PyTorch's default layout or in channels-last memory."""
    import torch
    import torchvision

    torch.set_num_threads(os.cpu_count())
    model = torchvision.models.resnet50().eval()
    memory = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    model = model.to(memory_format=memory)
    rates = {}
    with torch.inference_mode():
        for batch, count in calls.items():
            x = torch.rand(batch, 3, 224, 224).contiguous(memory_format=memory)
            for _ in range(3):
                model(x)
            rates[f"inference b{batch}"] = batch * count / timed(lambda: model(x), count)
    return {**rates, "torch": torch.__version__, "torchvision": torchvision.__version__}


def child(spec: dict) -> None:
    """One sample in this process, printed as the last line of JSON."""
    calls = {int(b): c for b, c in spec["calls"].items()}
    if spec["kind"] == "torchvision":
        result = torchvision_predict(spec["data_format"], calls)
    else:
        import keras

        if keras.backend.backend() == "torch":
            import torch

            torch.set_num_threads(os.cpu_count())  # every core, as TensorFlow and XLA use by default
        if spec["kind"] == "predict":
            result = keras_predict(spec["model"], spec["data_format"], calls)
        else:
            result = keras_train(spec["model"], spec["data_format"], spec["steps"])
        result["backend"] = keras.backend.backend()
        result["keras_resnet"] = str(Path(sys.modules["keras_resnet"].__file__).parent)  # which copy ran
    print(json.dumps(result))


def sample(run: Run, args: argparse.Namespace) -> dict:
    env = {**os.environ, "KERAS_BACKEND": run.backend, "TF_CPP_MIN_LOG_LEVEL": "3", **dict(run.env)}
    python = args.torchvision_python if run.kind == "torchvision" else sys.executable
    spec = {"kind": run.kind, "model": run.model, "data_format": run.data_format, "steps": args.train_steps,
            "calls": {1: args.calls_b1, 32: args.calls_b32}}
    out = subprocess.run([python, __file__, CHILD, json.dumps(spec)], env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{run.name} {run.kind} failed (exit {out.returncode}):\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result.get("backend", run.backend) == run.backend, result
    return result


PAIRS = [  # (case, reference): the goals, and what each choice is worth
    ("inference b32, torch, ours", "inference b32, torchvision"),
    ("inference b32, torch, ours", "inference b32, torchvision, channels-last"),
    ("inference b1, torch, ours", "inference b1, torchvision, channels-last"),
    ("training b128, torch, ours", "training b128, tensorflow, ours"),
    ("inference b32, jax, ours", "inference b32, tensorflow, ours"),
    ("inference b1, jax, ours", "inference b1, tensorflow, ours"),
    ("training b128, jax, ours", "training b128, tensorflow, ours"),
    ("inference b32, jax, ours, XLA_FLAGS recipe", "inference b32, tensorflow, ours"),
    ("training b128, jax, ours, XLA_FLAGS recipe", "training b128, tensorflow, ours"),
    *[(f"inference b{b}, {backend}, ours", f"inference b{b}, {backend}, keras.applications")
      for backend in ("tensorflow", "torch", "jax") for b in PREDICT_BATCHES],
    *[(f"inference b{b}, {backend}, ours, channels_first", f"inference b{b}, {backend}, ours")
      for backend in ("tensorflow", "torch", "jax") for b in PREDICT_BATCHES],
    *[(f"training b128, {backend}, ours, channels_first", f"training b128, {backend}, ours")
      for backend in ("torch", "jax")],
    ("inference b32, torch, ours", "inference b32, torch, stock layers"),
    ("inference b1, torch, ours", "inference b1, torch, stock layers"),
    ("training b128, torch, ours", "training b128, torch, stock layers"),
]


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
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every case (default %(default)s)")
    parser.add_argument("--train-steps", type=int, default=10, help="timed fit steps of 128 (default %(default)s)")
    parser.add_argument("--calls-b1", type=int, default=10, help="timed batches of 1 (default %(default)s)")
    parser.add_argument("--calls-b32", type=int, default=2, help="timed batches of 32 (default %(default)s)")
    parser.add_argument("--torchvision-python", default=".venv-timm/bin/python",
                        help="an interpreter with torchvision (default %(default)s, scripts/setup-references.sh's)")
    parser.add_argument(CHILD, metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(json.loads(args.child))
    if min(args.rounds, args.train_steps, args.calls_b1, args.calls_b32) < 1:
        parser.error("--rounds, --train-steps, --calls-b1 and --calls-b32 must be >= 1")
    if not Path(args.torchvision_python).is_file():
        parser.error(f"--torchvision-python: no interpreter at {args.torchvision_python!r} "
                     "(bash scripts/setup-references.sh makes .venv-timm)")
    from harness import report, summarise

    rates: dict[str, list[float]] = {}
    details: dict[str, dict] = {}
    start, cases = time.perf_counter(), runs()
    for round_ in range(args.rounds):
        for run in cases if round_ % 2 == 0 else reversed(cases):
            result = sample(run, args)
            for measurement, rate in list(result.items()):
                if measurement.startswith(("inference", "training")):
                    case = f"{measurement}, {run.name}"
                    rates.setdefault(case, []).append(result.pop(measurement))
                    print(f"round {round_ + 1}: {case:<58} {rates[case][-1]:8.1f} images/s", flush=True)
            details[run.name] = {**result, "env": dict(run.env)}
    summary = summarise(rates, [pair for pair in PAIRS if all(case in rates for case in pair)])
    cpu, features = cpu_features()
    summary.update(per_round=rates, details=details, cpu=cpu, cpu_features=features, versions=versions(),
                   counts=vars(args) | {"child": None}, seconds=time.perf_counter() - start)
    report("backends", summary)


if __name__ == "__main__":
    main()
