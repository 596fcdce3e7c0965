"""Inference-only rewrites that keep the outputs: BatchNorm folded into the preceding conv.

At inference a BatchNormalization is an affine map per channel, so after a linear layer it
can be absorbed into that layer's kernel and bias. Keras runs BN as separate element-wise
passes over the activations; folding removes them (53 in ResNet-50: 1.14x at batch 32,
BENCHMARKS.md). It works on any functional model, keras.applications' too.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from keras_resnet.models.layers import graph_depth, use_fast_kernels

# Layers whose kernel's last axis is the output channel axis (the data format moves only the activations').
FOLDABLE = (layers.Conv1D, layers.Conv2D, layers.Conv3D, layers.Dense)


def fold_batchnorm(model: keras.Model) -> keras.Model:
    """A new functional model computing `model`'s inference output, with each
    BatchNormalization that directly follows a conv or dense layer (whose output nothing
    else reads) folded into that layer's kernel and bias. Other layers are copied unchanged,
    keeping their names, so weights and feature taps line up; the folded BN layers are gone.
    The new model is for inference: training it would train the folded, BN-free network.
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "_run_through_graph"):
        raise ValueError(f"`model` must be a functional keras Model; received {type(model).__name__}.")
    pairs = _foldable_pairs(model)  # producer name -> BN layer
    folded_bns = {bn.name for bn in pairs.values()}

    def clone(layer):
        config = layer.get_config()
        if layer.name in pairs:
            config["use_bias"] = True
        return layer.__class__.from_config(config)

    def call(layer, *args, **kwargs):
        if layer.name in folded_bns:
            return args[0]
        return layer(*args, **kwargs)

    inputs = keras.tree.map_structure(  # keep the input layers' names (clone_model renames them)
        lambda x: keras.Input(batch_shape=x.shape, dtype=x.dtype, name=x._keras_history.operation.name),
        model.input,
    )
    with graph_depth(len(model.layers)):
        folded = keras.models.clone_model(model, inputs, clone_function=clone, call_function=call)
    originals = {layer.name: layer for layer in model.layers}
    for layer in folded.layers:
        if layer.name in pairs:
            layer.set_weights(_folded_weights(originals[layer.name], pairs[layer.name]))
        elif layer.weights:
            layer.set_weights(originals[layer.name].get_weights())
    return use_fast_kernels(folded)


def _foldable_pairs(model: keras.Model) -> dict[str, layers.BatchNormalization]:
    """{producer layer name: the BN that alone reads its output}, where the BN scales the
    producer's output channels (its kernel's last axis, in either data format)."""
    pairs = {}
    for bn in model.layers:
        if not isinstance(bn, layers.BatchNormalization) or len(bn._inbound_nodes) != 1:
            continue
        (source,) = bn._inbound_nodes[0].input_tensors
        producer = source._keras_history.operation
        rank = len(source.shape)
        channels = 1 if getattr(producer, "data_format", None) == "channels_first" else rank - 1
        if (
            isinstance(producer, FOLDABLE)
            and bn.axis % rank == channels
            and len(producer._inbound_nodes) == 1
            and len(producer._outbound_nodes) == 1
            and producer.activation in (None, keras.activations.linear)
        ):
            pairs[producer.name] = bn
    return pairs


def _folded_weights(layer, bn: layers.BatchNormalization) -> list[np.ndarray]:
    """Kernel * s and (bias - mean) * s + beta with s = gamma / sqrt(var + eps), in float64."""
    kernel = np.asarray(layer.kernel, dtype=np.float64)
    bias = np.asarray(layer.bias, dtype=np.float64) if layer.use_bias else 0.0
    mean = np.asarray(bn.moving_mean, dtype=np.float64)
    variance = np.asarray(bn.moving_variance, dtype=np.float64)
    gamma = np.asarray(bn.gamma, dtype=np.float64) if bn.scale else 1.0
    beta = np.asarray(bn.beta, dtype=np.float64) if bn.center else 0.0
    scale = gamma / np.sqrt(variance + bn.epsilon)
    dtype = layer.kernel.dtype
    return [(kernel * scale).astype(dtype), ((bias - mean) * scale + beta).astype(dtype)]
