"""Using a trained model file, or a registry model id with pretrained weights: the model, its
class names, and the top classes of image files. Models from `train`, and registry models
built here with their weights' preprocessing, take raw 0-255 RGB images."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np

from keras_resnet.core.arguments import check_top, display_path
from keras_resnet.data.image_folders import CROP, check_image_files, load_for_evaluation, load_resized, load_shorter
from keras_resnet.evaluation.sources import check_model, check_model_file, is_model_file
from keras_resnet.models import layers
from keras_resnet.models.builder import build_by_id
from keras_resnet.models.layers import graph_depth, use_fast_kernels
from keras_resnet.models.preprocessing import CentreCrop, class_names
from keras_resnet.pretrained import registry
from keras_resnet.pretrained.formats import check_keras_archive, model_refused
from keras_resnet.training import recipe

# imported for the classes they register with Keras, which .keras files name (`ErrorRate`: files from `train`)
REGISTERING = (layers, recipe)


def load_trained(model_file: str | os.PathLike):
    """`keras.models.load_model` with `safe_mode` on, of a .keras archive checked first
    (`formats.check_keras_archive`): a file that would run code on loading (a `Lambda`'s
    bytecode, a function named in its config), read other files, allocate far more than it
    stores, or cannot be read is a ValueError."""
    check_model_file(model_file)
    check_keras_archive(model_file)
    try:
        with graph_depth():
            return use_fast_kernels(keras.models.load_model(model_file, safe_mode=True))
    except Exception as e:  # Keras raises ValueError, TypeError, KeyError, ... by what is wrong
        raise model_refused(f"`model_file` {str(model_file)!r}", e) from e


def model_from(model: str | os.PathLike, weights: str | None = None, *, preprocessing: bool = True,
               variant: str | None = None):
    """A .keras file (`load_trained`), or a registry model id (e.g. cifar_resnet20) built with
    `weights` (and `variant`, the builders' argument): registry weights (cifar10, imagenet) or a Hub
    repository's with, if `preprocessing`, their input normalisation built in, so that the model takes raw 0-255 RGB
    images; or a weights file. Both are checked first (`sources.check_model`)."""
    check_model(model, weights)
    if is_model_file(model):
        return load_trained(model)
    known_input = registry.check_weights(weights) in ("registry", "hub")
    return build_by_id(str(model), weights=weights, include_preprocessing=preprocessing and known_input,
                       variant=variant)


def classifier(model: str | os.PathLike, weights: str | None):
    """`model_from` for classifying: a model id without weights would give random scores."""
    check_model(model, weights, classify=True)
    built = model_from(model, weights)
    shape = built.output_shape
    if len(built.outputs) != 1 or len(shape) != 2:  # a segmentation map, several heads: scores per image expected
        raise ValueError(f"`model` {display_path(model)} must be a classifier of one output of shape (batch, classes); "
                         f"its output shape is {shape}.")
    return built


def class_names_for(model_file: str | os.PathLike | None, classes: int) -> list[str]:
    """`classes.json` of the run beside the model file (if any); else CIFAR-10 or ImageNet by count."""
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


def named_classifier(model: str | os.PathLike, weights: str | None) -> tuple[keras.Model, list[str]]:
    """`classifier` and its class names (`class_names_for`)."""
    built = classifier(model, weights)
    return built, class_names_for(model if is_model_file(model) else None, built.output_shape[-1])


def model_inputs(built: keras.Model, paths, own_crop: bool = True) -> Iterator[np.ndarray]:
    """Each image file brought to `built`'s input as in its evaluation, one at a time: resized to
    a small fixed input (CIFAR), shorter side 256 and centre 224 crop (ImageNet, and an open input), or
    for a model with its own crop (`CentreCrop`) the shorter side that crop takes; float32 0-255
    RGB, as numpy arrays (TensorFlow decodes them; a model on JAX or torch takes no TensorFlow
    tensor). `own_crop=False` gives a model with its own crop the ImageNet crop too (Grad-CAM's
    pictures, whose maps cover the image given). Every file is checked from its header first, so
    a bad one is refused before any work; a JPEG is decoded at the smallest scale that holds the
    input, and only input-sized images are kept."""
    check_image_files(paths)
    size = built.input_shape[1:3]
    crop = next((layer for layer in built.layers if isinstance(layer, CentreCrop)), None) if own_crop else None
    for path in paths:
        # a model that crops itself (include_preprocessing) gets the shorter side its crop takes,
        # not a crop of a crop; an open input (a fully-convolutional model) gets the ImageNet crop: the
        # size its file was checked at (`formats.OPEN_SIDE`), where the whole image would cost up to 89
        # megapixels' activations
        if crop is not None:
            yield load_shorter(path, math.floor(crop.size / crop.crop_fraction))
        elif size == (CROP, CROP) or None in size:
            yield load_for_evaluation(path)
        else:
            yield load_resized(path, size)


def predict_files(model, paths, top: int = 3, weights: str | None = None) -> list[list[tuple[str, float]]]:
    """Per image file, the `top` (class name, score), best first, by `model` (a .keras file,
    or a model id with `weights`), of the images as `model_inputs` brings them, one at a time:
    memory does not grow with the number of files."""
    built, names = named_classifier(model, weights)
    check_top(top, len(names))
    # predict_on_batch: `predict` in a loop grows memory (keras-team/keras#13118; BENCHMARKS.md)
    scores = [np.asarray(built.predict_on_batch(image[None]))[0] for image in model_inputs(built, paths)]
    broken = [display_path(path) for path, s in zip(paths, scores) if not np.isfinite(s).all()]
    if broken:  # argsort ranks NaN first: a made-up top class with score nan
        raise ValueError(f"`model` {display_path(model)} gives NaN or infinite class scores for {len(broken)} of the "
                         f"{len(paths)} images ({', '.join(broken[:3])}{', ...' if len(broken) > 3 else ''}): its "
                         "weights are damaged, or it diverged in training.")
    return [[(names[i], float(s[i])) for i in np.argsort(-s)[:top]] for s in scores]
