"""How long `keras-resnet` takes to refuse a mistake that needs no model (a missing image file,
a misspelt model id, an export name that tells no format) and to list the registry (`weights`):
each is answered by the command's check, before Keras and TensorFlow are imported. Fresh
processes of the venv's console script (on the package Python finds: the installed one, or
PYTHONPATH's), run in an empty folder, alternating in reversed order every round after an
untimed one (as startup.py); `import tensorflow` for scale. With `--before DIR`, the same
commands also run on the package in DIR (an earlier commit: `git archive REV | tar -x -C DIR`),
in the same rounds.

    python benchmarks/refusals.py [--repeats 7] [--before DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from harness import save
from startup import IMPORT_TENSORFLOW, KERAS_RESNET, alternate, seconds, summarise

COMMANDS = {  # argv after `keras-resnet`, and its exit status
    "predict cifar_resnet20 --weights cifar10 nothere.png": 2,  # the image file does not exist
    "predict cifar_resnt20 --weights cifar10 cat.png": 2,  # no such model id: did you mean 'cifar_resnet20'?
    "export cifar_resnet20 model.bin --weights cifar10": 2,  # .bin tells no format
    "weights": 0,  # the registry's table
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--before", default=None, metavar="DIR", help="also time the package in DIR")
    args = parser.parse_args()
    packages = {"": None, **({" (before)": os.path.abspath(args.before)} if args.before else {})}
    with tempfile.TemporaryDirectory() as folder:
        cases = {IMPORT_TENSORFLOW: lambda: seconds([sys.executable, "-c", "import tensorflow"], cwd=folder)}
        for suffix, package in packages.items():
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
            if package is not None:
                env["PYTHONPATH"] = package
            for command, status in COMMANDS.items():
                cases[f"keras-resnet {command}{suffix}"] = (
                    lambda command=command, status=status, env=env:
                    seconds([KERAS_RESNET, *command.split()], status, cwd=folder, env=env))
        times = alternate(cases, args.repeats)
    save("refusals", {**summarise(times, args.repeats), "before": args.before})


if __name__ == "__main__":
    main()
