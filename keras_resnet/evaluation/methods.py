"""The paper's ImageNet testing (Section 3.4): one centre crop, the standard 10-crop
(corners and centre of the shorter-side-256 image, and their flips), and fully-convolutional
testing averaging the scores over scales (shorter side in {224, 256, 384, 480, 640})."""

from __future__ import annotations

import keras
import numpy as np

from keras_resnet.core.arguments import check_choice, check_limit
from keras_resnet.data.image_folders import (
    CROP,
    EVAL_SIZE,
    MAX_ASPECT,
    decode_file,
    eval_transform,
    list_images,
    resize_shorter,
)
from keras_resnet.models.layers import graph_depth, use_fast_kernels
from keras_resnet.models.preprocessing import PixelMean
from keras_resnet.pretrained.formats import batch_for, peak_activations

METHODS = ("centre", "ten-crop", "multiscale")
SCALES = (224, 256, 384, 480, 640)
# the most float32 activations fully-convolutional testing may hold for one image at its largest scale: the
# family's largest, ResNeXt-101, holds 503 MiB at 640 x 2560 (15.8 MiB at 224 x 224)
MULTISCALE_BUDGET = 1 << 30


def ten_crops(image, size: int = EVAL_SIZE, crop: int = CROP):
    """(10, crop, crop, 3): the four corners and the centre of the image resized to shorter
    side `size`, then the same five of its mirror image."""
    import tensorflow as tf

    image = resize_shorter(image, size)
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    offsets = [(0, 0), (0, w - crop), (h - crop, 0), (h - crop, w - crop), ((h - crop) // 2, (w - crop) // 2)]
    five = tf.stack([image[top : top + crop, left : left + crop] for top, left in offsets])
    return tf.concat([five, tf.reverse(five, axis=[2])], axis=0)


def fully_convolutional(model):
    """The same network and weights on inputs of any size: global average pooling makes the
    classifier apply to the whole feature map (the paper's fully-convolutional form). A
    per-pixel mean (`train`'s stock Normalization over the image axes, which holds one size)
    becomes `PixelMean`, which resizes the mean image to each input's."""

    def clone(layer):
        if isinstance(layer, keras.layers.Normalization) and len(layer.axis) == 3:
            mean = keras.ops.convert_to_numpy(layer.adapt_mean)
            return PixelMean(mean.shape, mean, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    with graph_depth(len(model.layers)):
        fcn = keras.models.clone_model(model, input_tensors=keras.Input((None, None, model.input_shape[-1])),
                                       clone_function=clone)
    for layer in fcn.layers[1:]:  # past the new input
        original = model.get_layer(layer.name)
        if layer.weights and type(layer) is type(original):  # a converted mean came with its mean
            layer.set_weights(original.get_weights())
    return use_fast_kernels(fcn)


def check_multiscale(fcn: keras.Model, scales) -> None:
    """`fcn` runs on images up to MAX_ASPECT x max(`scales`) by max(`scales`): refused (naming
    `method`) where its activations there pass MULTISCALE_BUDGET. A `.keras` is checked at 224 x 224
    (`formats.ACTIVATION_BUDGET`); at 640 x 2560, 33 times the pixels, a file within that budget could
    take 4 GB."""
    side = max(scales)
    peak = 4 * peak_activations(fcn, (side, MAX_ASPECT * side)).peak
    if peak > MULTISCALE_BUDGET:
        raise ValueError(f"method='multiscale' runs this model on images up to {side} x {MAX_ASPECT * side}, where it "
                         f"would hold {peak:,} bytes of activations at once, more than MULTISCALE_BUDGET "
                         f"({MULTISCALE_BUDGET:,}); use method 'centre' or 'ten-crop'.")


def predict_image(model, image, method: str = "centre", scales=SCALES, fcn=None, batch: int = 10) -> np.ndarray:
    """Class scores of one decoded image (H x W x 3, 0-255, uint8 or float) by `method`; `fcn` is
    `fully_convolutional(model)`, built once by the caller for many images; the ten crops run
    `batch` at a time (`batch_for`)."""
    check_choice("method", method, METHODS)
    if method == "centre":
        return _scores(model, eval_transform(image)[None])[0]
    if method == "ten-crop":
        crops = ten_crops(image)
        return np.concatenate([_scores(model, crops[i:i + batch]) for i in range(0, 10, batch)]).mean(axis=0)
    fcn = fully_convolutional(model) if fcn is None else fcn
    return np.mean([_scores(fcn, resize_shorter(image, s)[None])[0] for s in scales], axis=0)


def _scores(model, images) -> np.ndarray:
    """`model` on a batch that TensorFlow prepared, on any Keras backend: numpy in, numpy out."""
    return keras.ops.convert_to_numpy(model(np.asarray(images), training=False))


def evaluate_folder(model, directory, method: str = "centre", scales=SCALES, limit: int | None = None) -> dict:
    """Top-1 and top-5 error on a folder of class sub-folders (e.g. ImageNet val)."""
    check_choice("method", method, METHODS)
    check_limit(limit)
    paths, labels, _ = list_images(directory)
    paths, labels = paths[:limit], labels[:limit]
    fcn = fully_convolutional(model) if method == "multiscale" else None
    if fcn is not None:
        check_multiscale(fcn, scales)
    side = max(scales) if method == "multiscale" else EVAL_SIZE  # decoded no smaller than the largest resize
    batch = batch_for(model, 10) if method == "ten-crop" else 10
    scores = np.stack([predict_image(model, decode_file(p, (side, side)), method, scales, fcn, batch) for p in paths])
    top5 = np.argsort(-scores, axis=1)[:, :5]
    return {
        "method": method,
        "images": len(paths),
        "top1_error": float(np.mean(top5[:, 0] != labels)),
        "top5_error": float(np.mean(~(top5 == labels[:, None]).any(axis=1))),
    }
