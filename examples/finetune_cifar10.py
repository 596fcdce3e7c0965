"""Fine-tune the shipped CIFAR-10 ResNet-20 on a new task with little data, and compare with
training the same network from scratch on the same data.

The new task: which way up is a photo (0, 90, 180 or 270 degrees)? The CIFAR-10 weights never
saw rotated images or these labels. Both networks get raw RGB images (the normalisation is in
the model), the same optimiser, epochs and data; the pretrained one keeps its BatchNorm
statistics frozen and gets a new 4-way head.

On one machine the accuracies repeat exactly; another CPU kind (oneDNN picks AMX, AVX-512 or
AVX2 kernels, which round differently) or another --seed moves them by several points, and
the fine-tuned net wins in every run: results/finetune_cifar10.md.

    python examples/finetune_cifar10.py     # data: ../shared/data/cifar-10-batches-py beside the clone
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import keras_resnet as kr
from keras_resnet.core.quiet import quiet_tensorflow
from keras_resnet.data.cifar10 import load_cifar10

if TYPE_CHECKING:
    import keras

ANGLES = (0, 90, 180, 270)
SHARED_CIFAR10 = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar-10-batches-py"


def rotations(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every image at every angle, labelled with the angle's index."""
    rotated = np.concatenate([np.rot90(images, k, axes=(1, 2)) for k in range(len(ANGLES))])
    return rotated, np.repeat(np.arange(len(ANGLES)), len(images))


def classifier(pretrained: bool) -> keras.Model:
    import keras

    base = kr.CifarResNet(
        3, weights="cifar10" if pretrained else None, include_top=False, pooling="avg", include_preprocessing="torch"
    )
    if pretrained:
        kr.freeze_batchnorm(base)
    outputs = keras.layers.Dense(len(ANGLES), activation="softmax", name="rotation")(base.output)
    return keras.Model(base.input, outputs, name=f"rotation_{'finetuned' if pretrained else 'scratch'}")


def train_and_test(pretrained: bool, train, test, epochs: int, seed: int) -> float:
    """Test accuracy after `epochs` of SGD (momentum 0.9, as in the paper) on `train`."""
    import keras

    keras.utils.set_random_seed(seed)
    model = classifier(pretrained)
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(*train, batch_size=64, epochs=epochs, shuffle=True, verbose=1 if sys.stdout.isatty() else 2)
    return model.evaluate(*test, batch_size=256, verbose=0)[1]


def positive(text: str) -> int:
    """argparse type for counts: 0 or less would fail deep inside `fit` instead."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; received {text!r}")
    return int(text)


def main(argv=None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(SHARED_CIFAR10),
                        help="CIFAR-10 python batches (default: %(default)s)")
    parser.add_argument("--train-images", type=positive, default=500, help="labelled photos (x4 rotations)")
    parser.add_argument("--epochs", type=positive, default=10)
    parser.add_argument("--seed", type=int, default=0, help="initialisation and shuffling")
    args = parser.parse_args(argv)
    try:
        train_images, _ = load_cifar10(args.data_dir, "train")
        test_images, _ = load_cifar10(args.data_dir, "test")
    except ValueError as e:
        parser.exit(2, f"{parser.prog}: error: {e} Pass --data-dir DIR, a folder of CIFAR-10 python batches.\n")
    quiet_tensorflow()  # after the data loads, so --help, a mistyped flag and a bad --data-dir answer before TensorFlow
    train, test = rotations(train_images[: args.train_images]), rotations(test_images)
    print(f"rotation task: {len(train[1])} training and {len(test[1])} test images, chance 25%")
    result = {}
    for name, pretrained in (("scratch", False), ("fine-tuned", True)):
        print(f"{name}: {args.epochs} epochs", flush=True)
        result[name] = train_and_test(pretrained, train, test, args.epochs, args.seed)
        print(f"{name:<11} test accuracy {100 * result[name]:.1f}%")
    return result


if __name__ == "__main__":
    main()
