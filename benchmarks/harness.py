"""The benchmark harness: cases measured in one process, alternating A/B/A/B... so that the
machine's drift (other load, thermal state, frequency) falls on every case alike.

Each case is a callable doing one unit of work (a batch) and a number of images per call;
one sample is `calls` back-to-back calls. After `warmup` untimed rounds, `repeats` rounds
each take one sample of every case, in an order that reverses every round (ABBA), so no case
always runs first. Reported: median images/s per case, and for each pair the median over
rounds of the per-round ratio (same round, same conditions).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Case:
    name: str
    step: Callable[[], object]
    images: int  # per call
    calls: int = 1  # per sample


def alternate(cases: list[Case], repeats: int = 7, warmup: int = 1) -> dict[str, list[float]]:
    """images/s of each case per round: `warmup` untimed rounds, then `repeats` timed ones."""
    rates: dict[str, list[float]] = {case.name: [] for case in cases}
    for round_ in range(warmup + repeats):
        for case in cases if round_ % 2 == 0 else reversed(cases):
            start = time.perf_counter()
            for _ in range(case.calls):
                case.step()
            seconds = time.perf_counter() - start
            if round_ >= warmup:
                rates[case.name].append(case.images * case.calls / seconds)
    return rates


def summarise(rates: dict[str, list[float]], pairs: list[tuple[str, str]]) -> dict:
    """Medians per case and per-round ratio medians (with min and max) for (a, b) pairs: a/b."""
    summary = {
        "images_per_s": {name: statistics.median(values) for name, values in rates.items()},
        "runs": len(next(iter(rates.values()))),
        "ratios": {},
    }
    for a, b in pairs:
        ratios = [x / y for x, y in zip(rates[a], rates[b])]
        summary["ratios"][f"{a} / {b}"] = {
            "median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)
        }
    return summary


def machine() -> dict:
    """CPU model and cores, library versions and the switches that change kernels."""
    import keras
    import numpy as np
    import tensorflow as tf

    cpu = platform.processor() or "unknown"
    if Path("/proc/cpuinfo").exists():
        models = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
        cpu = models[0] if models else cpu
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpus": [d.name for d in tf.config.list_physical_devices("GPU")],
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
    }
    try:
        import torch

        info["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        pass
    return info


def save(name: str, result: dict, benchmark: str | None = None) -> dict:
    """Keep `result` under benchmarks/results/<name>.json with the benchmark's name, the
    command that ran it and the machine; returns what was written."""
    command = " ".join(["python", f"benchmarks/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    result = {"benchmark": benchmark or name, "command": command, "machine": machine(), **result}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def report(name: str, summary: dict) -> None:
    """Save the summary and print it."""
    summary = save(name, summary)
    for case, rate in summary["images_per_s"].items():
        print(f"{name:>14} {case:<34} {rate:10.1f} images/s (median of {summary['runs']})")
    for pair, ratio in summary["ratios"].items():
        print(f"{name:>14} {pair:<34} {ratio['median']:10.3f}x  (range {ratio['min']:.3f}-{ratio['max']:.3f})")


def keras_case(name: str, model, x, y, *, training: bool, calls: int = 1) -> Case:
    """A Keras model as users run it: compiled with SGD (momentum 0.9) and sparse
    cross-entropy, with XLA when `name` ends in "XLA"; a call is `train_on_batch` or
    `predict_on_batch` on the fixed batch (x, y)."""
    import keras

    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy",
                  jit_compile=name.endswith("XLA"))
    step = (lambda: model.train_on_batch(x, y)) if training else (lambda: model.predict_on_batch(x))
    return Case(name, step, len(x), calls)


def arguments(description: str, repeats: int = 7) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--repeats", type=int, default=repeats, help="timed rounds (default %(default)s)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1; received {args.repeats}")
    return args


def torch_or_none(disabled: bool):
    """torch, set to use every core as TensorFlow does; None when absent or left out."""
    if disabled:
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count())
    return torch
