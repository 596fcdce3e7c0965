"""Train and test a CIFAR-10 net of the paper (Section 4.2) with its recipe.

With the defaults (full CIFAR-10 downloaded through keras.datasets, batch 128, lr 0.1 divided
by 10 at 32k and 48k iterations, stop at 64k, 45k/5k split) this is the paper's run; e.g.

    python examples/cifar10.py --depth 110                  # ResNet-110, with the lr 0.01 warm-up
    python examples/cifar10.py --depth 56 --plain           # plain-56
    python examples/cifar10.py --data-dir ../shared/data/cifar-10-batches-py --depth 20 --epochs 5

`--epochs` shortens the run and keeps the schedule's shape (milestones at 1/2 and 3/4).
Re-running the same command resumes a killed run. Options: `keras-resnet train --help`.
"""

import argparse

from keras_resnet.cli import add_training_arguments, cifar_depth, config_from_args, refuse
from keras_resnet.core.quiet import quiet_tensorflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depth", type=cifar_depth, default=20, help="6n+2: 20, 32, 44, 56, 110, 1202, ...")
    parser.add_argument("--plain", action="store_true", help="the plain twin (no shortcuts)")
    add_training_arguments(parser)
    args = parser.parse_args()
    model = f"cifar_{'plainnet' if args.plain else 'resnet'}{args.depth}"
    try:
        config = config_from_args(args, model, "cifar10")
    except ValueError as e:
        refuse(parser, e)
    quiet_tensorflow()  # after the checks, so --help, a mistyped flag and a bad value answer before TensorFlow loads
    from keras_resnet.training.run import train

    try:
        _, results = train(config)
    except ValueError as e:
        refuse(parser, e)
    print(f"{model}: test error {100 * results['test_error']:.2f}% after {results['iterations']} iterations "
          f"({results['epochs']} epochs); run files in {args.output or 'runs/' + model}")


if __name__ == "__main__":
    main()
