"""ImageNet-style data: a folder per class of JPEG/PNG images (`DIR/train/<class>/*.jpg`,
`DIR/val/<class>/*.jpg`), with the paper's augmentation (Section 3.4): shorter side random
in [256, 480], random 224 crop, horizontal flip, AlexNet's PCA colour augmentation. Mean
subtraction is the model's first layer (`PixelMean`), as for CIFAR."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SCALE_RANGE = (256, 480)
CROP = 224
EVAL_SIZE = 256  # shorter side before the centre 224 crop
# Krizhevsky et al. (2012) colour augmentation: eigen-decomposition of the ImageNet RGB
# covariance (pixels in [0, 1]); each image is shifted by eigvec @ (alpha * eigval), alpha ~ N(0, 0.1).
PCA_EIGVAL = (0.2175, 0.0188, 0.0045)
PCA_EIGVEC = ((-0.5675, 0.7192, 0.4009), (-0.5808, -0.0045, -0.8140), (-0.5836, -0.6948, 0.4203))
PCA_STD = 0.1


def list_images(directory: str | os.PathLike) -> tuple[list[str], np.ndarray, list[str]]:
    """(image paths, int64 labels, class names): classes are the sorted sub-folder names."""
    directory = Path(directory)
    classes = sorted(p.name for p in directory.iterdir() if p.is_dir()) if directory.is_dir() else []
    paths, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (directory / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths += [str(p) for p in files]
        labels += [label] * len(files)
    if not paths:
        raise ValueError(
            f"`data_dir` folder {str(directory)!r} has no class sub-folders with {'/'.join(IMAGE_SUFFIXES)} "
            "images (expected DIR/train/<class>/*.jpg and DIR/val/<class>/*.jpg)."
        )
    return paths, np.asarray(labels, np.int64), classes


def decode(path):
    """A JPEG/PNG file as a float32 0-255 RGB image."""
    import tensorflow as tf

    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return tf.cast(image, tf.float32)


def resize_shorter(image, side):
    """Resize so that the shorter side is `side` (aspect kept)."""
    import tensorflow as tf

    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(side, tf.float32) / tf.reduce_min(shape)
    size = tf.cast(tf.round(shape * scale), tf.int32)
    return tf.image.resize(image, tf.maximum(size, side), antialias=True)


def centre_crop(image, size: int = CROP):
    import tensorflow as tf

    return tf.image.resize_with_crop_or_pad(image, size, size)


def colour_augment(image, seed):
    """AlexNet's PCA lighting noise on a 0-255 RGB image (`seed`: a stateless-op seed pair)."""
    import tensorflow as tf

    alpha = tf.random.stateless_normal([3], seed, stddev=PCA_STD)
    shift = tf.linalg.matvec(tf.constant(PCA_EIGVEC), alpha * tf.constant(PCA_EIGVAL))
    return image + 255.0 * shift


def train_transform(image, seeds):
    """Scale, crop, flip and colour augmentation, drawn from `seeds` (4 stateless-op seed pairs)."""
    import tensorflow as tf

    side = tf.random.stateless_uniform([], seeds[0], SCALE_RANGE[0], SCALE_RANGE[1] + 1, dtype=tf.int32)
    image = tf.image.stateless_random_crop(resize_shorter(image, side), [CROP, CROP, 3], seeds[1])
    image = tf.image.stateless_random_flip_left_right(image, seeds[2])
    return tf.clip_by_value(colour_augment(image, seeds[3]), 0.0, 255.0)


def eval_transform(image):
    return centre_crop(resize_shorter(image, EVAL_SIZE))


def pipeline(paths, labels, batch_size: int, *, training: bool, seed: int = 0, start: int = 0):
    """(float32 0-255 images, labels) batches: for training endless, reshuffled every epoch,
    augmented 224 crops, from image `start` of the stream on (a resumed run); for evaluation
    centre crops of the shorter-side-256 image."""
    import tensorflow as tf

    from keras_resnet.data import element_seeds, shuffled_epochs

    paths, labels = np.asarray(paths), np.asarray(labels)
    if training:
        files = shuffled_epochs(paths, labels, seed=seed, start=start).enumerate(start)
        ds = files.map(lambda position, example: (train_transform(decode(example[0]), element_seeds(seed, position, 4)),
                                                  example[1]), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        files = tf.data.Dataset.from_tensor_slices((paths, labels))
        ds = files.map(lambda p, y: (eval_transform(decode(p)), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)


def mean_image(paths, limit: int = 10_000, seed: int = 0) -> np.ndarray:
    """Per-pixel mean (224 x 224 x 3, 0-255) of the evaluation crops of up to `limit` randomly
    chosen training images: the paper's per-pixel mean, estimated."""
    chosen = np.random.default_rng(seed).permutation(len(paths))[:limit]
    total, count = np.zeros((CROP, CROP, 3), np.float64), 0
    for batch, _ in pipeline([paths[i] for i in chosen], np.zeros(len(chosen), np.int64), 64, training=False):
        total += batch.numpy().sum(axis=0)
        count += len(batch)
    return (total / count).astype(np.float32)
