"""Classify real CIFAR-10 test images with the shipped pretrained CifarResNets (offline) and
print their error beside the paper's Table 6.

    python examples/classify_cifar10.py --data-dir ../shared/data/cifar-10-batches-py
"""

import argparse

import numpy as np

import keras_resnet as kr
from keras_resnet.architectures import PAPER_CIFAR10
from keras_resnet.data import load_cifar10

# The checkpoints' input normalisation: RGB in [0, 1], then ImageNet mean/std per channel.
MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="../shared/data/cifar-10-batches-py")
    parser.add_argument("--n", type=int, nargs="*", default=[3, 5, 7, 9], choices=[3, 5, 7, 9])
    args = parser.parse_args()
    images, labels = load_cifar10(args.data_dir, "test")
    x = ((images / 255.0 - MEAN) / STD).astype("float32")
    print(f"{len(labels)} CIFAR-10 test images from {args.data_dir}")
    print(f"{'model':<12}{'error %':>9}{'paper %':>9}")
    for n in args.n:
        model = kr.CifarResNet(n, weights="cifar10")
        error = 100 * np.mean(model.predict(x, batch_size=256, verbose=0).argmax(1) != labels)
        print(f"{'ResNet-' + str(6 * n + 2):<12}{error:>9.2f}{PAPER_CIFAR10[n]['error']:>9.2f}")


if __name__ == "__main__":
    main()
