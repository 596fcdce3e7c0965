"""What the `explain` command writes: per image file a PNG of the image under its Grad-CAM heat
map, titled with the class explained and the model's top 3 classes. Everything is computed and
every output checked before the first file is written, and each file is written whole or not at all."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import keras
import numpy as np

from keras_resnet.core.arguments import did_you_mean, display_path
from keras_resnet.core.atomic import check_replaceable, replacing
from keras_resnet.explain.gradcam import grad_cam, overlay

TOP = 3
SHOWN_CLASSES = 12  # class names listed in a refusal (ImageNet has 1,000)


def class_index(class_name: str | None, names: Sequence[str]) -> int | None:
    """The index of `class_name` among the model's class names (None: each image's top class)."""
    if class_name is None:
        return None
    if class_name in names:
        return list(names).index(class_name)
    more = f", ... ({len(names)} classes)" if len(names) > SHOWN_CLASSES else ""
    raise ValueError(f"`class_name` {class_name!r} is not a class of the model; its classes are "
                     f"{', '.join(map(repr, names[:SHOWN_CLASSES]))}{more}." + did_you_mean(class_name, names))


def picture_paths(paths: Sequence[str | os.PathLike], output: str | os.PathLike) -> list[Path]:
    """`output`/<image file stem>.png, numbered (-2, -3, ...) where two images share a stem; each
    checked to be absent. A file there, even a PNG, is never replaced: it may be an input image
    (`explain photo.png --output .`) or any of the user's. Refused rather than given another name:
    the pictures keep the names a user (or a script) looks for, and a numbered copy would leave
    the older file under the expected name, looking like this run's."""
    output, named = Path(output), []
    for path in paths:
        stem = name = Path(path).stem
        copy = 1
        while name in named:
            copy += 1
            name = f"{stem}-{copy}"
        named.append(name)
    pictures = [output / f"{name}.png" for name in named]
    if output.exists() and not output.is_dir():
        raise ValueError(f"`output` {str(output)!r} is a file; the pictures are written into a directory.")
    for picture in pictures:
        if os.path.lexists(picture):
            raise _exists(picture)
        check_replaceable(picture, "Grad-CAM picture (PNG)", lambda _: False)  # a file in place of a folder
    return pictures


def _exists(picture: Path) -> ValueError:
    return ValueError(f"`output` {display_path(picture.parent)} already holds {display_path(picture.name)}; "
                      "explain writes only new files, never over one it did not write in this run (an input image, "
                      "an earlier picture): choose another `output` or move that file.")


def write_explanations(model: keras.Model, images: Iterable[np.ndarray], paths: Sequence[str | os.PathLike],
                       names: Sequence[str], output: str | os.PathLike, class_name: str | None = None) -> list[Path]:
    """A picture per image (0-255 RGB, as `model` takes it) of `paths`, written into `output`;
    the maps are of `class_name` (default: each image's top class). `images` may be a generator
    (`model_inputs`): one is read at a time. Returns the files written."""
    wanted = class_index(class_name, names)
    pictures = picture_paths(paths, output)
    drawn = []
    for image, path in zip(images, paths):
        image = np.asarray(image, dtype="float32")[None]
        scores = np.asarray(model.predict_on_batch(image))[0]
        if not np.isfinite(scores).all():  # as grad_cam refuses them, but naming the file
            raise ValueError(f"`model` {model.name!r} gives NaN or infinite scores for {display_path(path)}; "
                             "there is no top class to explain.")
        explained = int(scores.argmax()) if wanted is None else wanted
        top = ", ".join(f"{names[i]} {scores[i]:.2f}" for i in np.argsort(-scores)[:TOP])
        drawn.append((overlay(image, grad_cam(model, image, explained))[0], f"Grad-CAM: {names[explained]}\n{top}"))
    Path(output).mkdir(parents=True, exist_ok=True)
    for picture, (pixels, title) in zip(pictures, drawn):
        _save(picture, pixels, title)
    return pictures


def _save(path: Path, pixels: np.ndarray, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # the `train` extra; no display needed
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.2, 3.7), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.05, 0.02, 0.9, 0.78))
    axes.imshow(pixels, interpolation="nearest" if max(pixels.shape[:2]) < 100 else "antialiased")
    axes.set_axis_off()
    figure.suptitle(title, fontsize=9, y=0.97)
    try:
        with replacing(path, exclusive=True) as tmp:  # a file that appeared since `picture_paths` is kept
            figure.savefig(tmp, format="png")
    except FileExistsError:
        raise _exists(path) from None
