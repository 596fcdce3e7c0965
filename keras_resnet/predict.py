"""Using a trained model file: its error on CIFAR-10 or an image folder, and the top classes
of image files. Models from `train` take raw 0-255 RGB images (mean subtraction is inside)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from keras_resnet.train import DATASETS
from keras_resnet.validation import check_choice, check_top


def load_trained(model_file: str | os.PathLike):
    """`keras.models.load_model` with `safe_mode` on: a file that would run code on loading (a
    `Lambda`'s bytecode, a function named in its config) or cannot be read is a ValueError."""
    import keras

    if not Path(model_file).is_file():
        raise ValueError(f"`model_file` {str(model_file)!r} does not exist (a .keras file written by `train`).")
    try:
        return keras.models.load_model(model_file, safe_mode=True)
    except Exception as e:  # Keras raises ValueError, TypeError, KeyError, ... by what is wrong
        cause = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        raise ValueError(
            f"`model_file` {str(model_file)!r} was refused: it is not a model that loads with safe_mode=True, "
            f"which never runs code from the file ({type(e).__name__}: {cause})."
        ) from e


def class_names_for(model_file: str | os.PathLike, classes: int) -> list[str]:
    """`classes.json` of the run beside the model file; else CIFAR-10 or ImageNet by count."""
    from keras_resnet.preprocessing import class_names

    saved = Path(model_file).with_name("classes.json")
    if saved.is_file():
        return json.loads(saved.read_text())
    known = {10: "cifar10", 1000: "imagenet"}
    return [name for _, name in class_names(known[classes])] if classes in known else [str(i) for i in range(classes)]


def evaluate(model_file, dataset: str = "cifar10", data_dir=None, method: str = "centre", limit: int | None = None) -> dict:
    """Top-1 error on the CIFAR-10 test split, or on `data_dir/val` by the paper's `method`."""
    check_choice("dataset", dataset, DATASETS)
    model = load_trained(model_file)
    if dataset == "imagenet":
        from keras_resnet.evaluation import evaluate_folder

        if data_dir is None:
            raise ValueError("dataset='imagenet' needs `data_dir` holding val/ class folders.")
        return evaluate_folder(model, Path(data_dir) / "val", method, limit=limit)
    from keras_resnet.data import cifar10, load_cifar10

    check_choice("method", method, ("centre",))  # 32x32 images are not cropped
    images, labels = cifar10().test if data_dir is None else load_cifar10(data_dir, "test")
    images, labels = images[:limit], labels[:limit]
    predictions = model.predict(images, batch_size=256, verbose=0)
    return {"images": len(labels), "top1_error": float(np.mean(np.argmax(predictions, axis=1) != labels))}


def predict_files(model_file, paths, top: int = 3) -> list[list[tuple[str, float]]]:
    """Per image file, the `top` (class name, score), best first. Images are brought to the
    model's input as in its evaluation: resized to a small fixed input (CIFAR), or shorter
    side 256 and centre 224 crop (ImageNet)."""
    import tensorflow as tf

    from keras_resnet.folders import CROP, decode, eval_transform

    model = load_trained(model_file)
    names = class_names_for(model_file, model.output_shape[-1])
    check_top(top, len(names))
    size = model.input_shape[1:3]
    images = []
    for path in paths:
        if not Path(path).is_file():
            raise ValueError(f"image file {str(path)!r} does not exist.")
        try:
            image = decode(str(path))
        except tf.errors.InvalidArgumentError as e:  # not a JPEG/PNG/GIF/BMP, or cut short
            raise ValueError(f"image file {str(path)!r} is not a readable JPEG or PNG image ({e.message}).") from None
        image = eval_transform(image) if size == (CROP, CROP) else image
        images.append(tf.image.resize(image, size, antialias=True) if None not in size else image)
    # predict_on_batch: `predict` in a loop grows memory (keras-team/keras#13118; BENCHMARKS.md)
    scores = np.concatenate([np.asarray(model.predict_on_batch(image[None])) for image in images])
    return [[(names[i], float(s[i])) for i in np.argsort(-s)[:top]] for s in scores]
