"""How long the command line takes to answer before any work: `keras-resnet --help` started
both ways (the console script and `python -m keras_resnet.cli`), `import keras_resnet`, and
`import tensorflow` for scale; fresh processes, alternating in reversed order every round.

    python benchmarks/startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from harness import save

CASES = {
    "keras-resnet --help": [str(Path(sys.executable).with_name("keras-resnet")), "--help"],  # the venv's script
    "python -m keras_resnet.cli --help": [sys.executable, "-m", "keras_resnet.cli", "--help"],
    "python -c 'import keras_resnet'": [sys.executable, "-c", "import keras_resnet"],
    "python -c 'import tensorflow'": [sys.executable, "-c", "import tensorflow"],
}


def seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for round_ in range(args.repeats + 1):  # the first round warms the file cache, untimed
        for name in CASES if round_ % 2 == 0 else reversed(CASES):
            elapsed = seconds(CASES[name])
            if round_:
                times[name].append(elapsed)
    tensorflow = times["python -c 'import tensorflow'"]
    result = {"runs": args.repeats, "seconds": {}, "ratio_to_import_tensorflow": {}}
    for name, values in times.items():
        ratios = [t / tf for t, tf in zip(values, tensorflow)]
        result["seconds"][name] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
        result["ratio_to_import_tensorflow"][name] = statistics.median(ratios)
        print(f"{name:<36} {statistics.median(values):7.3f} s (range {min(values):.3f}-{max(values):.3f}), "
              f"{statistics.median(ratios):.3f}x import tensorflow")
    save("startup", result)


if __name__ == "__main__":
    main()
