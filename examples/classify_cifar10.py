"""Classify real CIFAR-10 test images with the shipped pretrained CifarResNets (offline, no
download) and print their error beside the checkpoints' published error and the paper's
Table 6.

    python examples/classify_cifar10.py     # data: ../shared/data/cifar-10-batches-py beside the clone
"""

import argparse
from pathlib import Path

import numpy as np

import keras_resnet as kr
from keras_resnet.core.architectures import PAPER_CIFAR10
from keras_resnet.core.quiet import quiet_tensorflow
from keras_resnet.data.cifar10 import load_cifar10
from keras_resnet.pretrained.registry import entries

SHARED_CIFAR10 = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar-10-batches-py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(SHARED_CIFAR10),
                        help="CIFAR-10 python batches, the official download or a subset (default: %(default)s)")
    parser.add_argument("--n", type=int, nargs="*", default=[3, 5, 7, 9], choices=[3, 5, 7, 9])
    args = parser.parse_args()
    try:
        images, labels = load_cifar10(args.data_dir, "test")
    except ValueError as e:
        parser.exit(2, f"{parser.prog}: error: {e} Pass --data-dir DIR, a folder of CIFAR-10 python batches.\n")
    quiet_tensorflow()  # after the data loads, so --help, a mistyped flag and a bad --data-dir answer before TensorFlow
    published = {e.model: e.accuracy.results for e in entries() if e.name == "cifar10"}
    print(f"{len(labels)} CIFAR-10 test images from {args.data_dir}; raw uint8 RGB into the models")
    print(f"{'model':<12}{'error %':>9}{'published %':>13}{'paper %':>9}"
          "   (published/paper: full 10,000-image test set)")
    for n in args.n:
        model = kr.CifarResNet(n, weights="cifar10", include_preprocessing=True)
        # called directly, batch by batch: `predict` traces a new function per model, and TensorFlow
        # warns about the retracing after a few models
        scores = np.concatenate([np.asarray(model(images[i:i + 256].astype("float32"), training=False))
                                 for i in range(0, len(images), 256)])
        error = 100 * np.mean(scores.argmax(1) != labels)
        accuracy = published[f"cifar_resnet{6 * n + 2}"]
        print(f"{'ResNet-' + str(6 * n + 2):<12}{error:>9.2f}{accuracy['top1_error_percent']:>13.2f}"
              f"{PAPER_CIFAR10[n]['error']:>9.2f}")


if __name__ == "__main__":
    main()
