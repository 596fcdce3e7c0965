"""The pretrained-weights registry, `weights/registry.json`: data, one entry per (weights
name, model, variant), read once into typed `Weights` entries, as torchvision's `ResNet50_Weights.IMAGENET1K_V1` and
timm's pretrained configs (`request.resolve_weights` turns a `weights=` value into one).

Kept free of Keras: the command line checks its arguments against the registry at once."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType

from keras_resnet.core.architectures import parse_model_id
from keras_resnet.core.arguments import did_you_mean
from keras_resnet.pretrained import hub
from keras_resnet.pretrained.download import WeightsFile, local_copy, weights_dir

KAGGLE_SCHEME = "kaggle://"  # Kaggle Models handles, as keras-hub's `from_preset` takes them


@dataclass(frozen=True)
class Preprocessing:
    """The input the weights were trained on: `preprocess_input` mode, and for ImageNet the
    evaluation centre crop (`crop_fraction` of the shorter side, resized to `size`). A timm
    config (`timm_configs`) also gives its resampling `interpolation`, its `mean` and `std` of
    [0, 1] RGB values (mode "torch"; None: ImageNet's) and timm's order (`resize_first`: the
    shorter side resized to floor(size / crop_fraction), then the central size x size)."""

    mode: str
    size: int
    crop_fraction: float | None = None
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    resize_first: bool = False


@dataclass(frozen=True)
class Evidence:
    """The published accuracy of the weights (`results`: e.g. top1_accuracy_percent), on what
    data, and who published it."""

    dataset: str
    source: str
    results: Mapping[str, float] = field(hash=False)


@dataclass(frozen=True)
class Weights:
    """Everything about one set of pretrained weights: what it fits (model, variant, shortcut,
    classes), its files (`notop`: a smaller headless one), their layout, the input it expects,
    its licence and the evidence for its accuracy."""

    name: str  # the `weights=` value: "imagenet", "cifar10", ...
    model: str  # model id: resnet50, cifar_resnet20, ...
    variant: str
    shortcut: str | None
    classes: int
    class_names: str  # the `decode_predictions` dataset
    format: str  # formats.WEIGHT_FORMATS
    file: WeightsFile
    notop: WeightsFile | None
    preprocessing: Preprocessing
    source: str
    license: str
    license_file: str | None
    accuracy: Evidence

    def file_for(self, include_top: bool) -> WeightsFile:
        """The headless file where one is published and the classifier is not wanted (a
        smaller download), else the full one."""
        return self.notop if not include_top and self.notop is not None else self.file

    def check_fits(self, *, include_top: bool, classes: int, input_shape: tuple) -> None:
        """Refuse, before building, arguments that these weights cannot serve."""
        check_serves(self.name, self.classes, include_top=include_top, classes=classes, input_shape=input_shape)


def check_serves(weights: str, weights_classes: int, *, include_top: bool, classes: int, input_shape: tuple) -> None:
    """Refuse, before building, arguments that ImageNet-style weights of `weights_classes`
    classes cannot serve: an input of other than 3 channels, another number of classes with
    the classifier."""
    if input_shape[-1] != 3:
        raise ValueError(
            f"weights={weights!r} were trained on RGB images: the input must have 3 "
            f"channels; received input_shape={input_shape!r}."
        )
    if include_top and classes != weights_classes:
        raise ValueError(
            f"weights={weights!r} with include_top=True need classes={weights_classes}; "
            f"received classes={classes}. Use include_top=False for a new classifier."
        )


def _weights(raw: dict) -> Weights:
    """One registry.json entry, typed; its input size is its model's."""
    arch, _ = parse_model_id(raw["model"])
    accuracy = dict(raw["accuracy"])
    return Weights(
        name=raw["weights"],
        model=raw["model"],
        variant=raw["variant"],
        shortcut=raw["shortcut"],
        classes=raw["classes"],
        class_names=raw["class_names"],
        format=raw["format"],
        file=WeightsFile(**raw["file"]),
        notop=WeightsFile(**raw["notop"]) if "notop" in raw else None,
        preprocessing=Preprocessing(size=arch.default_size, **raw["preprocessing"]),
        source=raw["source"],
        license=raw["license"],
        license_file=raw.get("license_file"),
        accuracy=Evidence(accuracy.pop("dataset"), accuracy.pop("source"), MappingProxyType(accuracy)),
    )


@cache
def entries() -> tuple[Weights, ...]:
    """Every registry entry, read once."""
    with open(weights_dir() / "registry.json", encoding="utf-8") as f:
        return tuple(_weights(raw) for raw in json.load(f)["entries"])


def names() -> list[str]:
    return sorted({e.name for e in entries()})


def list_weights(model: str | None = None) -> list[dict]:
    """One row per registry entry (of `model`, a model id, if given): the `weights=` name, the
    model and variant it fits (`shown_variant`), its licence, source, published top-1/top-5 (%, None where none is
    published), how a copy is verified (`check`: the full hash, or a prefix pinned on first use)
    and whether a verified copy is already here ("shipped", "cached" in the cache or
    $KERAS_RESNET_WEIGHTS_DIR, "damaged": a copy there fails its hash, or "no": downloaded on
    first use), with its size in MB if so. Each copy found is hashed, never pinned."""
    if model is not None:
        parse_model_id(model)  # an unknown id is refused naming the ids accepted
    rows = []
    for e in entries():
        if model is not None and e.model != model:
            continue
        (here, verified), results = local_copy(e.file), e.accuracy.results
        error = results.get("top1_error_percent")  # the CIFAR checkpoints publish their error
        rows.append({
            "weights": e.name, "model": e.model, "variant": shown_variant(e), "license": e.license,
            "size_mb": here.stat().st_size / 1e6 if verified else None,
            "top1": results.get("top1_accuracy_percent", None if error is None else 100 - error),
            "top5": results.get("top5_accuracy_percent"),
            "check": e.file.hash_algorithm + (f"[:{len(e.file.hash)}]+pin" if e.file.is_prefix else ""),
            "here": "no" if here is None else "damaged" if not verified else "shipped" if e.file.url is None
            else "cached",
            "source": e.source.split(" (")[0].split(";")[0],
        })
    return rows


def shown_variant(entry: Weights) -> str:
    """The network `entry` fits as users name it: "v2" for a pre-activation net (He et al. 2016),
    whose stride sits in a 3x3 as v1.5's does (its `variant`), though the nets differ in every block."""
    return "v2" if parse_model_id(entry.model)[0].preact else entry.variant


def check_weights(weights) -> str | None:
    """What a `weights=` value names: None, "registry" (one of `names()`), "hub" (a Hugging Face
    Hub handle, `hub.parse_handle`; a malformed one is refused here), "file" (an existing file,
    read by `formats.open_weights`), "directory" (an existing one: a keras-hub preset,
    `keras_hub_presets`) or "kaggle" (a `kaggle://` handle of one); anything else is refused
    naming what is accepted. Reads no file and asks no server, so the command line checks
    --weights with it before Keras loads."""
    if weights is None:
        return None
    if isinstance(weights, str) and weights in names():
        return "registry"
    if isinstance(weights, str) and weights.startswith(KAGGLE_SCHEME):
        return "kaggle"
    if hub.is_handle(weights):
        hub.parse_handle(weights)
        return "hub"
    if isinstance(weights, (str, os.PathLike)) and Path(weights).is_file():
        return "file"
    if isinstance(weights, (str, os.PathLike)) and Path(weights).is_dir():
        return "directory"
    raise ValueError(
        f"`weights` must be None, a registry name ({', '.join(names())}), the path to an existing weights file "
        f"(.h5, .safetensors, .pth) or keras-hub preset directory, a Hugging Face Hub handle ({hub.HANDLE_FORM}) "
        f"or a {KAGGLE_SCHEME} handle; received weights={weights!r}." + did_you_mean(weights, names())
    )


def entries_for(name: str, model: str) -> list[Weights]:
    """The entries of registry weights `name` for the model id `model`, refused naming the
    models that have them if there is none."""
    for_model = [e for e in entries() if e.name == name and e.model == model]
    if not for_model:
        have = sorted({e.model for e in entries() if e.name == name})
        raise ValueError(f"weights={name!r} exist for {have}, not for {model!r}.")
    return for_model


def entry_for(name: str, model: str, *, variant: str | None, shortcut: str | None, kind: str) -> Weights:
    """The entry of weights `name` for `model` (and `variant`, where the block `kind` has one;
    for None the first listed: keras.applications' v1 before torchvision's v1.5), refusing
    arguments that contradict every entry."""
    for_model = entries_for(name, model)
    # basic blocks have no 1x1 conv, so v1 and v1.5 are the same network
    matches = [e for e in for_model if kind == "basic" or variant in (None, e.variant)]
    if not matches or matches[0].shortcut != shortcut:
        offered = ", ".join(f"variant={e.variant!r} shortcut={e.shortcut!r}" for e in for_model)
        raise ValueError(
            f"weights={name!r} for {model} exist with {offered}; received variant={variant!r}, shortcut={shortcut!r}."
        )
    return matches[0]
