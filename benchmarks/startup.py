"""How long the command line takes to answer before any work: `keras-resnet --help` started
both ways (the console script and `python -m keras_resnet.cli`), `import keras_resnet`, and
`import tensorflow` for scale; fresh processes, alternating in reversed order every round.
(`refusals.py` times its answers to mistakes the same way.)

    python benchmarks/startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from harness import save

KERAS_RESNET = str(Path(sys.executable).with_name("keras-resnet"))  # the venv's console script
IMPORT_TENSORFLOW = "python -c 'import tensorflow'"
CASES = {
    "keras-resnet --help": [KERAS_RESNET, "--help"],
    "python -m keras_resnet.cli --help": [sys.executable, "-m", "keras_resnet.cli", "--help"],
    "python -c 'import keras_resnet'": [sys.executable, "-c", "import keras_resnet"],
    IMPORT_TENSORFLOW: [sys.executable, "-c", "import tensorflow"],
}


def seconds(command: list[str], status: int = 0, **run) -> float:
    """Wall time of `command` in a fresh process, which must exit with `status`."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, **run)
    elapsed = time.perf_counter() - start
    if result.returncode != status:
        raise RuntimeError(f"{command} exited {result.returncode}, not {status}: {result.stderr.decode()[-2000:]}")
    return elapsed


def alternate(cases: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Seconds of each case (a call that times one run) per round: the first round warms the
    file cache, untimed; the order reverses every round."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(repeats + 1):
        for name in cases if round_ % 2 == 0 else reversed(cases):
            elapsed = cases[name]()
            if round_:
                times[name].append(elapsed)
    return times


def summarise(times: dict[str, list[float]], runs: int, scale: str = IMPORT_TENSORFLOW) -> dict:
    """Median, min and max seconds per case and the median of its per-round ratios to `scale`; printed."""
    result = {"runs": runs, "seconds": {}, "ratio_to_import_tensorflow": {}}
    width = max(36, *map(len, times))
    for name, values in times.items():
        ratios = [t / s for t, s in zip(values, times[scale])]
        result["seconds"][name] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
        result["ratio_to_import_tensorflow"][name] = statistics.median(ratios)
        print(f"{name:<{width}} {statistics.median(values):7.3f} s (range {min(values):.3f}-{max(values):.3f}), "
              f"{statistics.median(ratios):.3f}x import tensorflow")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    times = alternate({name: lambda command=command: seconds(command) for name, command in CASES.items()},
                      args.repeats)
    save("startup", summarise(times, args.repeats))


if __name__ == "__main__":
    main()
