"""Converters from published weight layouts into ours (same outputs, to float rounding).

PyTorch layout: torchvision's `resnet.py` and the CIFAR-10 nets of Idelbayev (2018), which
share its names (`conv1`, `bn1`, `layer{s}.{b}.conv{i}`, `downsample.0/1`; `fc` or `linear`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import numpy as np

from keras_resnet.blocks import BN_EPSILON
from keras_resnet.builders import build_by_id
from keras_resnet.pretrained import assign, save_weights, sha256

_BN = ("weight", "bias", "running_mean", "running_var")  # = gamma, beta, moving mean, variance
_KEY = re.compile(
    r"^(?:conv1|bn1|fc|linear|layer(?P<s>\d+)\.(?P<b>\d+)\.(?:(?:conv|bn)(?P<i>\d+)|downsample\.(?P<d>[01])))\."
    r"(?P<param>weight|bias|running_mean|running_var|num_batches_tracked)$"
)


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


def from_torch_state_dict(state_dict: Mapping[str, np.ndarray]) -> dict[str, list[np.ndarray]]:
    """{our layer name: weights in Keras order} from a PyTorch ResNet state dict (numpy values).

    Conv kernels go from (out, in, h, w) to (h, w, in, out), dense from (out, in) to (in, out).
    """
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


def read_torch_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Tensors of a `torch.save` file, never unpickling anything but tensors (weights_only)."""
    try:
        import torch
    except ImportError as e:
        raise ImportError("Reading a .pth/.th checkpoint needs PyTorch: pip install torch") from e
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError, ... by cause
        raise ValueError(f"{path} is not a tensors-only PyTorch checkpoint ({type(e).__name__}: {e}).") from None
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else obj
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} holds no state dict (found {type(state).__name__}).")
    return {k: v.numpy() for k, v in state.items() if hasattr(v, "numpy")}


def convert_torch_checkpoint(
    checkpoint: str | os.PathLike, output: str | os.PathLike, model: str, **build_kwargs
) -> str:
    """Convert a PyTorch checkpoint into a weights file of ours; returns the file's SHA-256."""
    keras_model = build_by_id(model, **{k: v for k, v in build_kwargs.items() if v is not None})
    assign(keras_model, from_torch_state_dict(read_torch_checkpoint(checkpoint)), source=str(checkpoint))
    save_weights(keras_model, output)
    return sha256(output)


KERAS_APPLICATIONS_BN_EPSILON = 1.001e-5


def from_keras_applications(arrays: Mapping[str, list[np.ndarray]]) -> dict[str, list[np.ndarray]]:
    """{layer name: weights} of a keras.applications ResNet (the paper authors' Caffe weights)
    into our bias-free layout, exactly: BN((conv + b) - mean) = BN(conv - (mean - b)), and the
    1.001e-5 epsilon moves into the variance, so our epsilon-1e-5 BN gives the same outputs."""
    out: dict[str, list[np.ndarray]] = {}
    for name, values in arrays.items():
        if name.endswith("_conv"):
            out[name] = [values[0]]
        elif name.endswith("_bn"):
            gamma, beta, mean, var = values
            bias = arrays[name.removesuffix("_bn") + "_conv"][1]
            out[name] = [gamma, beta, mean - bias, var + (KERAS_APPLICATIONS_BN_EPSILON - BN_EPSILON)]
        else:
            out[name] = list(values)
    return out
