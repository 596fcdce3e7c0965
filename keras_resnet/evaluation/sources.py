"""What a model argument names, checked without Keras: a .keras file (as `train` writes), or a
model id with weights. `predict.model_from` and `predict.classifier` check with it before they
load or build; the command line, before Keras is imported."""

from __future__ import annotations

import os
from pathlib import Path

from keras_resnet.core.architectures import parse_model_id
from keras_resnet.core.arguments import display_path
from keras_resnet.pretrained import registry

RUN_FILES = ("best.keras", "final.keras")  # the model files of a training run, the one to use first


def is_model_file(model: str | os.PathLike) -> bool:
    """A .keras file (as `train` writes), not a model id."""
    return str(model).endswith(".keras")


def check_model_file(model_file: str | os.PathLike) -> None:
    """`model_file` is a file (its contents are `formats.check_keras_archive`'s to check)."""
    if not Path(model_file).is_file():
        raise ValueError(f"`model_file` {display_path(model_file)} does not exist (a .keras file written by `train`).")


def check_model(model: str | os.PathLike, weights: str | None = None, *, classify: bool = False) -> None:
    """`model` is a .keras file that exists, without `weights` (it carries its own), or a model
    id (`parse_model_id`) with `weights` that exist for it (`registry.check_weights`); for
    `classify`, with weights (an id without them gives random scores). A training run's
    directory is refused naming its model file."""
    if is_model_file(model):
        if weights is not None:
            raise ValueError(f"`weights` applies to a model id; the .keras file {display_path(model)} carries its own "
                             f"weights (received weights={weights!r}).")
        check_model_file(model)
        return
    _check_not_a_run(Path(model))
    if classify and weights is None:
        raise ValueError(f"`model` must be a .keras file or a model id with `weights` (e.g. cifar_resnet20 with "
                         f"weights='cifar10'); received model={str(model)!r} and no weights.")
    parse_model_id(str(model))
    if registry.check_weights(weights) == "registry":
        registry.entries_for(weights, str(model))


def _check_not_a_run(folder: Path) -> None:
    """A training run's directory (its config.json or model files) is refused naming the file to give."""
    if folder.is_dir() and any((folder / name).is_file() for name in ("config.json", *RUN_FILES)):
        files = [folder / name for name in RUN_FILES if (folder / name).is_file()]
        use = (f"give its model file, {display_path(files[0])}" if files else
               f"it holds no model file yet ({RUN_FILES[0]} is written after the first epoch)")
        raise ValueError(f"`model` {display_path(folder)} is a training run's directory; {use}.")
