"""Train an ImageNet ResNet as in the paper (Section 3.4) on a folder of class sub-folders:

    DATA/train/<class>/*.jpg   DATA/val/<class>/*.jpg   (e.g. ImageNet-1k, 1,000 classes)

Batch 256, SGD momentum 0.9, weight decay 1e-4, lr 0.1 divided by 10 when the validation
error plateaus, up to 60x10^4 iterations; scale augmentation (shorter side in [256, 480]),
random 224 crop, flip, PCA colour augmentation, per-pixel mean subtraction. Then the paper's
testing on val/: centre crop, 10-crop and fully-convolutional multi-scale.

    python examples/imagenet.py --data-dir DATA --depth 50 --strategy mirrored --mixed-precision
    python examples/imagenet.py --data-dir DATA --depth 34 --plain --schedule step   # /10 every 30 epochs
"""

import argparse
import json
from pathlib import Path

from keras_resnet.cli import add_training_arguments, config_from_args, refuse
from keras_resnet.core.atomic import write_text
from keras_resnet.core.quiet import quiet_tensorflow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depth", type=int, default=50, choices=(18, 34, 50, 101, 152))
    parser.add_argument("--plain", action="store_true", help="the plain twin (no shortcuts)")
    parser.add_argument("--test-limit", type=int, default=None, help="test on the first N val images only")
    add_training_arguments(parser)
    args = parser.parse_args()
    model_id = f"{'plainnet' if args.plain else 'resnet'}{args.depth}"
    try:
        config = config_from_args(args, model_id, "imagenet")
    except ValueError as e:
        refuse(parser, e)
    quiet_tensorflow()  # after the checks, so --help, a mistyped flag and a bad value answer before TensorFlow loads
    from keras_resnet.evaluation.methods import METHODS, evaluate_folder
    from keras_resnet.training.run import train

    try:
        model, results = train(config)
    except ValueError as e:
        refuse(parser, e)
    for method in METHODS:
        results[method] = evaluate_folder(model, Path(config.data_dir) / "val", method, limit=args.test_limit)
        print(f"{model_id} {method}: top-1 error {100 * results[method]['top1_error']:.2f}%, "
              f"top-5 {100 * results[method]['top5_error']:.2f}%")
    write_text(Path(config.output) / "test.json", json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
