"""Each dataset a run trains on, as data (one row each, as `core.architectures` holds the
networks): the paper's recipe for it, the checks of a run's data before anything is written,
and the loader of its training, validation and test data. A dataset added here is one row
(and its name in `training.config.DATASET_NAMES`, which the command line parses with). Free
of Keras at import: the command line checks a run's arguments (`check_arguments`) before
Keras loads."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from keras_resnet.core.arguments import check_choice
from keras_resnet.data import cifar10 as cifar
from keras_resnet.data import image_folders as folders
from keras_resnet.training.config import Recipe, TrainConfig, check_values

ImageFolders = tuple[tuple, tuple]  # (paths, labels, class names) of train/, then of val/ (`image_folders.list_images`)


@dataclass(frozen=True)
class TrainingData:
    """What a run trains, validates and tests on: `tf.data` datasets of (float32 0-255 images,
    labels), the training one a function of the image of the stream it starts at."""

    train: Callable[[int], Any]
    validation: Any
    test: Any
    train_size: int
    mean: np.ndarray  # the per-pixel training mean that `PixelMean` subtracts
    class_names: Sequence[str]
    fingerprint: str  # of what is trained on, wherever it lies (config.json's `data`)


def in_image_data_format(data: TrainingData) -> TrainingData:
    """`data` as keras.config's image data format wants it: under channels_first, each batch
    (and the mean) transposed after the pipeline, which works channels last."""
    from keras_resnet.models.layers import channel_axis  # imports Keras

    if channel_axis() == -1:
        return data
    import tensorflow as tf

    def first(images: Any) -> Any:
        return images.map(lambda x, y: (tf.transpose(x, (0, 3, 1, 2)), y), num_parallel_calls=tf.data.AUTOTUNE)

    return replace(data, train=lambda start: first(data.train(start)), validation=first(data.validation),
                   test=first(data.test), mean=np.transpose(data.mean, (2, 0, 1)))


@dataclass(frozen=True)
class Dataset:
    """One dataset: `check` runs on a run's arguments, reading no data (the command line runs it
    before Keras loads); `scan` then passes over the data before anything is written and returns
    what it found (image folders' listing, None for CIFAR-10), which `load` reuses, as listing
    costs a pass over an ImageNet-sized tree."""

    recipe: Recipe
    check: Callable[[TrainConfig], None]
    scan: Callable[[TrainConfig], ImageFolders | None]
    load: Callable[[TrainConfig, int, ImageFolders | None], TrainingData]


def _check_cifar10(config: TrainConfig) -> None:
    cifar.check_validation_fraction(config.validation_fraction)
    if config.data_dir is not None:
        cifar.check_cifar10_dir(config.data_dir)


def _scan_cifar10(config: TrainConfig) -> None:
    """Nothing to list: the batches are read whole (and checked) by `load`."""


def _load_cifar10(config: TrainConfig, batch_size: int, listing: None) -> TrainingData:
    splits = cifar.cifar10(config.data_dir, config.validation_fraction)
    train_images, train_labels = splits.train
    validation = splits.validation if len(splits.validation[0]) else splits.test
    digest = hashlib.sha256()  # of all the images and labels, however `validation_fraction` splits them
    for array in (splits.train[0], splits.validation[0], splits.train[1], splits.validation[1], *splits.test):
        digest.update(array.tobytes())
    return TrainingData(
        train=lambda start: cifar.pipeline(train_images, train_labels, batch_size, training=True,
                                           augment=config.augment, seed=config.seed, start=start),
        validation=cifar.pipeline(*validation, batch_size, training=False),
        test=cifar.pipeline(*splits.test, batch_size, training=False),
        train_size=len(train_images),
        mean=cifar.pixel_mean(train_images),
        class_names=cifar.CIFAR10_CLASSES,
        fingerprint=f"sha256:{digest.hexdigest()}",
    )


def _check_folders(config: TrainConfig) -> None:
    if config.data_dir is None:
        raise ValueError("dataset='imagenet' needs `data_dir` with train/ and val/ class folders.")


def _scan_folders(config: TrainConfig) -> ImageFolders:
    """Every image is checked as it is listed (`image_folders.list_images`)."""
    listing = tuple(folders.list_images(Path(config.data_dir) / split) for split in ("train", "val"))
    if listing[0][2] != listing[1][2]:
        raise ValueError(f"`data_dir` {config.data_dir!r}: train/ and val/ must have the same class folders.")
    return listing


def _load_folders(config: TrainConfig, batch_size: int, listing: ImageFolders) -> TrainingData:
    (paths, labels, class_names), (val_paths, val_labels, _) = listing
    validation = folders.pipeline(val_paths, val_labels, batch_size, training=False)
    return TrainingData(
        train=lambda start: folders.pipeline(paths, labels, batch_size, training=True, seed=config.seed, start=start),
        validation=validation,
        test=validation,  # ImageNet's test labels are not public; the paper reports val
        train_size=len(paths),
        mean=folders.mean_image(paths, seed=config.seed),
        class_names=class_names,
        fingerprint=_folders_fingerprint(Path(config.data_dir), [*paths, *val_paths]),
    )


def _folders_fingerprint(root: Path, paths: list[str]) -> str:
    """The image folders by their relative paths and sizes: the same tree moved elsewhere
    matches, another tree (a file added, removed, renamed or rewritten to another size) does not."""
    digest = hashlib.sha256()
    for path in paths:
        line = f"{Path(path).relative_to(root).as_posix()}\t{os.path.getsize(path)}\n"
        digest.update(line.encode(errors="surrogateescape"))
    return f"files-sha256:{digest.hexdigest()}"


# The paper's recipes: Section 4.2 (CIFAR-10) and Section 3.4 (ImageNet).
DATASETS: dict[str, Dataset] = {
    "cifar10": Dataset(Recipe(batch_size=128, learning_rate=0.1, iterations=64_000, schedule="cifar"),
                       _check_cifar10, _scan_cifar10, _load_cifar10),
    "imagenet": Dataset(Recipe(batch_size=256, learning_rate=0.1, iterations=600_000, schedule="plateau"),
                        _check_folders, _scan_folders, _load_folders),
}


def dataset(name: str) -> Dataset:
    check_choice("dataset", name, tuple(DATASETS))
    return DATASETS[name]


def check_arguments(config: TrainConfig) -> Dataset:
    """The dataset of `config`, once each value (`config.check_values`) and its data arguments
    (the dataset's `check`) are checked, reading no data."""
    chosen = dataset(config.dataset)
    check_values(config)
    chosen.check(config)
    return chosen
