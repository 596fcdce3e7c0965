"""The error of a model on each dataset's test data, as a table beside `training.datasets`:
the CIFAR-10 test split, or an image folder's val/ by the paper's testing methods. Free of Keras
at import: the command line checks `evaluate`'s arguments with `check_evaluation` before Keras
loads (what runs a model imports it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keras_resnet.core.arguments import check_choice, check_limit
from keras_resnet.data.cifar10 import check_cifar10_dir, cifar10, load_cifar10
from keras_resnet.evaluation.sources import check_model
from keras_resnet.training.config import DATASET_NAMES

if TYPE_CHECKING:
    import keras

TEST_BATCH = 256  # CIFAR-10 test images a batch; fewer for a model above 0.5 MiB of activations an image (`batch_for`)


@dataclass(frozen=True)
class Test:
    """`check` runs on (data_dir, method) before the model is built or loaded; `run` gives
    the error of the model on (data_dir, method, limit)."""

    check: Callable[[str | os.PathLike | None, str], None]
    run: Callable[[keras.Model, str | os.PathLike | None, str, int | None], dict]


def _check_cifar10(data_dir: str | os.PathLike | None, method: str) -> None:
    check_choice("method", method, ("centre",))  # 32x32 images are not cropped
    if data_dir is not None:
        check_cifar10_dir(data_dir, ("test",))


def _test_cifar10(model: keras.Model, data_dir: str | os.PathLike | None, method: str, limit: int | None) -> dict:
    from keras_resnet.pretrained.formats import batch_for  # imports Keras

    images, labels = cifar10(None, 0).test if data_dir is None else load_cifar10(data_dir, "test")
    images, labels = images[:limit], labels[:limit]
    predictions = model.predict(images, batch_size=batch_for(model, TEST_BATCH), verbose=0)
    return {"images": len(labels), "top1_error": float(np.mean(np.argmax(predictions, axis=1) != labels))}


def _check_folders(data_dir: str | os.PathLike | None, method: str) -> None:
    if data_dir is None:
        raise ValueError("dataset='imagenet' needs `data_dir` holding val/ class folders.")


def _test_folders(model: keras.Model, data_dir: str | os.PathLike, method: str, limit: int | None) -> dict:
    from keras_resnet.evaluation.methods import evaluate_folder  # imports Keras

    return evaluate_folder(model, Path(data_dir) / "val", method, limit=limit)


TESTS: dict[str, Test] = {
    "cifar10": Test(_check_cifar10, _test_cifar10),
    "imagenet": Test(_check_folders, _test_folders),
}


def check_evaluation(model, dataset: str = "cifar10", data_dir=None, method: str = "centre", limit: int | None = None,
                     weights: str | None = None) -> Test:
    """The test of `dataset`, once every argument of `evaluate` is checked, before a model is
    loaded or built (and without Keras)."""
    check_choice("dataset", dataset, DATASET_NAMES)
    check_limit(limit)
    check_model(model, weights, classify=True)
    test = TESTS[dataset]
    test.check(data_dir, method)
    return test


def evaluate(model, dataset: str = "cifar10", data_dir=None, method: str = "centre", limit: int | None = None,
             weights: str | None = None) -> dict:
    """Top-1 error of `model` (a .keras file, or a model id with `weights`) on the CIFAR-10
    test split, or on `data_dir/val` by the paper's `method`; every argument checked first
    (`check_evaluation`)."""
    from keras_resnet.evaluation.predict import classifier  # imports Keras

    test = check_evaluation(model, dataset, data_dir, method, limit, weights)
    return test.run(classifier(model, weights), data_dir, method, limit)
