"""Weight files of the published layouts, read into ours: `{layer name: [weights in
layer.weights order]}` for bias-free convolutions and epsilon-1e-5 BatchNorm, giving the same
outputs as the original to float rounding.

- "keras_resnet": our HDF5 file, `/<layer>/<i>` (`loading.save_weights`).
- "keras_applications": the legacy Keras HDF5 weights of keras.applications ResNet50/101/152
  (the paper authors' Caffe weights): `layer_names`/`weight_names` attributes, names with
  `:0` when Keras 2 wrote them, without when Keras 3's legacy writer did.
- "torch": torchvision/timm state dicts (`conv1`, `bn1`, `layer{s}.{b}.conv{i}`,
  `downsample.0/1`, `fc`), also Idelbayev's CIFAR nets (`linear`), from `.safetensors` (no
  PyTorch needed) or `.pth`/`.th` (PyTorch, `weights_only=True`); and back
  (`to_torch_state_dict`, for `deploy.timm_export`), by the same names.

A file is read in two steps, so that a small file cannot make us read or allocate much:
`open_weights` lists each weight's name, shape and dtype (reading no data), the loader compares
them with the model's, and only then reads. An HDF5 file (ours, keras.applications', the
weights inside a `.keras` archive) is read only when all its data is stored inside it
(`check_stored_inside`): HDF5 can take a dataset's bytes from another file (external links and
storage, virtual datasets), which would put a local secret into the weights or hang on a FIFO.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import h5py
import keras
import numpy as np
from safetensors import SafetensorError, safe_open

from keras_resnet.core.architectures import BN_EPSILON, VARIANTS
from keras_resnet.core.arguments import file_problem
from keras_resnet.core.keras_internals import graph_steps, unallocated
from keras_resnet.core.names import BN, CLASSIFIER, CONV, STEM, block_name
from keras_resnet.data.image_folders import CROP

WEIGHT_FORMATS = ("keras_resnet", "keras_applications", "torch")
TORCH_SUFFIXES = (".pth", ".th", ".pt", ".bin")
ACCEPTED = (
    "a keras_resnet .h5 (keras_resnet.pretrained.loading.save_weights, keras-resnet convert), a keras.applications "
    ".h5, a torchvision/timm .safetensors or .pth state dict; a Keras `.weights.h5` from `model.save_weights` "
    "loads with `model.load_weights`"
)
# Integer and bool weights are refused too, not cast: no published file stores them, so one
# where a float belongs means a foreign file. bfloat16 only from PyTorch, which converts it.
FLOAT_DTYPES = ("float16", "float32", "float64")
TORCH_DTYPES = (*FLOAT_DTYPES, "bfloat16")
_SAFETENSORS_DTYPES = {"F16": "float16", "F32": "float32", "F64": "float64"}
EXPANSION = 16
"""A file (or archive member) may declare at most this many times the bytes it stores (and
always 1 MiB): uncompressed weights declare about 1x, compressed ones a few x, while an empty
chunked HDF5 dataset, a stride-0 tensor or a zip bomb declares gigabytes in kilobytes."""
FLOOR = 1 << 20
_STORED_INSIDE = {h5py.h5d.CONTIGUOUS: "contiguous", h5py.h5d.CHUNKED: "chunked", h5py.h5d.COMPACT: "compact"}
VARIANT_ATTRIBUTE = "variant"  # the root attribute of our files that records a bottleneck net's stride placement
_READ_ERRORS = (OSError, KeyError, TypeError, IndexError)  # h5py, torch and numpy on a damaged or foreign layout
KERAS_APPLICATIONS_BN_EPSILON = 1.001e-5
_TORCH_BN = ("weight", "bias", "running_mean", "running_var")  # = gamma, beta, moving mean, variance
_KERAS_ORDER = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance")
_KEY = re.compile(
    r"^(?:conv1|conv1\.(?P<stem>[0-9])|bn1|fc|linear"
    r"|layer(?P<s>\d+)\.(?P<b>\d+)\.(?:(?:conv|bn)(?P<i>\d+)|downsample\.(?P<d>[012])))\."
    r"(?P<param>weight|bias|running_mean|running_var|num_batches_tracked)$"
)
# timm's deep stems (ResNet-C/D/S/T): conv1.0/.1, .3/.4 and .6 with bn1 are conv-BN units 1-3 (ReLUs between)
_DEEP_STEM = {"0": ("1", CONV), "1": ("1", BN), "3": ("2", CONV), "4": ("2", BN), "6": ("3", CONV)}


@dataclass(frozen=True)
class Weight:
    """One weight as its file declares it, in our layout; the data is read by `read()` only."""

    where: str  # its name in the file
    shape: tuple[int, ...]
    dtype: str
    read: Callable[[], np.ndarray]


Layout = dict[str, list[Weight]]


@dataclass(frozen=True)
class OpenedWeights:
    """A weights file as one opening of it tells: its format, the bottleneck stride placement its
    weights were trained with (v1 for keras.applications', the paper authors' Caffe nets; v1.5
    for PyTorch state dicts, torchvision's and timm's; ours as `save_weights` recorded it; None
    where unknown), and its weights declared in our layout, readable while the file is open."""

    format: str
    variant: str | None
    layers: Layout


@contextmanager
def open_weights(path: str | os.PathLike, fmt: str | None = None) -> Iterator[OpenedWeights]:
    """Open any supported file once: format (detected unless `fmt` is given), variant and the
    declared weights (names, shapes, dtypes; no data read). A file that does not hold the format's
    layout (cut short, another format, another program's HDF5), holds weights that are not
    floats, declares far more than it stores, or would take data from elsewhere, raises a
    ValueError naming it."""
    path = _regular_file(path)
    if fmt is not None and fmt not in WEIGHT_FORMATS:
        raise ValueError(f"`format` must be one of {list(WEIGHT_FORMATS)}; received format={fmt!r}.")
    torch = fmt == "torch" or (fmt is None and path.suffix in (".safetensors", *TORCH_SUFFIXES))
    with nullcontext() if torch else _open_h5(path) as f:
        fmt = "torch" if torch else fmt or ("keras_applications" if _keras_applications_root(f) else "keras_resnet")
        try:
            layout = _torch(path) if torch else _H5_READERS[fmt](f, path)
        except _READ_ERRORS as e:
            raise _unreadable(path, fmt, e) from None
        variant = "v1.5" if torch else _recorded_variant(f, path) if fmt == "keras_resnet" else "v1"
        accepted = TORCH_DTYPES if torch and path.suffix != ".safetensors" else FLOAT_DTYPES
        for weights in layout.values():
            for weight in weights:
                _check_dtype(path, weight, accepted)
        yield OpenedWeights(fmt, variant, {name: [replace(w, read=_guarded(path, fmt, w.read)) for w in weights]
                                           for name, weights in layout.items()})


def _recorded_variant(f: h5py.File, path: Path) -> str | None:
    """The stride placement our file records; it chooses the network built, so a forged or
    damaged record is refused, never guessed from."""
    variant = f.attrs.get(VARIANT_ATTRIBUTE)
    variant = variant.decode(errors="replace") if isinstance(variant, bytes) else variant
    if variant is not None and not (isinstance(variant, str) and variant in VARIANTS):
        raise ValueError(f"{path}: its `{VARIANT_ATTRIBUTE}` attribute is {variant!r}, not one of "
                         f"{list(VARIANTS)}; not a file keras_resnet wrote.")
    return variant


def _regular_file(path: str | os.PathLike) -> Path:
    """Only a regular file is read (`arguments.file_problem`)."""
    what = file_problem(path)
    if what is not None:
        what += " (a directory, FIFO or device)" if what != "missing" else ""
        raise ValueError(f"{path} is not a weights file: it is {what}. Accepted: {ACCEPTED}.")
    return Path(path)


def _unreadable(path, fmt: str, e: Exception) -> ValueError:
    return ValueError(f"{path} is not a readable {fmt} weights file ({type(e).__name__}: {e}). Accepted: {ACCEPTED}.")


def _guarded(path, fmt: str, read: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    def guarded() -> np.ndarray:
        try:
            return read()
        except _READ_ERRORS as e:
            raise _unreadable(path, fmt, e) from None

    return guarded


def _check_dtype(path, weight: Weight, accepted: tuple[str, ...]) -> None:
    if weight.dtype not in accepted:
        raise ValueError(
            f"{path}: weight {weight.where!r} has dtype {weight.dtype}; weights must be one of {', '.join(accepted)}."
        )


def check_declared(source: str, declared: int, stored: int) -> None:
    """Refuse, before reading any, data declared far beyond the bytes that hold it (`EXPANSION`)."""
    if declared > max(FLOOR, EXPANSION * stored):
        raise ValueError(
            f"{source} declares {declared:,} bytes of data but stores {stored:,}; refused before reading any "
            f"(more than {EXPANSION}x is a decompression bomb or a damaged file, not weights)."
        )


def _derived(weight: Weight, fn: Callable[[np.ndarray], np.ndarray], shape: tuple[int, ...] | None = None) -> Weight:
    """`weight` with `fn` applied to its data when read (and its shape changed to `shape`)."""
    return replace(weight, shape=weight.shape if shape is None else shape, read=lambda: fn(weight.read()))


# --- HDF5 ------------------------------------------------------------------------------------

@contextmanager
def _open_h5(path: Path) -> Iterator[h5py.File]:
    """An HDF5 weights file, open once `check_stored_inside` passed."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path} is not a readable HDF5 weights file ({e}). Accepted: {ACCEPTED}.") from None
    with f:
        check_stored_inside(f, str(path), os.path.getsize(path))
        yield f


def check_stored_inside(f: h5py.File, source: str, size: int) -> None:
    """Walk every link of `f` without following any: only hard links, to groups and to datasets
    stored in the file itself (contiguous, chunked, compact), declaring together no more than
    `EXPANSION` x the file's `size`. Anything else is a ValueError naming `source` and the path."""
    declared = 0

    def outside(name: str, link) -> str | None:  # a message stops the walk (an exception cannot cross HDF5)
        nonlocal declared
        if not isinstance(link, h5py.HardLink):
            target = f"{link.filename}:{link.path}" if isinstance(link, h5py.ExternalLink) else link.path
            return (f"{name!r} is an HDF5 {type(link).__name__.removesuffix('Link').lower()} link (to {target}), "
                    "not data stored in the file itself; refused before reading any.")
        obj = f[name]
        if isinstance(obj, h5py.Dataset):
            layout = obj.id.get_create_plist().get_layout()
            if obj.is_virtual or obj.external or layout not in _STORED_INSIDE:
                where = ("a virtual dataset" if obj.is_virtual else f"external storage in {obj.external}"
                         if obj.external else f"storage layout {layout}")
                return (f"dataset {name!r} takes its data from outside the file ({where}); only data stored in "
                        f"the file itself ({', '.join(_STORED_INSIDE.values())}) is read.")
            declared += (obj.size or 0) * obj.dtype.itemsize
        return None

    found = f.visititems_links(outside)
    if found:
        raise ValueError(f"{source}: {found}")
    check_declared(source, declared, size)


def _h5_weight(dataset: h5py.Dataset | h5py.Group) -> Weight:
    if not isinstance(dataset, h5py.Dataset):
        raise TypeError(f"{dataset.name!r} is a group where a weight (dataset) belongs")
    return Weight(dataset.name.lstrip("/"), tuple(dataset.shape or ()), dataset.dtype.name,
                  lambda: np.asarray(dataset[()]))


def _keras_resnet_h5(f: h5py.File, path: Path) -> Layout:
    """Our layout, checked: every top-level item a group of datasets named 0..k-1."""
    layout = {}
    for name, group in f.items():
        if not isinstance(group, h5py.Group) or sorted(group) != sorted(map(str, range(len(group)))):
            raise ValueError(
                f"{path} is not a keras_resnet weights file: {name!r} is not a group of datasets 0..k-1. "
                f"Accepted: {ACCEPTED}."
            )
        layout[name] = [_h5_weight(group[str(i)]) for i in range(len(group))]
    return layout


def is_keras_resnet_file(path: Path) -> bool:
    """Whether `path` is a keras_resnet weights file (which `save_weights` may replace)."""
    try:
        with open_weights(path, "keras_resnet") as opened:
            return bool(opened.layers)
    except ValueError:
        return False


# --- keras.applications ------------------------------------------------------------------

def _attribute(group, name: str) -> list[str]:
    """An HDF5 string-list attribute, also when Keras split a long one into name0, name1, ..."""
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks = [group.attrs[f"{name}{i}"] for i in range(len(group.attrs)) if f"{name}{i}" in group.attrs]
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for chunk in chunks for v in chunk]


def _keras_applications_h5(f: h5py.File, path: Path) -> Layout:
    """A legacy Keras HDF5 weights (or whole-model) file, in our layout."""
    root = f["model_weights"] if "model_weights" in f else f
    layers = {}
    for layer in _attribute(root, "layer_names"):
        names = _attribute(root[layer], "weight_names")
        if names:
            # "conv1_conv/kernel:0" (Keras 2) or "conv1_conv/kernel" (Keras 3): order by role
            by_role = {n.rsplit("/", 1)[-1].removesuffix(":0"): _h5_weight(root[layer][n]) for n in names}
            layers[layer] = [by_role[role] for role in _KERAS_ORDER if role in by_role]
    return from_keras_applications(layers, str(path))


_H5_READERS = {"keras_resnet": _keras_resnet_h5, "keras_applications": _keras_applications_h5}
def _keras_applications_root(f: h5py.File) -> bool:
    """keras.applications' legacy layout (a weights or whole-model file), by its root."""
    return "layer_names" in f.attrs or "model_weights" in f


def from_keras_applications(layers: Mapping[str, list[Weight]], source: str) -> Layout:
    """keras.applications layers into our layout, exactly: a conv that a BN follows loses its
    bias, BN((conv + b) - mean) = BN(conv - (mean - b)); one that none follows (V2's
    projections, last 1x1s and stem) keeps it; the 1.001e-5 epsilon moves into the variance."""
    out: Layout = {}
    for name, values in layers.items():
        if name.endswith(CONV) and name.removesuffix(CONV) + BN in layers:
            out[name] = values[:1]
        elif name.endswith(BN) and len(values) == 4:  # else the loader reports the count
            gamma, beta, mean, var = values
            conv = layers.get(name.removesuffix(BN) + CONV, [])
            if len(conv) > 1:
                bias = conv[1]
                _check_dtype(source, bias, FLOAT_DTYPES)
                if bias.shape != mean.shape:
                    raise ValueError(
                        f"{source}: conv bias {bias.where!r} has shape {bias.shape}, its BatchNorm mean "
                        f"{mean.where!r} {mean.shape}; not a keras.applications ResNet file."
                    )
                mean = _derived(mean, lambda m, bias=bias: m - bias.read())
            out[name] = [gamma, beta, mean, _derived(var, lambda v: v + (KERAS_APPLICATIONS_BN_EPSILON - BN_EPSILON))]
        else:
            out[name] = list(values)
    return out


# --- PyTorch -------------------------------------------------------------------------------

def torch_layer_name(key: str, deep_stem: bool = False, avg_down: bool = False) -> str:
    """Our layer name for a PyTorch state-dict key: layer2.0.conv1.weight -> conv3_block1_1_conv.
    timm's ResNet-C, -D, -S and -T have a three-conv stem (`deep_stem`), and the shortcuts of -D
    and -T have the average pool as `downsample.0` (`avg_down`), so `.1` is the conv and `.2` the BN."""
    m = _KEY.match(key)
    if not m or (m["stem"] is not None and m["stem"] not in _DEEP_STEM):
        raise ValueError(f"State-dict key {key!r} is not of the torchvision ResNet layout.")
    if key.startswith(("fc.", "linear.")):
        return CLASSIFIER
    if m["stem"] is not None:
        unit, suffix = _DEEP_STEM[m["stem"]]
        return f"{STEM}_{unit}{suffix}"
    if key.startswith(("conv1.", "bn1.")):
        if key.startswith("conv1."):
            return STEM + CONV
        return (f"{STEM}_3" if deep_stem else STEM) + BN
    block = block_name(int(m["s"]) + 1, int(m["b"]) + 1)  # torch: layer1-4, blocks from 0
    if m["d"] is not None:
        return f"{block}_0" + (CONV if int(m["d"]) == int(avg_down) else BN)
    return f"{block}_{m['i']}" + (CONV if ".conv" in key else BN)


def _transposed(weight: Weight, axes: tuple[int, ...]) -> Weight:
    """A PyTorch kernel in our axis order (one of another rank stays, for the loader to refuse)."""
    if len(weight.shape) != len(axes):
        return weight
    return _derived(weight, lambda a: a.transpose(axes), tuple(weight.shape[a] for a in axes))


def from_torch_state_dict(state_dict: Mapping[str, Weight]) -> Layout:
    """Conv kernels go from (out, in, h, w) to (h, w, in, out), dense from (out, in) to (in, out).
    Keys that allow two readings (DataParallel's `module.` on some keys only; two keys for one
    weight, as `fc.*` and `linear.*`) are refused naming them: one copy would silently win."""
    _check_one_prefix(state_dict)
    params: dict[str, dict[str, Weight]] = {}
    keys: dict[tuple[str, str], str] = {}  # (layer, parameter): the key it came from
    deep_stem = any(key.removeprefix("module.").startswith("conv1.0.") for key in state_dict)
    avg_down = any(".downsample.2." in key for key in state_dict)
    for key, value in state_dict.items():
        bare = key.removeprefix("module.")  # DataParallel checkpoints
        if bare.endswith("num_batches_tracked"):
            continue
        name, param = torch_layer_name(bare, deep_stem, avg_down), bare.rsplit(".", 1)[1]
        if (name, param) in keys:
            raise ValueError(f"State-dict keys {keys[name, param]!r} and {key!r} both hold {param!r} of layer "
                             f"{name!r}; a file whose keys allow two readings is refused.")
        keys[name, param] = key
        params.setdefault(name, {})[param] = value
    layout = {}
    for name, p in params.items():
        if name.endswith(BN):
            layout[name] = [p[k] for k in _TORCH_BN]
        elif name == CLASSIFIER:
            layout[name] = [_transposed(p["weight"], (1, 0)), p["bias"]]
        else:
            layout[name] = [_transposed(p["weight"], (2, 3, 1, 0))]
    return layout


def to_torch_state_dict(layers: Mapping[str, Sequence[np.ndarray]], blocks: Sequence[int], avg_down: bool = False
                        ) -> dict[str, np.ndarray]:
    """Our layout (`{layer: its weights in layer.weights order}`) as a torchvision/timm state
    dict, the inverse of `from_torch_state_dict`: each key a net of `blocks` per stage could hold
    is named by `torch_layer_name` (a deep stem where `layers` has one, the shortcuts' conv after
    the pool with `avg_down`) and kept where `layers` has its layer; kernels back to PyTorch's axis
    order, float32, and each BatchNorm's `num_batches_tracked` an int64 0, as PyTorch saves it. A
    layer no key names raises, naming it."""
    deep_stem = f"{STEM}_1{CONV}" in layers
    stem = [*(f"conv1.{i}" for i in _DEEP_STEM), "bn1"] if deep_stem else ["conv1", "bn1"]
    shortcut = ("1", "2") if avg_down else ("0", "1")
    units = [*(f"{kind}{i}" for i in range(1, 4) for kind in ("conv", "bn")), *(f"downsample.{d}" for d in shortcut)]
    modules = [*stem, *(f"layer{s}.{b}.{unit}" for s, n in enumerate(blocks, 1) for b in range(n) for unit in units),
               "fc"]
    state, named = {}, set()
    for module in modules:
        layer = torch_layer_name(f"{module}.weight", deep_stem, avg_down)
        if layer not in layers:
            continue
        named.add(layer)
        values = [np.asarray(value, np.float32) for value in layers[layer]]
        if layer.endswith(BN):
            state |= {f"{module}.{param}": value for param, value in zip(_TORCH_BN, values, strict=True)}
            state[f"{module}.num_batches_tracked"] = np.zeros((), np.int64)
        elif layer == CLASSIFIER:
            kernel, bias = values
            state |= {f"{module}.weight": kernel.T, f"{module}.bias": bias}
        else:
            (kernel,) = values
            state[f"{module}.weight"] = kernel.transpose(3, 2, 0, 1)
    unnamed = [layer for layer in layers if layer not in named]
    if unnamed:
        raise ValueError(f"layers {', '.join(unnamed[:4])}{', ...' if len(unnamed) > 4 else ''} have no name in the "
                         "torchvision/timm ResNet layout.")
    return {key: np.asarray(value, order="C") for key, value in state.items()}  # ascontiguousarray makes 0-d 1-d


def _check_one_prefix(state_dict: Mapping[str, Weight]) -> None:
    """DataParallel's `module.` prefixes every key of a checkpoint or none."""
    prefixed = [key for key in state_dict if key.startswith("module.")]
    bare = [key for key in state_dict if not key.startswith("module.")]
    if prefixed and bare:
        raise ValueError(f"State-dict keys {prefixed[0]!r} and {bare[0]!r}: {len(prefixed)} keys have DataParallel's "
                         f"`module.` prefix and {len(bare)} do not; a file whose keys allow two readings is refused.")


def _torch(path: Path) -> Layout:
    safetensors = path.suffix == ".safetensors"
    state_dict = read_safetensors(path) if safetensors else read_torch_checkpoint(path)
    try:
        return from_torch_state_dict(state_dict)
    except ValueError as e:  # the layout's refusals, named with the file
        raise ValueError(f"{path}: {e}") from None


def read_safetensors(path: str | os.PathLike) -> dict[str, Weight]:
    """The tensors' names, shapes and dtypes from the header (which the library checks against
    the file's length); each tensor's data is read on its own."""
    try:
        f = safe_open(str(path), framework="numpy")
        slices = {key: f.get_slice(key) for key in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{path} is not a readable .safetensors file ({e}).") from None
    return {
        key: Weight(key, tuple(s.get_shape()), _SAFETENSORS_DTYPES.get(s.get_dtype(), s.get_dtype()),
                    lambda key=key: f.get_tensor(key))
        for key, s in slices.items()
    }


def read_torch_checkpoint(path: str | os.PathLike) -> dict[str, Weight]:
    """Tensors of a `torch.save` file, never unpickling anything but tensors (weights_only),
    memory-mapped (a zip checkpoint) so nothing is copied before the loader asks."""
    try:
        import torch
    except ImportError as e:
        raise ImportError(
            f"Reading {path} needs PyTorch (pip install torch); .safetensors files do not."
        ) from e
    try:  # mmap needs the zip format of torch >= 1.6; older (legacy) files are read whole
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except Exception as e:  # UnpicklingError, RuntimeError, EOFError, ... by cause
        asked = re.search(r"GLOBAL ([\w.]+)", str(e))  # worded differently across torch versions
        if asked:  # what weights_only exists for: the pickle names a function or class to call
            raise ValueError(
                f"{path} asks the unpickler for {asked[1]} beyond tensors; it was refused without running "
                "anything (torch.load(weights_only=True)). Unpickle such a file in full only if you trust its "
                "source, and convert it there to .safetensors."
            ) from None
        raise ValueError(
            f"{path} is not a readable tensors-only PyTorch checkpoint ({type(e).__name__}: {str(e)[:200]})."
        ) from None
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} holds no state dict (found {type(state).__name__}).")
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    # a stride-0 view (`expand`) declares many times the bytes of its storage
    check_declared(str(path), sum(t.numel() * t.element_size() for t in tensors.values()), os.path.getsize(path))
    return {k: Weight(k, tuple(t.shape), str(t.dtype).removeprefix("torch."), lambda t=t: _numpy(t))
            for k, t in tensors.items()}


def _numpy(tensor) -> np.ndarray:
    import torch

    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()



# --- .keras archives -----------------------------------------------------------------------

ACTIVATION_BUDGET = 128 << 20
"""The most bytes of activations (float32) a `.keras` model may hold at once while it runs on
one image, at its input size (`OPEN_SIDE` where that is open). The package's largest nets hold
at most 15.8 MiB at 224 x 224 (ResNeXt-101; ResNet-50 to -152 9.2 MiB, CifarResNet-1202 at
32 x 32 0.2 MiB; BENCHMARKS.md), so 8x that leaves room for inputs of about 8x the pixels,
while an UpSampling2D(512), an 8192 x 8192 input or a CentreCrop(size=12000) in a file of
kilobytes, each gigabytes, are refused before Keras builds the model. A batch holds this per
image: `predict` runs one image at a time; `evaluate` and `export` as many as fit this budget (`batch_for`)."""
OPEN_SIDE = CROP
"""The side taken for an input dimension a model leaves open (None), as the package's ImageNet
nets take their images: `predict` feeds such a model the ImageNet centre crop of that side."""
_KERAS_WEIGHTS = ("model.weights.h5", "model.weights.npz")  # what Keras reads, the first found
_PYTHON_NUMBER = 40
"""Bytes a number of an npz weight takes in Keras 3 once read: it turns each array into a list
(`NpzIOStore.get`: `.tolist()`), one Python int or float object (24-32 bytes) and a pointer each."""


@dataclass(frozen=True)
class Activations:
    """The most numbers a model holds at once as it runs on one image, and the layer whose
    output makes that peak."""

    peak: int
    layer: str
    shape: tuple


def peak_activations(model: keras.Model, open_sides: tuple[int, ...] = ()) -> Activations:
    """Tensors live from the layer that makes them to the last that reads them (the inputs from
    the start, the outputs to the end), as Keras runs the graph: their largest sum, per image.
    An input's open dimensions take `open_sides` in order, then `OPEN_SIDE`."""
    def sized(shape: tuple) -> tuple:
        sides = iter(open_sides)
        return tuple(next(sides, OPEN_SIDE) if d is None else d for d in shape)

    inputs = [keras.KerasTensor((1, *sized(x.shape[1:])), x.dtype) for x in model.inputs]
    steps, outputs = graph_steps(model, inputs)
    last = {id(x): i for i, step in enumerate(steps) for x in step.inputs} | {id(x): len(steps) for x in outputs}
    live = {id(x): _numbers(x) for x in inputs}
    peak = Activations(sum(live.values()), "input", inputs[0].shape)
    for i, step in enumerate(steps):
        live |= {id(x): _numbers(x) for x in step.outputs}
        if sum(live.values()) > peak.peak:
            peak = Activations(sum(live.values()), step.name, step.outputs[0].shape)
        for x in (*step.inputs, *step.outputs):
            if last.get(id(x), i) <= i:
                live.pop(id(x), None)
    return peak


def batch_for(model: keras.Model, most: int) -> int:
    """`most` images, or fewer so that a batch's activations stay within ACTIVATION_BUDGET: a
    `.keras` file is checked for one image, and a batch holds that many times its activations."""
    return max(1, min(most, ACTIVATION_BUDGET // (4 * peak_activations(model).peak)))


def _numbers(tensor: keras.KerasTensor) -> int:
    """Its numbers for one image; an open dimension counts `OPEN_SIDE`."""
    return math.prod(OPEN_SIDE if d is None else d for d in tensor.shape[1:])


def check_keras_archive(path: str | os.PathLike) -> None:
    """What `keras.models.load_model` reads of a `.keras` archive, checked before it reads any:
    no member declares more than `EXPANSION` x the bytes it stores (zip bombs), the weights Keras
    reads (model.weights.h5, else model.weights.npz) are sized from their headers
    (`check_stored_inside`, `check_npz`), and the config declares no more weight bytes than
    `EXPANSION` x those stored and no more activations than `ACTIVATION_BUDGET`, counted by
    building it in a `keras.StatelessScope`, which allocates no variable (a 13 KB file declaring
    Dense(10**9) would otherwise allocate 8 GB before a weight is read). A ValueError names the file."""
    source = f"`model_file` {str(path)!r}"
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{source} is not a .keras archive (the zip file `train` and `model.save` write).")
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            check_declared(f"{source} (member {info.filename})", info.file_size, info.compress_size)
        names = archive.namelist()
        if "config.json" not in names:
            raise ValueError(f"{source} is not a .keras archive: it has no config.json.")
        config = archive.read("config.json")
        weights = next((name for name in _KERAS_WEIGHTS if name in names), None)
        stored = archive.getinfo(weights).compress_size if weights else 0
        # read whole, as Keras does an .h5: h5py seeks back and forth, which a zip member does by rereading
        member = io.BytesIO(archive.read(weights)) if weights else None
    numbers, activations = _declared_model(config, source)
    check_declared(f"{source} (its config's weights, as float32)", 4 * numbers, stored)
    if 4 * activations.peak > ACTIVATION_BUDGET:
        raise ValueError(
            f"{source} was refused: run on one image of its input size (side {OPEN_SIDE} where open), it would hold "
            f"{4 * activations.peak:,} bytes of activations at once, at layer {activations.layer!r} of output shape "
            f"{activations.shape}; more than the {ACTIVATION_BUDGET:,} bytes (ACTIVATION_BUDGET) any ResNet here "
            f"needs 8 times over. Refused before Keras builds it.")
    if weights == "model.weights.h5":
        _check_h5_member(member, source)
    elif weights:
        check_npz(member, f"{source} (model.weights.npz)", numbers)


def _check_h5_member(member: io.BytesIO, source: str) -> None:
    try:
        weights = h5py.File(member, "r")
    except OSError as e:
        raise ValueError(f"{source}: its model.weights.h5 is not a readable HDF5 file ({e}).") from None
    with weights:
        check_stored_inside(weights, f"{source} (model.weights.h5)", len(member.getbuffer()))


def check_npz(member: io.BytesIO, source: str, numbers: int) -> None:
    """An npz (a zip of .npy files) as Keras 3 reads its weights (`np.load(allow_pickle=False)`,
    each array then `.tolist()`), sized from the .npy headers before any array is read: no
    pickled (object) array, no member declaring more than `EXPANSION` x the bytes it stores,
    and no more numbers in all than the config's variables hold (each becomes a Python object,
    `_PYTHON_NUMBER` bytes). A ValueError names `source` and the member."""
    try:
        npz = zipfile.ZipFile(member)
        declared = [(info, _npy_header(npz, info)) for info in npz.infolist()]
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:  # numpy: ValueError for a bad header
        raise ValueError(f"{source} is not a readable npz file ({type(e).__name__}: {str(e)[:200]}).") from None
    for info, (shape, dtype) in declared:
        if dtype.hasobject:
            raise ValueError(f"{source}: member {info.filename} is a pickled (object) array, which is never "
                             "unpickled; only numeric arrays are weights.")
        count = math.prod(shape)
        check_declared(f"{source} (member {info.filename})", count * (dtype.itemsize + _PYTHON_NUMBER),
                       info.compress_size)
    total = sum(math.prod(shape) for _, (shape, _) in declared)
    if total > numbers:
        raise ValueError(f"{source} declares {total:,} numbers, more than the {numbers:,} its config's weights "
                         "hold; refused before reading any.")


def _npy_header(npz: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from a .npy member's header, reading nothing past it."""
    with npz.open(info) as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f)
    return shape, dtype


def _declared_model(config_json: bytes, source: str) -> tuple[int, Activations]:
    """How many numbers the variables of a model config hold, and the activations it makes
    (`peak_activations`), counted without allocating either."""
    try:
        with unallocated():
            model = keras.saving.deserialize_keras_object({**json.loads(config_json), "compile_config": None},
                                                          safe_mode=True)
            return sum(math.prod(variable.shape) for variable in model.weights), peak_activations(model)
    except Exception as e:  # Keras raises ValueError, TypeError, KeyError, ... by what is wrong
        raise model_refused(source, e) from e


def model_refused(source: str, e: Exception) -> ValueError:
    cause = str(e).strip().splitlines()[0][:300] if str(e).strip() else ""
    return ValueError(
        f"{source} was refused: it is not a model that loads with safe_mode=True, which never runs code from "
        f"the file ({type(e).__name__}: {cause})."
    )
