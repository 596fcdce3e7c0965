"""The degradation experiment of the paper's Figure 6: plain nets get worse with depth,
residual nets better. Trains plain-20/56 and ResNet-20/56 with the same recipe on all the
training images (test error tracked per epoch, as the figure plots it), then draws
`figure6.png` (dashed: training error, bold: test error, iterations on x) and `table.md` in `--output`.

    python examples/degradation.py --data-dir ../shared/data/cifar-10-batches-py --epochs 8

Each net is its own resumable run in `--output/<model>`: re-running continues where it stopped.
"""

import argparse
from pathlib import Path

from keras_resnet.cli import cifar_depth, refuse
from keras_resnet.core.atomic import write_text
from keras_resnet.core.quiet import quiet_tensorflow
from keras_resnet.training.config import TrainConfig
from keras_resnet.training.datasets import check_arguments
from keras_resnet.training.plots import plot_error_curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="CIFAR-10 python batches (default: download)")
    parser.add_argument("--depths", type=cifar_depth, nargs="+", default=[20, 56])
    parser.add_argument("--epochs", type=int, default=None, help="default: the paper's 64k iterations")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--output", default="runs/degradation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixed-precision", action="store_true", help="bfloat16 on CPU (fast with AVX512_BF16/AMX)")
    args = parser.parse_args()
    output = Path(args.output)
    configs = [
        TrainConfig(model=f"cifar_{family}{depth}", dataset="cifar10", data_dir=args.data_dir,
                    output=str(output / f"cifar_{family}{depth}"), epochs=args.epochs, batch_size=args.batch_size,
                    validation_fraction=0.0, seed=args.seed, mixed_precision=args.mixed_precision)
        for family in ("plainnet", "resnet") for depth in args.depths
    ]
    try:
        for config in configs:
            check_arguments(config)
    except ValueError as e:
        refuse(parser, e)
    quiet_tensorflow()  # after the checks, so --help, a mistyped flag and a bad value answer before TensorFlow loads
    from keras_resnet.training.callbacks import read_log
    from keras_resnet.training.run import train

    finals = {}
    for config in configs:
        _, results = train(config)
        finals[config.model] = (read_log(Path(config.output) / "log.csv"), results)
    lines = ["| net | final training error | test error | best test error (epoch) |", "|---|---|---|---|"]
    for model, (rows, results) in finals.items():
        best = min(rows, key=lambda r: r["val_error"])
        lines.append(f"| {model} | {100 * rows[-1]['error']:.2f}% | {100 * results['test_error']:.2f}% | "
                     f"{100 * best['val_error']:.2f}% ({int(best['epoch']) + 1}) |")
    write_text(output / "table.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    panels = {
        f"CIFAR-10, {title} nets": {f"{title}-{d}": finals[f"cifar_{family}{d}"][0] for d in args.depths}
        for family, title in (("plainnet", "plain"), ("resnet", "ResNet"))
    }
    steps = {results["steps_per_epoch"] for _, results in finals.values()}.pop()  # one batch size for all
    plot_error_curves(panels, output / "figure6.png", val_label="test", steps_per_epoch=steps)
    print(f"figure6.png and table.md in {output}")


if __name__ == "__main__":
    main()
