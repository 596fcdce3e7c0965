"""ResNet-50 inference memory: the process's peak resident memory for a batch of 32 (224x224),
and a leak check: resident memory sampled over 1,000 repeated `model.predict` calls.

    python benchmarks/memory.py [--calls 1000] [--batch-for-leak 1] [--api predict|predict_on_batch|call]
                                [--model ours|keras.applications]

Resident memory is read from /proc/self/status (VmRSS; VmHWM, the peak, reset through
/proc/self/clear_refs), so this runs on Linux. The first 100 calls are left out of the
growth figure: TensorFlow's allocator and caches settle there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from harness import save

import keras_resnet as kr  # first: oneDNN switch

SETTLE = 100


def status(field: str) -> float:
    """A /proc/self/status memory field in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--batch-for-leak", type=int, default=1)
    parser.add_argument("--api", choices=("predict", "predict_on_batch", "call"), default="predict")
    parser.add_argument("--model", choices=("ours", "keras.applications"), default="ours")
    args = parser.parse_args()
    if args.calls <= SETTLE:
        parser.error(f"--calls must be > {SETTLE}; received {args.calls}")

    import keras

    model = kr.ResNet50() if args.model == "ours" else keras.applications.ResNet50(weights=None)
    x = np.random.default_rng(0).uniform(0, 255, (32, 224, 224, 3)).astype("float32")
    model.predict(x[:1], verbose=0)  # trace once
    built = status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    model.predict(x, batch_size=32, verbose=0)
    peak = status("VmHWM")
    print(f"model built and traced: {built:.0f} MiB resident; peak during batch-32 predict: {peak:.0f} MiB "
          f"(+{peak - built:.0f} MiB)")

    batch = x[: args.batch_for_leak]
    run = {"predict": lambda: model.predict(batch, verbose=0),
           "predict_on_batch": lambda: model.predict_on_batch(batch),
           "call": lambda: model(batch, training=False)}[args.api]
    samples = []
    for call in range(1, args.calls + 1):
        run()
        if call % 50 == 0:
            samples.append((call, status("VmRSS")))
    settled = [(c, r) for c, r in samples if c >= SETTLE]
    slope = np.polyfit(*zip(*settled), 1)[0]  # MiB per call
    growth = settled[-1][1] - settled[0][1]
    print(f"RSS over {args.calls} {args.model} {args.api} calls (batch {args.batch_for_leak}): " +
          ", ".join(f"{c}: {r:.0f}" for c, r in samples[1::4]) + " MiB")
    print(f"growth from call {SETTLE} to {args.calls}: {growth:+.1f} MiB; fitted slope {slope * 1024:+.2f} KiB/call")
    save(f"memory_{args.model}_{args.api}", {
        "built_mib": built, "peak_batch32_mib": peak,
        "leak_check": {"calls": args.calls, "batch": args.batch_for_leak, "api": args.api, "model": args.model,
                       "rss_mib": samples, "growth_mib": growth, "slope_kib_per_call": slope * 1024},
    }, benchmark="memory")


if __name__ == "__main__":
    main()
