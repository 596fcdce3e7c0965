"""CIFAR-10 in the official "python version" layout (also any subset of it with fewer rows)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
_SPLITS = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}


def load_cifar10(directory: str | os.PathLike, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 N x 32 x 32 x 3 RGB, labels int64 N) of one split, in official order."""
    if split not in _SPLITS:
        raise ValueError(f"`split` must be one of {list(_SPLITS)}; received split={split!r}.")
    directory = Path(directory)
    missing = [name for name in _SPLITS[split] if not (directory / name).is_file()]
    if missing:
        raise ValueError(f"{directory} is not a CIFAR-10 python-batches directory: missing {missing}.")
    images, labels = [], []
    for name in _SPLITS[split]:
        with open(directory / name, "rb") as f:
            batch = pickle.load(f, encoding="bytes")  # the official format is a pickle
        images.append(np.asarray(batch[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch[b"labels"], np.int64))
    return np.concatenate(images), np.concatenate(labels)
