"""keras-hub ResNet presets read as data, without keras_hub: a preset directory (what
`save_to_preset` writes, and what `hf://keras/<name>` and `kaggle://keras/<model>/keras/<variant>`
hold) becomes the model id it builds, its weights in our layout and its preprocessing.

keras-hub's layout (keras_hub/src/utils/preset_utils.py): `config.json`, the backbone's Keras
config (`registered_name` "keras_hub>ResNetBackbone"); `model.weights.h5`, its Keras 3 weights
file; for a classifier also `task.json` and `task.weights.h5` (its `predictions` Dense), and
`image_converter.json` (resize to `image_size`, then `x * scale + offset`). A Keras 3 weights
file addresses layers by class and position (`layers/conv2d_7/vars/0`); since Keras 3.6 each
`vars` group records its layer's name, which is what is read here.

keras-hub's ResNetBackbone (keras_hub/src/models/resnet/resnet_backbone.py) names its layers
`conv1_conv` (stem; a deep stem `conv1..3_conv`), `stack{s}_block{b}_{i}_conv/_bn` (stacks and
blocks from 0; `_0_` the projection), strides its bottlenecks in the 3x3 (v1.5) and pads as
PyTorch: its ResNet (`resnet_*`, timm's resnet*) is our resnet{depth}, its ResNet-vd
(`resnet_vd_*`: deep stem, average-pool shortcut) our resnet{depth}d, weight for weight.
Refused: its ResNetV2 (timm's resnetv2_*: the stride in each stage's first block and a -inf
padded max-pool, where keras.applications' V2, ours, strides in the last block) and the basic
"vd" blocks (PaddleClas' projection on conv2_block1), each in one line naming the preset.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import h5py

from keras_resnet.core.architectures import BLOCK_KINDS, parse_model_id
from keras_resnet.core.arguments import file_problem, is_integer
from keras_resnet.core.names import CLASSIFIER, STEM, block_name
from keras_resnet.data.image_folders import CROP, IMAGENET_MEAN, IMAGENET_STD
from keras_resnet.pretrained.formats import (
    FLOAT_DTYPES,
    Layout,
    _check_dtype,
    _guarded,
    _h5_weight,
    check_stored_inside,
)
from keras_resnet.pretrained.registry import KAGGLE_SCHEME, Preprocessing

CONFIG_FILE, WEIGHTS_FILE = "config.json", "model.weights.h5"
TASK_FILE, TASK_WEIGHTS_FILE, CONVERTER_FILE = "task.json", "task.weights.h5", "image_converter.json"
BACKBONE = "keras_hub>ResNetBackbone"
CLASSIFIER_TASK = "keras_hub>ResNetImageClassifier"
CONVERTERS = ("keras_hub>ResNetImageConverter", "keras_hub>ImageConverter")
CONFIG_BYTES = 1 << 20  # a ResNet preset's JSON files are 1-6 KB; more is not one
WEIGHTS_BYTES = 1 << 30  # keras-hub's largest ResNet, resnet_vd_200, holds 75M float32 values (0.3 GB)
# a preset's files, each with the most bytes it can hold, as `hub.fetch_files` fetches them for an hf:// handle
FILES = {CONFIG_FILE: CONFIG_BYTES, "image_converter.json": CONFIG_BYTES, "task.json": CONFIG_BYTES,
         WEIGHTS_FILE: WEIGHTS_BYTES, "task.weights.h5": WEIGHTS_BYTES}
REQUIRED = (CONFIG_FILE, WEIGHTS_FILE)
MAX_IMAGE_SIDE = 4 * CROP  # the preprocessing crop's side (timm's ResNets test at 320 at most)
# keras-hub's stem (input_conv_filters, input_conv_kernel_sizes) and shortcut (a "_vd" block_type:
# average pool, then projection) -> the letter of our model id (timm's: architectures)
LETTERS: dict[tuple[tuple[int, ...], tuple[int, ...], bool], str] = {
    ((64,), (7,), False): "",  # the paper's 7x7 stem, projection shortcuts (B): keras-hub's resnet_*
    ((32, 32, 64), (3, 3, 3), True): "d",  # keras-hub's resnet_vd_*
    ((32, 32, 64), (3, 3, 3), False): "c",
    ((64, 64, 128), (3, 3, 3), False): "s",
    ((24, 32, 64), (3, 3, 3), True): "t",
}
STAGE_FILTERS, STAGE_STRIDES = (64, 128, 256, 512), (1, 2, 2, 2)
# keras.applications' modes as a mean and std of [0, 1] pixels ("caffe" flips RGB to BGR, which no scale does)
MODES = {"torch": (IMAGENET_MEAN, IMAGENET_STD), "tf": ((0.5,) * 3, (0.5,) * 3)}
_BLOCK_LAYER = re.compile(r"stack(\d{1,3})_block(\d{1,4})_([0-3])(_conv|_bn)")
_STEM_LAYER = re.compile(r"conv([1-3])(_conv|_bn)")
_KAGGLE_HANDLE = re.compile(r"[\w.-]+/[\w.-]+/keras/[\w.-]+(/[0-9]+)?")


@dataclass(frozen=True)
class KerasHubPreset:
    """A keras-hub ResNet preset as the builder needs it: the model id and shortcut it builds
    (v1.5: keras-hub strides its bottlenecks in the 3x3), its classifier's classes (None: no
    classifier we build, `no_top` says why), its image converter as our `Preprocessing` (None
    where it has none or none of our modes) and its weights in our layout, readable while open."""

    source: str  # `weights=...` as given, for messages
    model: str
    shortcut: str
    classes: int | None
    no_top: str
    preprocessing: Preprocessing | None
    layers: Layout
    variant: str = "v1.5"

    def check_builds(self, model: str, shortcut: str | None) -> None:
        """Refuse, before building, a model these weights are not for."""
        if model != self.model:
            raise ValueError(f"{self.source} is a keras-hub preset of {self.model}, not of {model}: build it with "
                             f"kr.build_by_id({self.model!r}, weights=...).")
        if shortcut != self.shortcut:
            raise ValueError(f"{self.source} has option {self.shortcut} shortcuts; received shortcut={shortcut!r}.")

    def check_fits(self, *, include_top: bool, classes: int) -> None:
        """Refuse, before building, a classifier the preset does not have."""
        if include_top and self.classes is None:
            raise ValueError(f"{self.source} has no classifier for include_top=True: {self.no_top}. Use "
                             "include_top=False (and `pooling`) for its features or a new classifier.")
        if include_top and classes != self.classes:
            raise ValueError(f"{self.source} with include_top=True need classes={self.classes}; received "
                             f"classes={classes}. Use include_top=False for a new classifier.")


@contextmanager
def open_preset(directory: str | os.PathLike, argument: str) -> Iterator[KerasHubPreset]:
    """The preset in `directory` (`argument`: the `weights=` value that named it), its weights
    files open until the block ends. Everything is checked before a weight is read: the config
    (a ResNetBackbone we build), the files (HDF5 data stored inside them, declared sizes, float
    dtypes, every weighted layer one of ours); anything else is a ValueError naming `argument`."""
    source, directory = f"weights={argument!r}", Path(directory)
    config = _json(directory, CONFIG_FILE, source)
    if config is None:
        raise ValueError(f"{source} is not a keras-hub preset: {directory} has no {CONFIG_FILE}.")
    model, shortcut, stem_convs = model_for(config, source)
    task, converter = _json(directory, TASK_FILE, source), _json(directory, CONVERTER_FILE, source)
    classes, no_top = _classifier(task, directory)
    with ExitStack() as files:
        layers = _keras_weights(files, directory / WEIGHTS_FILE, source, stem_convs)
        if classes is not None:
            head = _keras_weights(files, directory / TASK_WEIGHTS_FILE, source, stem_convs)
            if set(head) != {CLASSIFIER}:
                raise ValueError(f"{source}: {TASK_WEIGHTS_FILE} holds {sorted(head)}, where a ResNetImageClassifier "
                                 f"has its {CLASSIFIER!r} layer only.")
            layers |= head
        yield KerasHubPreset(source, model, shortcut, classes, no_top, _preprocessing(converter, source),
                             layers)


def is_preset(config: dict) -> bool:
    """Whether a repository's config.json is a keras-hub one (a registered keras_hub class), not timm's."""
    return isinstance(config.get("registered_name"), str) and config["registered_name"].startswith("keras_hub>")


def model_for(config: dict, source: str) -> tuple[str, str, int]:
    """(model id, shortcut option, stem convolutions) of a ResNetBackbone config, refused in one
    line naming what we do not build."""
    if config.get("registered_name") != BACKBONE or not isinstance(config.get("config"), dict):
        found = config.get("registered_name") or config.get("architecture")  # timm's config names its architecture
        what = f"describes {found!r}" if found else "names no keras-hub class"
        raise ValueError(f"{source}: its {CONFIG_FILE} {what}, not a keras-hub ResNet ({BACKBONE!r}).")
    config = config["config"]
    if config.get("use_pre_activation", False) is not False:
        raise ValueError(
            f"{source}: keras-hub's ResNetV2 (use_pre_activation={config.get('use_pre_activation')!r}; timm's "
            "resnetv2_*) strides in each stage's first block and pads its max-pool with -inf; our V2 nets are "
            "keras.applications' (the stride in each stage's last block). Its ResNet and ResNet-vd presets load.")
    block_type = config.get("block_type")
    if block_type not in ("basic_block", "bottleneck_block", "bottleneck_block_vd"):
        raise ValueError(
            f"{source}: block_type={block_type!r} is not built here: " +
            ("keras-hub's basic 'vd' blocks (resnet_vd_18/34, from PaddleClas) project conv2_block1's shortcut, "
             "which timm's resnet18d/34d and ours keep an identity." if block_type == "basic_block_vd" else
             "accepted 'basic_block', 'bottleneck_block' and 'bottleneck_block_vd'."))
    kind, avg_down = block_type.split("_")[0], block_type.endswith("_vd")
    fields = {key: _ints(config, key, source) for key in ("input_conv_filters", "input_conv_kernel_sizes",
                                                          "stackwise_num_filters", "stackwise_num_strides",
                                                          "stackwise_num_blocks")}
    for key, ours in (("stackwise_num_filters", STAGE_FILTERS), ("stackwise_num_strides", STAGE_STRIDES)):
        if fields[key] != ours:
            raise ValueError(f"{source}: {key}={list(fields[key])} is not built here; our ResNets have {list(ours)}.")
    stem = (fields["input_conv_filters"], fields["input_conv_kernel_sizes"], avg_down)
    if stem not in LETTERS:
        built = "; ".join(f"{list(f)}, {list(k)}{' with vd blocks' if d else ''}" for f, k, d in LETTERS)
        raise ValueError(f"{source}: input_conv_filters={list(stem[0])}, input_conv_kernel_sizes={list(stem[1])} "
                         f"with block_type={block_type!r} is a stem not built here; built: {built}.")
    blocks = fields["stackwise_num_blocks"]
    model = f"resnet{2 + sum(blocks) * len(BLOCK_KINDS[kind]['kernels'])}{LETTERS[stem]}"
    what = f"{kind} blocks {list(blocks)} with input_conv_filters={list(stem[0])}"
    try:
        arch, _ = parse_model_id(model)
    except ValueError:
        raise ValueError(f"{source}: its config ({what}) would be {model}, not one of our model ids.") from None
    if (arch.kind, arch.blocks, arch.preact, arch.groups, arch.width_per_group) != (kind, blocks, False, 1, 64):
        raise ValueError(f"{source}: its config ({what}) is no model of ours; {model} has {arch.kind} blocks "
                         f"{list(arch.blocks)}.")
    return model, "D" if avg_down else "B", len(stem[0])


def _ints(config: dict, key: str, source: str) -> tuple[int, ...]:
    value = config.get(key)
    if not (isinstance(value, list) and 0 < len(value) <= 8 and all(is_integer(v) and v > 0 for v in value)):
        raise ValueError(f"{source}: {key}={value!r} in its {CONFIG_FILE} is not a list of positive integers.")
    return tuple(value)


def _json(directory: Path, name: str, source: str) -> dict | None:
    """A preset's JSON file (None where it has none), bounded, as data."""
    path = directory / name
    problem = file_problem(path)
    if problem is not None:
        if problem == "missing":
            return None
        raise ValueError(f"{source}: {path} is {problem}.")
    if path.stat().st_size > CONFIG_BYTES:
        raise ValueError(f"{source}: {path} has {path.stat().st_size:,} bytes, more than the {CONFIG_BYTES:,} a "
                         "keras-hub preset's JSON file takes; refused unread.")
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{source}: {path} is not JSON ({type(e).__name__}: {str(e)[:200]}).") from None
    if not isinstance(data, dict):
        raise ValueError(f"{source}: {path} holds a {type(data).__name__}, not a keras-hub config (an object).")
    return data


def _classifier(task: dict | None, directory: Path) -> tuple[int | None, str]:
    """(classes, "") of a ResNetImageClassifier we build (average pooling, a weights file), else
    (None, why not)."""
    if task is None:
        return None, f"it is a backbone preset, headless (no {TASK_FILE})"
    config = task.get("config") if isinstance(task.get("config"), dict) else {}
    if task.get("registered_name") != CLASSIFIER_TASK:
        return None, f"its {TASK_FILE} is of {task.get('registered_name')!r}, not {CLASSIFIER_TASK!r}"
    if config.get("pooling") != "avg":
        return None, f"its classifier pools by {config.get('pooling')!r}, ours by average ('avg')"
    classes = config.get("num_classes")
    if not (is_integer(classes) and classes > 0):
        return None, f"its {TASK_FILE} has num_classes={classes!r}"
    if file_problem(directory / TASK_WEIGHTS_FILE) == "missing":
        return None, f"it has no {TASK_WEIGHTS_FILE}"
    return int(classes), ""


def layer_name(name: str, stem_convs: int) -> str | None:
    """Our layer name for a keras-hub ResNetBackbone (or classifier) layer that has weights:
    stack1_block0_0_conv -> conv3_block1_0_conv, a deep stem's conv2_bn -> conv1_2_bn; None for
    any other name."""
    if name == CLASSIFIER:
        return CLASSIFIER
    m = _BLOCK_LAYER.fullmatch(name)
    if m:
        return f"{block_name(int(m[1]) + 2, int(m[2]) + 1)}_{m[3]}{m[4]}"
    m = _STEM_LAYER.fullmatch(name)
    if m and int(m[1]) <= stem_convs:
        return STEM + m[2] if stem_convs == 1 else f"{STEM}_{m[1]}{m[2]}"
    return None


def _keras_weights(files: ExitStack, path: Path, source: str, stem_convs: int) -> Layout:
    """A Keras >= 3.6 weights file (`layers/<class>_<n>/vars/<i>`, the layer's name in the
    `vars` group's `name` attribute) in our layout; open in `files`."""
    what = f"{source}: {path}"
    problem = file_problem(path)
    if problem is not None:
        sharded = problem == "missing" and file_problem(path.with_name("model.weights.json")) is None
        raise ValueError(f"{what} is {problem}: " + ("its weights are sharded (model.weights.json), as keras-hub "
                                                    "shards models over 10 GB, not a ResNet" if sharded else
                                                    "a keras-hub preset keeps its weights there") + ".")
    try:
        f = files.enter_context(h5py.File(path, "r"))
    except OSError as e:
        raise ValueError(f"{what} is not a readable HDF5 file ({e}).") from None
    check_stored_inside(f, what, os.path.getsize(path))
    groups = f.get("layers")
    if not isinstance(groups, h5py.Group):
        raise ValueError(f"{what} has no `layers` group: not a Keras 3 weights file (`save_weights`).")
    layout: Layout = {}
    for key, group in groups.items():
        variables = group.get("vars") if isinstance(group, h5py.Group) else None
        if not isinstance(variables, h5py.Group) or not len(variables):
            continue  # a layer without weights (padding, pooling, activation)
        name = variables.attrs.get("name")
        name = name.decode(errors="replace") if isinstance(name, bytes) else name
        if not isinstance(name, str):
            raise ValueError(f"{what}: layers/{key} records no layer name, as Keras before 3.6 wrote its files; "
                             "load the preset with keras_hub and save_to_preset it again with Keras >= 3.6.")
        ours = layer_name(name, stem_convs)
        if ours is None or ours in layout:
            raise ValueError(f"{what}: layer {name!r} (layers/{key}) is " + (
                "not one of a keras-hub ResNet's weighted layers" if ours is None else "there twice") + ".")
        if sorted(variables) != sorted(map(str, range(len(variables)))):
            raise ValueError(f"{what}: layers/{key}/vars holds {sorted(variables)[:5]}, not weights 0..k-1.")
        layout[ours] = []
        for i in range(len(variables)):
            try:
                weight = _h5_weight(variables[str(i)])
            except TypeError as e:
                raise ValueError(f"{what}: {e}.") from None
            _check_dtype(what, weight, FLOAT_DTYPES)
            layout[ours].append(replace(weight, read=_guarded(path, "Keras 3", weight.read)))
    return layout


def _preprocessing(converter: dict | None, source: str) -> Preprocessing | None:
    """keras-hub's image converter (resize to `image_size`, cropping to its aspect ratio, then
    `x * scale + offset`) as our `Preprocessing`, where its normalisation is one of our modes:
    a square `image_size` cropped to its aspect is our centre crop of the whole shorter side
    (crop_fraction 1.0); any other resize is left to the caller (no crop; `size` unused)."""
    if converter is None:
        return None
    if converter.get("registered_name") not in CONVERTERS or not isinstance(converter.get("config"), dict):
        raise ValueError(f"{source}: its {CONVERTER_FILE} is of {converter.get('registered_name')!r}, not one of "
                         f"{list(CONVERTERS)}.")
    config = converter["config"]
    scale, offset = _per_channel(config, "scale", 1.0, source), _per_channel(config, "offset", 0.0, source)
    # x * scale + offset = (x / 255 - mean) / std
    mean, std = [-o / s / 255 for o, s in zip(offset, scale)], [1 / s / 255 for s in scale]
    mode = next((m for m, (m_mean, m_std) in MODES.items()
                 if all(math.isclose(a, b, rel_tol=1e-5) for a, b in zip((*mean, *std), (*m_mean, *m_std)))), None)
    if mode is None:
        return None
    size = config.get("image_size")
    square = isinstance(size, list) and len(size) == 2 and size[0] == size[1] and is_integer(size[0])
    if square and not 0 < size[0] <= MAX_IMAGE_SIDE:
        raise ValueError(f"{source}: image_size={size!r} in its {CONVERTER_FILE}; sides up to {MAX_IMAGE_SIDE} load.")
    crop = square and config.get("crop_to_aspect_ratio", True) is True and not config.get("pad_to_aspect_ratio")
    return Preprocessing(mode, int(size[0]) if crop else CROP, 1.0 if crop else None)


def _per_channel(config: dict, key: str, default: float, source: str) -> tuple[float, float, float]:
    value = config.get(key)
    value = default if value is None else value
    values = value if isinstance(value, list) else [value] * 3
    if not (len(values) == 3 and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                                     for v in values)) or (key == "scale" and 0 in values):
        raise ValueError(f"{source}: {key}={value!r} in its {CONVERTER_FILE} is not a number or 3 finite numbers"
                         f"{' (non-zero)' if key == 'scale' else ''}.")
    return tuple(float(v) for v in values)


def kaggle_directory(handle: str) -> Path:
    """The local directory of a `kaggle://<owner>/<model>/keras/<variant>[/<version>]` handle,
    downloaded (or found in its cache) by kagglehub, Kaggle's client, where it is installed."""
    argument = f"weights={handle!r}"
    if not _KAGGLE_HANDLE.fullmatch(handle.removeprefix(KAGGLE_SCHEME)):
        raise ValueError(f"{argument} is not a Kaggle model handle: kaggle://<owner>/<model>/keras/<variant>"
                         "[/<version>], e.g. kaggle://keras/resnetv1/keras/resnet_50_imagenet/3.")
    try:
        import kagglehub
    except ImportError:
        raise ImportError(f"{argument} needs kagglehub (pip install kagglehub), Kaggle's client, to download it; "
                          "or download the preset elsewhere and pass its directory.") from None
    try:
        return Path(kagglehub.model_download(handle.removeprefix(KAGGLE_SCHEME)))
    except Exception as e:  # kagglehub's HTTP, authentication and cache errors, by cause
        cause = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
        raise OSError(f"{argument} could not be downloaded by kagglehub ({type(e).__name__}: {cause}); check the "
                      "handle on kaggle.com, your network and Kaggle credentials.") from e
