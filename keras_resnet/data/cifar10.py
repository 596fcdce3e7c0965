"""CIFAR-10 for training as in Section 4.2: the official python batches (or any subset of
them), the 45k/5k train/validation split, and `tf.data` pipelines with the paper's
augmentation (4-pixel zero pad, random 32x32 crop, horizontal flip)."""

from __future__ import annotations

import io
import math
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keras_resnet.core.arguments import display_path
from keras_resnet.data.stream import element_seeds, shuffled_epochs

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
_SPLITS = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
VALIDATION_FRACTION = 0.1  # the paper's 45k/5k split of the 50k training images
PAD = 4
MAX_BATCH_BYTES = 64 << 20
"""The largest batch file read: the official ones are 30.7 MB (10,000 images of 3,073 bytes and
a pickle's framing), so this allows batches of up to 2x their images, while a file of
gigabytes (a sparse one takes no disk) is refused from its size before a byte is read."""


def load_cifar10(directory: str | os.PathLike, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 N x 32 x 32 x 3 RGB, labels int64 N) of one split, in official order."""
    if split not in _SPLITS:
        raise ValueError(f"`split` must be one of {list(_SPLITS)}; received split={split!r}.")
    directory = Path(directory)
    check_cifar10_dir(directory, (split,))
    images, labels = [], []
    for name in _SPLITS[split]:
        data, batch_labels = _read_batch(directory / name)
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(batch_labels)
    return np.concatenate(images), np.concatenate(labels)


class _FileArray(np.ndarray):
    """A pickled array, filled only if its declared shape and integer dtype are exactly the
    bytes the file holds: numpy itself would allocate the declared shape first (and fill an
    object array), so a tiny file could ask for gigabytes."""

    def __setstate__(self, state):
        shape, dtype, raw = (state[1], state[2], state[-1]) if isinstance(state, tuple) and len(state) == 5 else (
            None, None, None)
        if not (isinstance(shape, tuple) and all(type(d) is int and d >= 0 for d in shape)
                and isinstance(dtype, np.dtype) and dtype.kind in "biu" and dtype.names is None
                and not dtype.hasobject and isinstance(raw, bytes) and math.prod(shape) * dtype.itemsize == len(raw)):
            raise pickle.UnpicklingError("it declares an array that is not an integer array of the bytes it holds")
        super().__setstate__(state)


class _BatchUnpickler(pickle.Unpickler):
    """The official format is a pickle, which may name any function to call: only what a
    batch holds (dicts, bytes, lists, ints, integer numpy arrays) is let through, each of the
    few callables a numpy array's pickle names only with the arguments numpy gives it."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("_codecs", "encode")}
    DTYPES = {f"{kind}{size}" for kind in "iu" for size in (1, 2, 4, 8)} | {"b1"}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it asks the unpickler for {module}.{name}, which no CIFAR-10 batch holds; "
                                         "refused without running it")
        found = super().find_class(module, name)
        return getattr(self, f"_{name.strip('_')}", found)

    class _ndarray:  # noqa: N801  what `numpy.ndarray` names: an argument of _reconstruct, never called
        def __init__(self, *args):  # numpy.ndarray((10**9,), "O") would fill 8 GB
            raise pickle.UnpicklingError("it calls numpy.ndarray itself, which numpy's pickles never do")

    @staticmethod
    def _reconstruct(subtype, shape, dtype) -> np.ndarray:
        if subtype is not _BatchUnpickler._ndarray:
            raise pickle.UnpicklingError("it asks numpy to rebuild something other than an ndarray")
        return _FileArray((0,), np.uint8)  # shape and dtype come from its checked state

    def _dtype(self, spec, align=False, copy=True) -> np.dtype:
        if spec not in self.DTYPES:
            raise pickle.UnpicklingError(f"it declares an array of dtype {str(spec)[:20]!r}, not an integer one")
        return np.dtype(spec, False, True)  # a copy: its pickled state is applied to it, never to numpy's own

    @staticmethod
    def _encode(text, encoding) -> bytes:  # how Python 3 writes bytes at protocol 2
        if not isinstance(text, str) or encoding != "latin1":
            raise pickle.UnpicklingError("it asks _codecs.encode for something other than latin1 bytes")
        return text.encode("latin1")


def _describe(value) -> str:
    """A short account of a value found in a batch, without walking it (a nested list can
    hold 2**30 references in a few hundred bytes)."""
    if isinstance(value, (bool, float, str, bytes, type(None))) or (type(value) is int and abs(value) < 10**9):
        return repr(value)[:40]
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return f"a {type(value).__name__}" + (f" of {len(value)}" if isinstance(value, (list, dict)) else "")


def _batch_problem(batch) -> str | None:
    """What makes an unpickled object not a batch (a dict with uint8 N x 3072 b'data' and N
    b'labels' in 0-9, N > 0), judged by types before anything is converted."""
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = f" with keys {sorted(map(_describe, batch))[:6]}" if isinstance(batch, dict) else ""
        return f"expected a dict with b'data' and b'labels'; found {_describe(batch)}{keys}"
    data, labels = batch[b"data"], batch[b"labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        return f"expected b'data' a uint8 N x 3072 array; found {_describe(data)}"
    if not len(data):
        return "it holds no images"
    if isinstance(labels, list):
        wrong = next((i for i, v in enumerate(labels) if type(v) is not int or not 0 <= v <= 9), None)
        if wrong is not None:
            return f"expected b'labels' integers in 0-9; found {_describe(labels[wrong])} at index {wrong}"
    elif not isinstance(labels, np.ndarray) or labels.dtype.kind not in "iu" or labels.ndim != 1 or (
            labels.size and not 0 <= labels.min() <= labels.max() <= 9):
        return f"expected b'labels' a list or 1-D array of integers in 0-9; found {_describe(labels)}"
    if len(labels) != len(data):
        return f"expected one label per image; found {len(labels)} labels for {len(data)} images"
    return None


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 N x 3072 rows, int64 labels 0-9) of one batch file, or a ValueError naming it."""
    size = path.stat().st_size
    if size > MAX_BATCH_BYTES:
        raise ValueError(f"`data_dir` file {display_path(path)} is not a CIFAR-10 python batch: it is {size:,} bytes, "
                         f"more than the {MAX_BATCH_BYTES:,} (MAX_BATCH_BYTES) of twice an official batch's images; "
                         "refused before reading it.")
    try:
        batch = _BatchUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
        problem = _batch_problem(batch)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, IndexError, AttributeError,
            OverflowError) as e:
        problem = str(e)
    if problem:
        raise ValueError(f"`data_dir` file {display_path(path)} is not a CIFAR-10 python batch: {problem}.")
    return np.asarray(batch[b"data"]), np.asarray(batch[b"labels"], np.int64)


def check_cifar10_dir(directory: str | os.PathLike, splits: tuple[str, ...] = tuple(_SPLITS)) -> None:
    """Raise a ValueError naming the missing files unless `directory` holds the splits' batches."""
    directory = Path(directory)
    missing = [name for split in splits for name in _SPLITS[split] if not (directory / name).is_file()]
    if missing:
        raise ValueError(
            f"`data_dir` {str(directory)!r} is not a CIFAR-10 python-batches directory "
            f"(cifar-10-batches-py): missing {missing}."
        )


@dataclass(frozen=True)
class Cifar10:
    """Images uint8 RGB and int64 labels of the three splits used in training."""

    train: tuple[np.ndarray, np.ndarray]
    validation: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]


def cifar10(directory: str | os.PathLike | None = None, validation_fraction: float = VALIDATION_FRACTION) -> Cifar10:
    """The train/validation/test splits. `directory=None` downloads through `keras.datasets`
    (a failed download, e.g. offline, is an OSError naming `data_dir` as the way round).

    Validation is the last `validation_fraction` of the training images (official order):
    5,000 of 50,000, the paper's 45k/5k split; 0 trains on all of them.
    """
    check_validation_fraction(validation_fraction)
    if directory is None:
        (x, y), test = _download()
    else:
        (x, y), test = load_cifar10(directory, "train"), load_cifar10(directory, "test")
    keep = len(x) - round(len(x) * validation_fraction)
    return Cifar10(train=(x[:keep], y[:keep]), validation=(x[keep:], y[keep:]), test=test)


def _download() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(train, test) from `keras.datasets`, labels flat int64. A failed fetch is an OSError
    saying so and naming `data_dir` (which the command line names --data-dir), not keras' bare
    Exception."""
    import keras  # deferred: `export`, which the command line imports before Keras, reads CIFAR files

    try:
        (x, y), (test_x, test_y) = keras.datasets.cifar10.load_data()
    except Exception as e:  # keras.utils.get_file raises a plain Exception for a failed fetch
        raise OSError(
            f"downloading CIFAR-10 (keras.datasets) failed: {' '.join(str(e).split())}. Without the network, "
            "pass `data_dir`: the folder of python batches (data_batch_1 ... test_batch) "
            "unpacked from cifar-10-python.tar.gz."
        ) from e
    return (x, y.reshape(-1).astype(np.int64)), (test_x, test_y.reshape(-1).astype(np.int64))


def check_validation_fraction(validation_fraction: float) -> None:
    if isinstance(validation_fraction, bool) or not isinstance(validation_fraction, (int, float)) or not (
        0 <= validation_fraction < 1
    ):
        raise ValueError(
            f"`validation_fraction` must be in [0, 1); received validation_fraction={validation_fraction!r}."
        )


def pixel_mean(images: np.ndarray) -> np.ndarray:
    """The per-pixel mean image (H x W x C, float32, 0-255) that the paper subtracts."""
    return np.mean(images, axis=0, dtype=np.float64).astype(np.float32)


def pipeline(images: np.ndarray, labels: np.ndarray, batch_size: int, *, training: bool, augment: bool = True,
             seed: int = 0, start: int = 0):
    """A `tf.data.Dataset` of (float32 0-255 images, int64 labels) batches. For training it is endless,
    reshuffled every epoch, starts at image `start` of the stream (`iterations x batch_size`
    for a resumed run), and (with `augment`) each image is padded by 4 zero pixels, randomly
    cropped back to 32x32 and flipped. Mean subtraction is the model's first layer, so saved
    models take raw images."""
    import tensorflow as tf

    # float32 batches: collective ops (MultiWorkerMirroredStrategy) cannot reduce uint8.
    as_float = lambda x, y: (tf.cast(x, tf.float32), y)  # noqa: E731
    if not training:
        return tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch_size).map(as_float).prefetch(
            tf.data.AUTOTUNE)
    ds = shuffled_epochs(images, labels, seed=seed, start=start)
    if augment:
        size = images.shape[1:]

        def crop_and_flip(position, example):
            x, y = example
            seeds = element_seeds(seed, position, 2)
            x = tf.image.stateless_random_crop(tf.pad(x, [[PAD, PAD], [PAD, PAD], [0, 0]]), size, seeds[0])
            return tf.image.stateless_random_flip_left_right(x, seeds[1]), y

        ds = ds.enumerate(start).map(crop_and_flip, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).map(as_float).prefetch(tf.data.AUTOTUNE)
