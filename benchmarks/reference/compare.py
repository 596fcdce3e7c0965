"""`keras-resnet train` against the independent PyTorch trainer (`torch_cifar.py`): CIFAR
ResNet-20 from scratch on the same data, same epochs and batch, several seeds each, and Keras
in float32 and in mixed bfloat16. `run` trains whatever is missing (every run resumes where it
stopped), `report` writes the table, the curves and a copy of every log to `--results`.

    python benchmarks/reference/compare.py run --data-dir ../shared/data/cifar-10-batches-py
    python benchmarks/reference/compare.py report
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
IMPLEMENTATIONS = {  # name: (label, line style)
    "torch": ("PyTorch reference", "tab:red"),
    "keras_f32": ("keras-resnet, float32", "tab:blue"),
    "keras_bf16": ("keras-resnet, mixed bfloat16", "tab:green"),
}


def command(implementation: str, seed: int, args: argparse.Namespace) -> list[str]:
    output = str(Path(args.runs) / f"{implementation}_seed{seed}")
    if implementation == "torch":
        return [sys.executable, str(HERE / "torch_cifar.py"), "--data-dir", args.data_dir, "--output", output,
                "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--seed", str(seed),
                "--threads", str(args.threads)]
    keras = [sys.executable, "-m", "keras_resnet.cli", "train", "--model", "cifar_resnet20", "--data-dir",
             args.data_dir, "--output", output, "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
             "--validation-fraction", "0", "--seed", str(seed), "--no-plot"]
    return keras + (["--mixed-precision"] if implementation == "keras_bf16" else [])


def l2_penalty(run: Path) -> float:
    """Keras' logged loss includes the weight decay term, 1e-4 / 2 x the squared conv and dense
    kernels (`training.recipe.add_weight_decay`); the reference logs cross-entropy alone. This
    is the term at the end of a Keras run (`final.keras`), to compare like with like."""
    import keras

    model = keras.models.load_model(run / "final.keras")  # stock layers: loads with Keras alone
    kernels = [layer.kernel for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    return float(1e-4 / 2 * sum(float((keras.ops.convert_to_numpy(k).astype("float64") ** 2).sum()) for k in kernels))


def read_log(path: Path) -> list[dict[str, float]]:
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def report(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    logs: dict[str, list[list[dict]]] = {}
    for implementation in IMPLEMENTATIONS:
        for seed in args.seeds:
            log = Path(args.runs) / f"{implementation}_seed{seed}" / "log.csv"
            if not log.exists():
                continue
            rows = read_log(log)
            if len(rows) < args.epochs:
                print(f"{log}: {len(rows)} of {args.epochs} epochs, left out")
                continue
            if implementation != "torch":
                rows[-1]["cross_entropy"] = rows[-1]["loss"] - l2_penalty(log.parent)
            else:
                rows[-1]["cross_entropy"] = rows[-1]["loss"]
            logs.setdefault(implementation, []).append(rows)
            shutil.copyfile(log, results / f"{implementation}_seed{seed}.log.csv")
    lines = ["| implementation | seeds | final test error, mean ± sd (each seed) | final training error | "
             "final training cross-entropy | s/epoch |", "|---|---|---|---|---|---|"]
    for implementation, runs in logs.items():
        def stat(key, scale=100.0, fmt=".2f"):
            values = [scale * rows[-1][key] for rows in runs]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):{fmt}} ± {spread:{fmt}} ({', '.join(f'{v:{fmt}}' for v in values)})"
        seconds = statistics.mean(statistics.median(r["seconds"] for r in rows) for rows in runs)
        lines.append(f"| {IMPLEMENTATIONS[implementation][0]} | {len(runs)} | {stat('val_error')} | "
                     f"{stat('error')} | {stat('cross_entropy', 1.0, '.3f')} | {seconds:.1f} |")
    errors = {name: [100 * rows[-1]["val_error"] for rows in runs] for name, runs in logs.items()}
    if "torch" in errors and len(errors["torch"]) > 1:
        lines.append("")
        reference = errors["torch"]
        for name in (n for n in errors if n != "torch" and len(errors[n]) > 1):
            gap = abs(statistics.mean(errors[name]) - statistics.mean(reference))
            allowed = max(statistics.stdev(errors[name]), statistics.stdev(reference), 1.5)
            lines.append(f"- {IMPLEMENTATIONS[name][0]} vs the PyTorch reference: means {gap:.2f} points apart, "
                         f"allowed {allowed:.2f} (the larger seed spread, or 1.5): "
                         f"{'agree' if gap <= allowed else 'DISAGREE'}.")
    table = "\n".join(lines) + "\n"
    (results / "table.md").write_text(table)
    print(table)

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for implementation, runs in logs.items():
        label, colour = IMPLEMENTATIONS[implementation]
        for i, rows in enumerate(runs):
            epochs = [r["epoch"] + 1 for r in rows]
            axes[0].plot(epochs, [100 * r["error"] for r in rows], "--", color=colour, lw=0.8,
                         label=f"{label}, training" if i == 0 else None)
            axes[0].plot(epochs, [100 * r["val_error"] for r in rows], "-", color=colour, lw=1.6,
                         label=f"{label}, test" if i == 0 else None)
            axes[1].plot(epochs, [r["loss"] for r in rows], "-", color=colour, lw=1.0,
                         label=label if i == 0 else None)
    axes[0].set(xlabel="epoch", ylabel="error (%)", ylim=(0, 80), title="CIFAR ResNet-20, error (one line per seed)")
    axes[1].set(xlabel="epoch", ylabel="training loss", yscale="log",
                title="training loss (Keras' includes the L2 term)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(results / "curves.png", dpi=110)
    print(f"table.md, curves.png and the logs in {results}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("run", "report"))
    parser.add_argument("--data-dir", default="../shared/data/cifar-10-batches-py")
    parser.add_argument("--runs", default="runs/reference")
    parser.add_argument("--results", default=str(HERE.parent / "results" / "reference"))
    parser.add_argument("--implementations", nargs="+", default=list(IMPLEMENTATIONS), choices=list(IMPLEMENTATIONS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    if args.action == "report":
        return report(args)
    for seed in args.seeds:
        for implementation in args.implementations:
            subprocess.run(command(implementation, seed, args), check=True)


if __name__ == "__main__":
    main()
