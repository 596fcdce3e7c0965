"""The error of a model on each dataset's test data, as a table beside `training.datasets`:
the CIFAR-10 test split, or an image folder's val/ by the paper's testing methods."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from keras_resnet.core.arguments import check_choice
from keras_resnet.data.cifar10 import cifar10, load_cifar10
from keras_resnet.evaluation.methods import check_limit, evaluate_folder
from keras_resnet.evaluation.predict import classifier
from keras_resnet.pretrained.formats import batch_for
from keras_resnet.training.datasets import DATASETS

TEST_BATCH = 256  # CIFAR-10 test images a batch; fewer for a model above 0.5 MiB of activations an image (`batch_for`)


@dataclass(frozen=True)
class Test:
    """`check` runs on (data_dir, method) before the model is built or loaded; `run` gives
    the error of the model on (data_dir, method, limit)."""

    check: Callable[[str | os.PathLike | None, str], None]
    run: Callable[[keras.Model, str | os.PathLike | None, str, int | None], dict]


def _check_cifar10(data_dir: str | os.PathLike | None, method: str) -> None:
    check_choice("method", method, ("centre",))  # 32x32 images are not cropped


def _test_cifar10(model: keras.Model, data_dir: str | os.PathLike | None, method: str, limit: int | None) -> dict:
    images, labels = cifar10(None, 0).test if data_dir is None else load_cifar10(data_dir, "test")
    images, labels = images[:limit], labels[:limit]
    predictions = model.predict(images, batch_size=batch_for(model, TEST_BATCH), verbose=0)
    return {"images": len(labels), "top1_error": float(np.mean(np.argmax(predictions, axis=1) != labels))}


def _check_folders(data_dir: str | os.PathLike | None, method: str) -> None:
    if data_dir is None:
        raise ValueError("dataset='imagenet' needs `data_dir` holding val/ class folders.")


def _test_folders(model: keras.Model, data_dir: str | os.PathLike, method: str, limit: int | None) -> dict:
    return evaluate_folder(model, Path(data_dir) / "val", method, limit=limit)


TESTS: dict[str, Test] = {
    "cifar10": Test(_check_cifar10, _test_cifar10),
    "imagenet": Test(_check_folders, _test_folders),
}


def evaluate(model, dataset: str = "cifar10", data_dir=None, method: str = "centre", limit: int | None = None,
             weights: str | None = None) -> dict:
    """Top-1 error of `model` (a .keras file, or a model id with `weights`) on the CIFAR-10
    test split, or on `data_dir/val` by the paper's `method`."""
    check_choice("dataset", dataset, tuple(DATASETS))
    check_limit(limit)
    test = TESTS[dataset]
    test.check(data_dir, method)
    return test.run(classifier(model, weights), data_dir, method, limit)
