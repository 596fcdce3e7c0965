"""TensorFlow's fused BatchNormalization kernel, as the builder attaches it, is keras'
BatchNormalization:
same outputs, gradients and moving statistics, in training and inference, float32 and mixed
precision; a training step of ResNet-20 matches one with keras' layer. And TensorFlow's oneDNN
kernels are switched on by importing keras_resnet first, never against the user's setting."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_python

import keras_resnet as kr
from keras_resnet.core.keras_internals import _fused_call, fuse_batchnorm
from keras_resnet.evaluation.predict import load_trained


def pair(shape, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    ours, theirs = keras.layers.BatchNormalization(**kwargs), keras.layers.BatchNormalization(**kwargs)
    fuse_batchnorm(ours)
    for layer in (ours, theirs):
        layer.build(shape)
        layer.set_weights([rng.uniform(0.5, 1.5, shape[-1]), rng.normal(0, 1, shape[-1]),
                           rng.normal(0, 1, shape[-1]), rng.uniform(0.5, 2, shape[-1])])
        rng = np.random.default_rng(seed)  # same weights for both
    return ours, theirs


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("epsilon, momentum", [(1e-5, 0.9), (1e-3, 0.99)])
def test_same_outputs_gradients_and_statistics(training, epsilon, momentum):
    x = tf.constant(np.random.default_rng(1).normal(2, 3, (8, 5, 5, 6)).astype("float32"))
    ours, theirs = pair(x.shape, epsilon=epsilon, momentum=momentum)
    results = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=training)
            loss = tf.reduce_sum(y * tf.sin(y))  # a non-trivial upstream gradient
        results.append((y, tape.gradient(loss, [x, layer.gamma, layer.beta]), layer.get_weights()))
    (y1, g1, w1), (y2, g2, w2) = results
    np.testing.assert_allclose(y1, y2, atol=2e-6)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    for a, b in zip(w1, w2):  # moving mean/variance updated alike (biased batch variance)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    if training:
        assert not np.allclose(w1[2], pair(x.shape)[0].get_weights()[2])  # statistics did move


def test_frozen_and_non_4d_inputs_follow_keras():
    x = tf.constant(np.random.default_rng(2).normal(size=(4, 3, 6)).astype("float32"))  # 3-D: keras' path
    ours, theirs = pair(x.shape)
    np.testing.assert_allclose(ours(x, training=True), theirs(x, training=True), atol=1e-6)
    x4 = tf.constant(np.random.default_rng(3).normal(size=(4, 3, 3, 6)).astype("float32"))
    ours, theirs = pair(x4.shape)
    ours.trainable = theirs.trainable = False  # frozen BN uses the moving statistics, as keras'
    np.testing.assert_allclose(ours(x4, training=True), theirs(x4, training=True), atol=1e-6)
    np.testing.assert_array_equal(ours.get_weights()[2], pair(x4.shape)[0].get_weights()[2])


def test_mixed_precision_statistics_in_float32():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        x = tf.constant(np.random.default_rng(4).normal(1, 2, (8, 4, 4, 5)).astype("float32"))
        ours, theirs = pair(x.shape)
        y1, y2 = ours(x, training=True), theirs(x, training=True)
        assert y1.dtype == y2.dtype == tf.bfloat16
        np.testing.assert_allclose(tf.cast(y1, "float32"), tf.cast(y2, "float32"), atol=0.05)
        np.testing.assert_allclose(ours.get_weights()[2], theirs.get_weights()[2], rtol=1e-2, atol=1e-3)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_resnet20_training_step_matches_keras_batchnorm(cifar_test):
    """One SGD step on 64 real CIFAR images: same loss, and the same weights after it, with
    the fused kernel the builder attaches as with keras' own in every BN position."""
    images, labels = cifar_test[0][:64].astype("float32"), cifar_test[1][:64]
    ours = kr.CifarResNet(3, weights="cifar10", include_preprocessing=True)
    theirs = keras.models.clone_model(ours)  # from the config: stock layers, keras' own call
    theirs.set_weights(ours.get_weights())
    bns = [layer for layer in ours.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert bns and all(type(layer) is keras.layers.BatchNormalization for layer in bns)
    assert all(layer.call.__func__ is _fused_call for layer in bns)
    assert not any("call" in vars(layer) for layer in theirs.layers)
    losses = []
    for model in (ours, theirs):
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
        losses.append(model.train_on_batch(images, labels))
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):  # round-off of the fused gradient: < 5e-5
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=5e-5)


def test_saved_model_is_stock_and_reloads_fused(tmp_path):
    """The file names keras' BatchNormalization (it loads with Keras alone: test_keras_alone);
    the package's loader attaches the fused kernel again."""
    model = kr.CifarResNet(3)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(loaded.get_layer("conv1_bn")) is keras.layers.BatchNormalization
    assert "call" not in vars(loaded.get_layer("conv1_bn"))
    assert load_trained(tmp_path / "m.keras").get_layer("conv1_bn").call.__func__ is _fused_call
    x = np.random.default_rng(5).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


ONEDNN = """
import json, os, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    {first}
from tensorflow.python.util._pywrap_util_port import IsMklEnabled
told = any("TF_ENABLE_ONEDNN_OPTS=1 before TensorFlow is imported" in str(w.message) for w in caught)
print(json.dumps([os.environ.get("TF_ENABLE_ONEDNN_OPTS"), IsMklEnabled(), told]))
"""


@pytest.mark.parametrize("first, env, expected", [
    ("import keras_resnet, tensorflow", None, ["1", True, False]),
    ("import keras_resnet, tensorflow", "0", ["0", False, False]),  # the user's choice
    ("import tensorflow, keras_resnet", "0", ["0", False, False]),
    # too late to switch: TensorFlow's own default stays; if it is off, the user is told how
    ("import tensorflow, keras_resnet", None, [None, "default", "default off"]),
])
def test_onednn_switch(first, env, expected):
    if "default" in expected:  # TensorFlow's own choice for this CPU (off on the AMD CPUs of CI)
        default = json.loads(run_python("from tensorflow.python.util._pywrap_util_port import IsMklEnabled\n"
                                        "print(IsMklEnabled())", TF_ENABLE_ONEDNN_OPTS=None).lower())
        expected = [None, default, not default]
    out = run_python(ONEDNN.format(first=first), TF_ENABLE_ONEDNN_OPTS=env)
    assert json.loads(out.strip().splitlines()[-1]) == expected
