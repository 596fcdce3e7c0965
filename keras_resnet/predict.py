"""Using a trained model file, or a registry model id with pretrained weights: its error on
CIFAR-10 or an image folder, and the top classes of image files. Models from `train`, and
registry models built here with their weights' preprocessing, take raw 0-255 RGB images."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from keras_resnet.train import DATASETS, cifar10_splits
from keras_resnet.validation import check_choice, check_top, display_path


def load_trained(model_file: str | os.PathLike):
    """`keras.models.load_model` with `safe_mode` on, of a .keras archive checked first
    (`formats.check_keras_archive`): a file that would run code on loading (a `Lambda`'s
    bytecode, a function named in its config), read other files, allocate far more than it
    stores, or cannot be read is a ValueError."""
    import keras

    from keras_resnet import layers, preprocessing, training  # noqa: F401 (register the layers a file names)
    from keras_resnet.formats import check_keras_archive, model_refused

    if not Path(model_file).is_file():
        raise ValueError(f"`model_file` {str(model_file)!r} does not exist (a .keras file written by `train`).")
    check_keras_archive(model_file)
    try:
        return keras.models.load_model(model_file, safe_mode=True)
    except Exception as e:  # Keras raises ValueError, TypeError, KeyError, ... by what is wrong
        raise model_refused(f"`model_file` {str(model_file)!r}", e) from e


def model_from(model: str | os.PathLike, weights: str | None = None, *, preprocessing: bool = True):
    """A .keras file (`load_trained`), or a registry model id (e.g. cifar_resnet20) built with
    `weights`: registry weights (cifar10, imagenet) with, if `preprocessing`, their input
    normalisation built in, so that the model takes raw 0-255 RGB images; or a weights file."""
    if _is_model_file(model):
        if weights is not None:
            raise ValueError(f"`weights` applies to a model id; the .keras file {str(model)!r} carries its own "
                             f"weights (received weights={weights!r}).")
        return load_trained(model)
    from keras_resnet import registry
    from keras_resnet.builders import build_by_id

    registry_weights = weights in registry.names()
    return build_by_id(str(model), weights=weights, include_preprocessing=preprocessing and registry_weights)


def _is_model_file(model: str | os.PathLike) -> bool:
    """A .keras file (as `train` writes), not a model id."""
    return str(model).endswith(".keras")


def _pretrained(model: str | os.PathLike, weights: str | None):
    """`model_from` for classifying: a model id without weights would give random scores."""
    if weights is None and not _is_model_file(model):
        raise ValueError(f"`model` must be a .keras file or a model id with `weights` (e.g. cifar_resnet20 with "
                         f"weights='cifar10'); received model={str(model)!r} and no weights.")
    return model_from(model, weights)


def class_names_for(model_file: str | os.PathLike | None, classes: int) -> list[str]:
    """`classes.json` of the run beside the model file (if any); else CIFAR-10 or ImageNet by count."""
    from keras_resnet.preprocessing import class_names

    saved = None if model_file is None else Path(model_file).with_name("classes.json")
    if saved is not None and saved.is_file():
        try:
            names = json.loads(saved.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
            found = f"it is not UTF-8 JSON ({type(e).__name__}: {str(e)[:200]})"
        else:
            if isinstance(names, list) and len(names) == classes and all(isinstance(n, str) for n in names):
                return names
            count = f" of {len(names)}" if isinstance(names, list) else ""
            found = f"it holds a {type(names).__name__}{count}: {json.dumps(names)[:200]}"
        raise ValueError(f"`classes.json` {display_path(saved)} beside the model must be a JSON list of the model's "
                         f"{classes} class names (strings), as `train` writes it; {found}.")
    known = {10: "cifar10", 1000: "imagenet"}
    return [name for _, name in class_names(known[classes])] if classes in known else [str(i) for i in range(classes)]


def evaluate(model, dataset: str = "cifar10", data_dir=None, method: str = "centre", limit: int | None = None,
             weights: str | None = None) -> dict:
    """Top-1 error of `model` (a .keras file, or a model id with `weights`) on the CIFAR-10
    test split, or on `data_dir/val` by the paper's `method`."""
    from keras_resnet.evaluation import check_limit, evaluate_folder

    check_choice("dataset", dataset, DATASETS)
    check_limit(limit)
    if dataset == "cifar10":
        check_choice("method", method, ("centre",))  # 32x32 images are not cropped
    elif data_dir is None:
        raise ValueError("dataset='imagenet' needs `data_dir` holding val/ class folders.")
    built = _pretrained(model, weights)
    if dataset == "imagenet":
        return evaluate_folder(built, Path(data_dir) / "val", method, limit=limit)
    from keras_resnet.data import load_cifar10

    images, labels = cifar10_splits(None, 0).test if data_dir is None else load_cifar10(data_dir, "test")
    images, labels = images[:limit], labels[:limit]
    predictions = built.predict(images, batch_size=256, verbose=0)
    return {"images": len(labels), "top1_error": float(np.mean(np.argmax(predictions, axis=1) != labels))}


def predict_files(model, paths, top: int = 3, weights: str | None = None) -> list[list[tuple[str, float]]]:
    """Per image file, the `top` (class name, score), best first, by `model` (a .keras file,
    or a model id with `weights`). Images are brought to the model's input as in its
    evaluation: resized to a small fixed input (CIFAR), or shorter side 256 and centre 224
    crop (ImageNet)."""
    import tensorflow as tf

    from keras_resnet.folders import CROP, eval_transform, read_image

    built = _pretrained(model, weights)
    names = class_names_for(model if _is_model_file(model) else None, built.output_shape[-1])
    check_top(top, len(names))
    size = built.input_shape[1:3]
    images = []
    for path in paths:
        image = read_image(path)
        image = eval_transform(image) if size == (CROP, CROP) else image
        images.append(tf.image.resize(image, size, antialias=True) if None not in size else image)
    # predict_on_batch: `predict` in a loop grows memory (keras-team/keras#13118; BENCHMARKS.md)
    scores = np.concatenate([np.asarray(built.predict_on_batch(image[None])) for image in images])
    return [[(names[i], float(s[i])) for i in np.argsort(-s)[:top]] for s in scores]
