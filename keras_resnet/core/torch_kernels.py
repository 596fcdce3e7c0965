"""PyTorch's own kernels for stock Conv2D and BatchNormalization instances on Keras' torch
backend: same layers, config and saved files, the same outputs (convolution bit for bit,
BatchNormalization up to round-off), 1.5x faster at ResNet-50 batch 32 (BENCHMARKS.md, "Keras backends").

Where the time went (`benchmarks/backend_profiles.py`: torch.profiler, ResNet-50 inference b32
channels-last, Keras 3.15): 32% in `aten::copy_`. Keras' torch `conv` makes the NHWC input a
contiguous NCHW copy, then copies it back to channels-last memory for oneDNN; but NHWC memory
seen as NCHW *is* channels-last, so `_convolution` passes that view (and the kernel in
channels-last memory, as Keras does) and permutes the result back: no copy of an activation.
Keras computes BatchNormalization as three element-wise passes (`sub`, `mul_`, `add_`; in
training also its moments and their gradients); `torch.nn.functional.batch_norm` is one pass
each way.

Inputs these kernels do not cover take the layer's own Keras path: other backends, ranks or
paddings; masks, renorm, synchronised BN, a BN in float16/bfloat16 (mixed precision), a batch
of one value per channel.
"""

from __future__ import annotations

import functools
import types

import keras


def attach(layer: keras.layers.Layer) -> None:
    """Give this stock Conv2D or BatchNormalization instance PyTorch's kernel; its class,
    config and saved file stay stock. Other layers are left as they are."""
    if type(layer) is keras.layers.Conv2D:
        layer.convolution_op = functools.partial(_convolution, layer, {})
    elif type(layer) is keras.layers.BatchNormalization:
        layer.call = types.MethodType(_batchnorm_call, layer)


def _convolution(self, cache: dict, inputs, kernel):
    """keras' `ops.conv` for this layer, without its two copies of the input. Keras adds the
    bias and applies the activation after it, as ever (`BaseConv.call`)."""
    same = self.padding == "same" and all(s == 1 for s in self.strides) \
        and all(d * (k - 1) % 2 == 0 for k, d in zip(self.kernel_size, self.dilation_rate))
    if keras.backend.backend() != "torch" or len(inputs.shape) != 4 or not (same or self.padding == "valid"):
        return keras.layers.Conv2D.convolution_op(self, inputs, kernel)
    import torch

    x = keras.ops.convert_to_tensor(inputs)
    channels_last = self.data_format == "channels_last"
    kernel = _torch_kernel(cache, keras.ops.convert_to_tensor(kernel), channels_last)
    if channels_last:
        x = x.permute(0, 3, 1, 2)  # a view: NCHW indices over channels-last memory
    padding = tuple(d * (k - 1) // 2 for k, d in zip(self.kernel_size, self.dilation_rate)) if same else 0
    y = torch.nn.functional.conv2d(x, kernel, None, self.strides, padding, self.dilation_rate,
                                   x.shape[1] // kernel.shape[1])
    return y.permute(0, 2, 3, 1) if channels_last else y


def _torch_kernel(cache: dict, kernel, channels_last: bool):
    """The HWIO kernel as torch's OIHW, in channels-last memory for channels-last inputs (as
    Keras gives oneDNN). That copy of every kernel weighs most at batch 1, so without autograd
    (`predict`, `no_grad`) it is kept until the kernel changes:
    the same tensor (held, so its memory is not reused), at the same version (torch counts
    in-place writes: Keras' `assign`, `set_weights`)."""
    import torch

    keep = not torch.is_grad_enabled()
    kept = cache.get("kept")  # one (source, version, converted) entry, read and written whole: threads share it
    if keep and kept is not None and kept[0] is kernel and kept[1] == kernel._version:
        return kept[2]
    converted = kernel.permute(3, 2, 0, 1)
    if channels_last:
        converted = converted.contiguous(memory_format=torch.channels_last)
    if keep:
        cache["kept"] = (kernel, kernel._version, converted)
    else:
        cache.pop("kept", None)
    return converted


def _batchnorm_call(self, inputs, training=None, mask=None):
    """keras' BatchNormalization (same weights, update rule with the biased batch variance,
    outputs up to round-off) on `torch.nn.functional.batch_norm`."""
    if not _normalisable(self, inputs, mask):
        return keras.layers.BatchNormalization.call(self, inputs, training=training, mask=mask)
    import torch

    x = keras.ops.convert_to_tensor(inputs)
    channels_last = self.axis in (-1, 3)
    if channels_last:
        x = x.permute(0, 3, 1, 2)
    gamma = keras.ops.convert_to_tensor(self.gamma) if self.scale else None
    beta = keras.ops.convert_to_tensor(self.beta) if self.center else None
    if training and self.trainable:
        # the batch's statistics land in these buffers (momentum 1): its mean and unbiased variance
        mean, variance = (torch.zeros(x.shape[1], dtype=x.dtype, device=x.device) for _ in range(2))
        y = torch.nn.functional.batch_norm(x, mean, variance, gamma, beta, True, 1.0, self.epsilon)
        count = x.numel() // x.shape[1]
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum
                                    + variance * ((count - 1) / count) * (1.0 - self.momentum))
    else:
        y = torch.nn.functional.batch_norm(x, keras.ops.convert_to_tensor(self.moving_mean),
                                           keras.ops.convert_to_tensor(self.moving_variance),
                                           gamma, beta, False, 0.0, self.epsilon)
    return y.permute(0, 2, 3, 1) if channels_last else y


def _normalisable(layer, inputs, mask) -> bool:
    if keras.backend.backend() != "torch" or mask is not None or layer.renorm or layer.synchronized:
        return False
    if len(inputs.shape) != 4 or layer.axis not in (1, 3, -1) or layer.compute_dtype not in ("float32", "float64"):
        return False
    dtype = keras.backend.standardize_dtype(inputs.dtype)
    return dtype == layer.compute_dtype and inputs.numel() > inputs.shape[layer.axis]
