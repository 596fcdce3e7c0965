"""Grad-CAM (Selvaraju et al., 2017): where a convolutional classifier looked for a class. The
gradient of the class score (before softmax) with respect to the last convolutional stage's
feature maps, averaged over space, weighs those maps; their positive sum, brought to the input's
resolution, is the map. Gradients come from the Keras backend's own autodiff: TensorFlow, torch
and JAX."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np

from keras_resnet.core.arguments import is_integer
from keras_resnet.core.names import parse_block_output

BATCH = 32  # images per forward and backward pass: bounds the memory of large inputs


def grad_cam(model: keras.Model, images, class_index: int | Sequence[int] | None = None,
             layer: str | None = None) -> np.ndarray:
    """Class activation maps (N, H, W) in [0, 1], at the input's resolution, of `images` (N, H, W, C
    as `model` takes them). `class_index`: None for each image's top class, one class for all, or
    one per image. `layer`: the 4-D layer to explain at; by default `find_layer(model)`."""
    score_input, scores_of = _class_scores(model)
    images = _check_images(model, images)
    target = find_layer(model) if layer is None else _named_layer(model, layer)
    tapped = keras.Model(model.inputs[0], [model.get_layer(target).output, score_input], name=target)
    classes = model.output_shape[-1]
    wanted = _check_class_index(class_index, len(images), classes)
    gradients = _GRADIENTS.get(keras.backend.backend())
    if gradients is None:
        raise ValueError(f"grad_cam needs gradients through Keras: the backend must be one of {sorted(_GRADIENTS)}; "
                         f"received the {keras.backend.backend()!r} backend (set KERAS_BACKEND).")
    maps = []
    for start in range(0, len(images), BATCH):
        chosen = None if wanted is None else wanted[start:start + BATCH]
        features, grads, scores = gradients(tapped, scores_of, images[start:start + BATCH], chosen)
        _check_finite(scores, f"`model` {model.name!r} gives NaN or infinite class scores", start)
        weights = grads.mean(axis=(1, 2), keepdims=True)  # (n, 1, 1, channels): alpha_k^c of the paper
        cam = (weights * features).sum(axis=-1)  # NaN or infinite where the features or gradients are
        _check_finite(cam, f"`model` {model.name!r} gives NaN or infinite feature maps or gradients at layer "
                           f"{target!r}", start)
        maps.append(np.maximum(cam, 0.0))
    return _at_resolution(np.concatenate(maps), images.shape[1:3])


def find_layer(model: keras.Model) -> str:
    """The layer Grad-CAM explains at by default: the last convolutional stage's output, where
    the features are the most semantic that still have a place. For keras_resnet models the last
    `conv{stage}_block{index}_out`; for any other Keras CNN the last layer of 4-D output before
    the first that is not 4-D (the global pooling or flatten), from the first convolution on."""
    blocks = [each.name for each in model.layers if parse_block_output(each.name)]
    if blocks:
        return max(blocks, key=parse_block_output)
    found = None
    for each in model.layers:
        if len(each.output.shape) != 4:
            if found is not None:
                break
        elif found is not None or any(len(w.shape) == 4 for w in each.weights):  # a convolution's kernel
            found = each.name
    if found is None:
        raise ValueError(f"`model` {model.name!r} has no convolutional layer (a layer of 4-D output with a 4-D kernel) "
                         "for Grad-CAM to explain at; it needs a convolutional network.")
    return found


def _named_layer(model: keras.Model, layer: str) -> str:
    four_d = [each.name for each in model.layers if len(each.output.shape) == 4]
    if layer not in [each.name for each in model.layers]:
        raise ValueError(f"`layer` {layer!r} is not a layer of model {model.name!r}; its layers of 4-D output "
                         f"end with {four_d[-3:]}.")
    if layer not in four_d:
        raise ValueError(f"`layer` {layer!r} of model {model.name!r} has output shape "
                         f"{model.get_layer(layer).output.shape}; Grad-CAM needs a 4-D (batch, height, width, "
                         f"channels) layer, such as {four_d[-3:]}.")
    return layer


def _class_scores(model: keras.Model) -> tuple[keras.KerasTensor, Callable]:
    """The tensor to tap and the function of it giving the class scores before softmax, as
    Selvaraju et al. define them: after softmax a class's gradient also depends on every other
    class's score. A softmax Dense head is undone by recomputing its logits from kernel and bias."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"`model` {model.name!r} must be a classifier of one input and one output; it has "
                         f"{len(model.inputs)} input(s) and {len(model.outputs)} output(s).")
    if len(model.output_shape) != 2:  # a map of scores per pixel has no one score per class to explain
        raise ValueError(f"`model` {model.name!r} must output class scores of shape (batch, classes); its output "
                         f"shape is {model.output_shape}.")
    head = model.layers[-1]
    if getattr(head, "activation", None) is not keras.activations.softmax:
        return model.outputs[0], lambda scores: scores
    if isinstance(head, keras.layers.Dense):
        def logits(x):
            x = keras.ops.matmul(x, head.kernel)
            return x + head.bias if head.use_bias else x

        return head.input, logits
    return head.input, lambda scores: scores  # Activation("softmax"): its input are the logits


def _check_images(model: keras.Model, images) -> np.ndarray:
    images = np.asarray(images, dtype="float32")
    expected = tuple(model.input_shape[1:])
    if images.ndim != 4 or not len(images) or any(e is not None and e != s for e, s in zip(expected, images.shape[1:])):
        raise ValueError(f"`images` must be a batch of shape (N >= 1, {', '.join(str(e or 'any') for e in expected)})"
                         f" as model {model.name!r} takes; received shape {images.shape}.")
    _check_finite(images, "`images` must be finite pixel values; received NaN or infinite values")
    return images


def _check_finite(values: np.ndarray, problem: str, first: int = 0) -> None:
    """NaN in, or out of, the network makes the map all zero (`np.maximum` drops NaN), which would
    read as "looked nowhere": refused, naming the images (counted from `first`) that carry it."""
    bad = ~np.isfinite(values).reshape(len(values), -1).all(axis=1)
    if bad.any():
        raise ValueError(f"{problem} in image(s) {(first + np.flatnonzero(bad))[:10].tolist()}.")


def _check_class_index(class_index, count: int, classes: int) -> np.ndarray | None:
    """None (each image's top class), or one class per image."""
    if class_index is None:
        return None
    wanted = [class_index] * count if is_integer(class_index) else class_index
    if not isinstance(wanted, (Sequence, np.ndarray)) or len(wanted) != count \
            or not all(is_integer(c) and 0 <= c < classes for c in wanted):
        raise ValueError(f"`class_index` must be None, an integer in [0, {classes}) or a sequence of {count} such "
                         f"integers (one per image); received class_index={class_index!r}.")
    return np.asarray(wanted, dtype="int64")


def _chosen_scores(scores, chosen: np.ndarray | None):
    """Sum over the batch of each image's class score (images are independent: each gets its own gradient)."""
    classes = keras.ops.argmax(scores, axis=-1) if chosen is None else keras.ops.convert_to_tensor(chosen)
    return keras.ops.sum(scores * keras.ops.one_hot(classes, scores.shape[-1], dtype=scores.dtype))


def _tensorflow(tapped: keras.Model, scores_of: Callable, images: np.ndarray, chosen):
    import tensorflow as tf

    x = tf.convert_to_tensor(images)
    with tf.GradientTape() as tape:
        tape.watch(x)  # the graph is recorded even where the weights are frozen
        features, score_input = tapped(x, training=False)
        scores = scores_of(score_input)
        total = _chosen_scores(scores, chosen)
    return features.numpy(), tape.gradient(total, features).numpy(), scores.numpy()


def _torch(tapped: keras.Model, scores_of: Callable, images: np.ndarray, chosen):
    import torch

    x = keras.ops.convert_to_tensor(images).requires_grad_()  # graph recorded even where weights are frozen
    features, score_input = tapped(x, training=False)
    scores = scores_of(score_input)
    (grads,) = torch.autograd.grad(_chosen_scores(scores, chosen), features)
    return features.detach().cpu().numpy(), grads.cpu().numpy(), scores.detach().cpu().numpy()


def _jax(tapped: keras.Model, scores_of: Callable, images: np.ndarray, chosen):
    """JAX differentiates functions, not tapes: the scores as a function of the tapped feature maps,
    which stateless_call of the model from that layer on gives."""
    import jax

    layer_output, score_input = tapped.outputs
    try:
        rest = keras.Model(layer_output, score_input)
    except ValueError:  # a shortcut passes by the layer
        raise ValueError(f"`layer` {tapped.name!r}: on the JAX backend Grad-CAM explains at a layer that all "
                         "paths to the classifier pass through (such as a block's output); use the default layer, "
                         "or the tensorflow or torch backend.") from None
    trainable = [v.value for v in rest.trainable_variables]
    frozen = [v.value for v in rest.non_trainable_variables]

    def total(features):
        scores, _ = rest.stateless_call(trainable, frozen, features, training=False)
        scores = scores_of(scores)
        return _chosen_scores(scores, chosen), scores

    features = keras.Model(tapped.inputs[0], layer_output)(images, training=False)
    grads, scores = jax.grad(total, has_aux=True)(features)
    return np.asarray(features), np.asarray(grads), np.asarray(scores)


_GRADIENTS = {"tensorflow": _tensorflow, "torch": _torch, "jax": _jax}


def _at_resolution(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear to `size`, each map divided by its peak (an all-zero map stays zero)."""
    resized = keras.ops.convert_to_numpy(keras.ops.image.resize(maps[..., None], size, interpolation="bilinear"))
    resized = np.maximum(resized[..., 0], 0.0)
    peaks = resized.max(axis=(1, 2), keepdims=True)
    return np.divide(resized, peaks, out=np.zeros_like(resized), where=peaks > 0).astype("float32")


def overlay(images, maps, alpha: float = 0.4) -> np.ndarray:
    """uint8 RGB pictures: `images` (N, H, W, 3, 0-255 RGB) blended with `maps` (N, H, W in [0, 1])
    in a jet colour map (blue cold, red hot) at opacity `alpha`; no matplotlib needed."""
    images, maps = np.asarray(images, dtype="float32"), np.asarray(maps, dtype="float32")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"`images` must be RGB images of shape (N, H, W, 3); received shape {images.shape}.")
    if maps.shape != images.shape[:3]:
        raise ValueError(f"`maps` must be of shape {images.shape[:3]} (one H x W map per image); "
                         f"received shape {maps.shape}.")
    if not 0 <= alpha <= 1:
        raise ValueError(f"`alpha` must be in [0, 1]; received alpha={alpha!r}.")
    level = np.clip(maps, 0.0, 1.0)[..., None]
    jet = np.clip(1.5 - np.abs(4.0 * level - np.array([3.0, 2.0, 1.0])), 0.0, 1.0)  # red, green, blue ramps
    return np.clip(np.rint((1 - alpha) * images + alpha * 255.0 * jet), 0, 255).astype(np.uint8)
