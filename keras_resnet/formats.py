"""Weight files of the published layouts, read into ours: `{layer name: [arrays in
layer.weights order]}` for bias-free convolutions and epsilon-1e-5 BatchNorm, giving the same
outputs as the original to float rounding.

- "keras_resnet": our HDF5 file, `/<layer>/<i>` (`pretrained.save_weights`).
- "keras_applications": the legacy Keras HDF5 weights of keras.applications ResNet50/101/152
  (the paper authors' Caffe weights): `layer_names`/`weight_names` attributes, names with
  `:0` when Keras 2 wrote them, without when Keras 3's legacy writer did.
- "torch": torchvision/timm state dicts (`conv1`, `bn1`, `layer{s}.{b}.conv{i}`,
  `downsample.0/1`, `fc`), also Idelbayev's CIFAR nets (`linear`), from `.safetensors` (no
  PyTorch needed) or `.pth`/`.th` (PyTorch, `weights_only=True`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from keras_resnet.blocks import BN_EPSILON

FORMATS = ("keras_resnet", "keras_applications", "torch")
TORCH_SUFFIXES = (".pth", ".th", ".pt", ".bin")
ACCEPTED = (
    "a keras_resnet .h5 (keras_resnet.pretrained.save_weights, keras-resnet convert), a keras.applications "
    ".h5, a torchvision/timm .safetensors or .pth state dict; a Keras `.weights.h5` from `model.save_weights` "
    "loads with `model.load_weights`"
)
KERAS_APPLICATIONS_BN_EPSILON = 1.001e-5
_BN = ("weight", "bias", "running_mean", "running_var")  # = gamma, beta, moving mean, variance
_KERAS_ORDER = ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance")
_KEY = re.compile(
    r"^(?:conv1|bn1|fc|linear|layer(?P<s>\d+)\.(?P<b>\d+)\.(?:(?:conv|bn)(?P<i>\d+)|downsample\.(?P<d>[01])))\."
    r"(?P<param>weight|bias|running_mean|running_var|num_batches_tracked)$"
)

Arrays = dict[str, list[np.ndarray]]


def detect_format(path: str | os.PathLike) -> str:
    path = Path(path)
    if path.suffix in (".safetensors", *TORCH_SUFFIXES):
        return "torch"
    with _open_h5(path) as f:
        return "keras_applications" if "layer_names" in f.attrs or "model_weights" in f else "keras_resnet"


def read_weights(path: str | os.PathLike, fmt: str | None = None) -> Arrays:
    """Any supported file, in our layout. A file that does not hold the format's layout (cut
    short, another format, another program's HDF5) raises a ValueError naming it."""
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"`format` must be one of {list(FORMATS)}; received format={fmt!r}.")
    try:
        if fmt == "torch":
            tensors = read_safetensors(path) if Path(path).suffix == ".safetensors" else read_torch_checkpoint(path)
            return from_torch_state_dict(tensors)
        if fmt == "keras_applications":
            return from_keras_applications(read_keras_legacy_h5(path))
        return read_keras_resnet_h5(path)
    except (OSError, KeyError, TypeError, IndexError) as e:  # h5py and numpy on a damaged or foreign layout
        raise ValueError(
            f"{path} is not a readable {fmt} weights file ({type(e).__name__}: {e}). Accepted: {ACCEPTED}."
        ) from None


def read_keras_resnet_h5(path: str | os.PathLike) -> Arrays:
    """Our layout, checked: every top-level item a group of datasets named 0..k-1."""
    with _open_h5(path) as f:
        arrays = {}
        for name, group in f.items():
            if not isinstance(group, h5py.Group) or sorted(group) != sorted(map(str, range(len(group)))):
                raise ValueError(
                    f"{path} is not a keras_resnet weights file: {name!r} is not a group of datasets 0..k-1. "
                    f"Accepted: {ACCEPTED}."
                )
            arrays[name] = [np.asarray(group[str(i)]) for i in range(len(group))]
        return arrays


def _open_h5(path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise ValueError(f"{path} is not a readable HDF5 weights file ({e}). Accepted: {ACCEPTED}.") from None


# --- keras.applications ------------------------------------------------------------------

def _attribute(group, name: str) -> list[str]:
    """An HDF5 string-list attribute, also when Keras split a long one into name0, name1, ..."""
    if name in group.attrs:
        chunks = [group.attrs[name]]
    else:
        chunks = [group.attrs[f"{name}{i}"] for i in range(len(group.attrs)) if f"{name}{i}" in group.attrs]
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for chunk in chunks for v in chunk]


def read_keras_legacy_h5(path: str | os.PathLike) -> Arrays:
    """{layer: weights in Keras order} of a legacy Keras HDF5 weights (or whole-model) file."""
    with _open_h5(path) as f:
        root = f["model_weights"] if "model_weights" in f else f
        out = {}
        for layer in _attribute(root, "layer_names"):
            names = _attribute(root[layer], "weight_names")
            if not names:
                continue
            # "conv1_conv/kernel:0" (Keras 2) or "conv1_conv/kernel" (Keras 3): order by role
            by_role = {n.rsplit("/", 1)[-1].removesuffix(":0"): np.asarray(root[layer][n]) for n in names}
            out[layer] = [by_role[role] for role in _KERAS_ORDER if role in by_role]
        return out


def from_keras_applications(arrays: Mapping[str, list[np.ndarray]]) -> Arrays:
    """keras.applications layers into our bias-free layout, exactly: BN((conv + b) - mean) =
    BN(conv - (mean - b)), and the 1.001e-5 epsilon moves into the variance."""
    out: Arrays = {}
    for name, values in arrays.items():
        if name.endswith("_conv"):
            out[name] = [values[0]]
        elif name.endswith("_bn"):
            gamma, beta, mean, var = values
            conv = arrays[name.removesuffix("_bn") + "_conv"]
            bias = conv[1] if len(conv) > 1 else 0.0
            out[name] = [gamma, beta, mean - bias, var + (KERAS_APPLICATIONS_BN_EPSILON - BN_EPSILON)]
        else:
            out[name] = list(values)
    return out


# --- PyTorch -------------------------------------------------------------------------------

def torch_layer_name(key: str) -> str:
    """Our layer name for a PyTorch state-dict key: layer2.0.conv1.weight -> conv3_block1_1_conv."""
    m = _KEY.match(key)
    if not m:
        raise ValueError(f"State-dict key {key!r} is not of the torchvision ResNet layout.")
    if key.startswith(("fc.", "linear.")):
        return "predictions"
    if key.startswith(("conv1.", "bn1.")):
        return "conv1_conv" if key.startswith("conv1.") else "conv1_bn"
    prefix = f"conv{int(m['s']) + 1}_block{int(m['b']) + 1}"
    if m["d"] is not None:
        return f"{prefix}_0_{'conv' if m['d'] == '0' else 'bn'}"
    return f"{prefix}_{m['i']}_{'conv' if '.conv' in key else 'bn'}"


def from_torch_state_dict(state_dict: Mapping[str, np.ndarray]) -> Arrays:
    """Conv kernels go from (out, in, h, w) to (h, w, in, out), dense from (out, in) to (in, out)."""
    params: dict[str, dict[str, np.ndarray]] = {}
    for key, value in state_dict.items():
        key = key.removeprefix("module.")  # DataParallel checkpoints
        if key.endswith("num_batches_tracked"):
            continue
        params.setdefault(torch_layer_name(key), {})[key.rsplit(".", 1)[1]] = np.asarray(value, np.float32)
    arrays = {}
    for name, p in params.items():
        if name.endswith("_bn"):
            arrays[name] = [p[k] for k in _BN]
        elif name == "predictions":
            arrays[name] = [p["weight"].T, p["bias"]]
        else:
            arrays[name] = [p["weight"].transpose(2, 3, 1, 0)]
    return arrays


def read_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"{path} is not a readable .safetensors file ({e}).") from None


def read_torch_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Tensors of a `torch.save` file, never unpickling anything but tensors (weights_only)."""
    try:
        import torch
    except ImportError as e:
        raise ImportError(
            f"Reading {path} needs PyTorch (pip install torch); .safetensors files do not."
        ) from e
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
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
    return {k: v.float().numpy() for k, v in state.items() if isinstance(v, torch.Tensor)}
