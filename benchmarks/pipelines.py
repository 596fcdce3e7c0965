"""Input pipeline throughput (images/s, both cores, no model): CIFAR-10 training batches
(pad 4, random crop, flip) from the real subset in ../shared, and ImageNet-style training
batches (JPEG decode, shorter side in [256, 480], 224 crop, flip, PCA colour) from a folder
of real CIFAR test images re-encoded at ImageNet's typical 500x375. Compare with the
training rates of BENCHMARKS.md: a pipeline well above them is not the bottleneck.

    python benchmarks/pipelines.py [--repeats 7] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf  # noqa: E402
from harness import Case, alternate, report, summarise

from keras_resnet.data import cifar10 as data  # keras_resnet first: oneDNN switch
from keras_resnet.data import image_folders as folders

FOLDER_IMAGES = 256


def batches(dataset, count: int):
    iterator = iter(dataset.repeat())
    return lambda: [next(iterator) for _ in range(count)]


def image_folder(images: np.ndarray, labels: np.ndarray, root: Path) -> tuple[list[str], np.ndarray]:
    paths = []
    for i in range(FOLDER_IMAGES):
        path = root / f"{labels[i]}" / f"{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        big = tf.cast(tf.image.resize(images[i], (375, 500)), tf.uint8)
        path.write_bytes(tf.io.encode_jpeg(big, quality=90).numpy())
        paths.append(str(path))
    return paths, labels[:FOLDER_IMAGES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    args = parser.parse_args()
    images, labels = data.load_cifar10(Path(args.shared) / "data" / "cifar-10-batches-py", "test")
    with tempfile.TemporaryDirectory() as root:
        paths, folder_labels = image_folder(images, labels, Path(root))
        cases = [
            Case("cifar10 train, batch 128", batches(data.pipeline(images, labels, 128, training=True), 10), 1280),
            Case("folders train, batch 32", batches(folders.pipeline(paths, folder_labels, 32, training=True), 4), 128),
            Case("folders eval, batch 32", batches(folders.pipeline(paths, folder_labels, 32, training=False), 4), 128),
        ]
        report("pipelines", summarise(alternate(cases, args.repeats), []))


if __name__ == "__main__":
    main()
