"""channels_first, as keras.applications: every builder follows keras.config.image_data_format(),
computes the same function as in channels_last (up to the transposition), loads the same
weight files, and keras.applications' channels_first ResNet50 with the same weights gives the
same outputs. Runs under every Keras backend (`-m backends`, CI)."""

import keras
import numpy as np
import pytest
from conftest import randomise_batchnorm
from references import assert_same_outputs, miniature, random_keras_applications, write_keras2_weights

import keras_resnet as kr
from keras_resnet.pretrained.loading import save_weights

pytestmark = pytest.mark.backends

RNG = np.random.default_rng(0)
SIZE = 64

# one of each block kind, shortcut option, stride placement and stem, plain and residual (the
# ImageNet nets with one block a stage: the layers are what the layout changes, not the depth)
NETS = {
    "basic, B": lambda **kw: miniature("resnet18", **kw),
    "bottleneck v1": lambda **kw: miniature("resnet50", variant="v1", **kw),
    "ResNet-D: v1.5, D, deep stem": lambda **kw: miniature("resnet50d", **kw),
    "pre-activation, stride-only pool": lambda **kw: miniature("resnet50v2", **kw),
    "grouped 3x3": lambda **kw: miniature("resnext50_32x4d", **kw),
    "plain": lambda **kw: miniature("plainnet18", **kw),
    "CIFAR, option A": lambda **kw: kr.CifarResNet(1, **kw),
    "CIFAR pre-activation": lambda **kw: kr.CifarPreActResNet(1, **kw),
}


def first(images: np.ndarray) -> np.ndarray:
    return np.transpose(images, (0, 3, 1, 2))


@pytest.mark.parametrize("net", NETS)
def test_same_network_and_weights_in_either_layout(net, image_data_format, tmp_path):
    """A channels_last net's weights file, loaded into the channels_first build of the same
    net: the same logits, and the same pooled features."""
    build = NETS[net]
    size = 32 if "CIFAR" in net else SIZE
    last = randomise_batchnorm(build(input_shape=(size, size, 3), classes=7, classifier_activation=None))
    save_weights(last, tmp_path / "w.h5")
    images = RNG.uniform(0, 1, (2, size, size, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(last(images, training=False))

    image_data_format("channels_first")
    channels_first = build(input_shape=(3, size, size), classes=7, classifier_activation=None,
                           weights=str(tmp_path / "w.h5"))
    assert channels_first.input_shape == (None, 3, size, size)
    assert_same_outputs(keras.ops.convert_to_numpy(channels_first(first(images), training=False)), expected)
    assert all(type(layer).__module__.startswith("keras.") for layer in channels_first.layers)
    axes = [layer.axis for layer in channels_first.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert axes and set(axes) == {1}


def test_keras_applications_channels_first_resnet50(image_data_format, tmp_path):
    """keras.applications' own channels_first ResNet50 (random weights, BN statistics and conv
    biases), saved as the published files are, loads into ours built channels_first: the same
    logits and feature map."""
    image_data_format("channels_first")
    theirs = random_keras_applications("ResNet50", include_top=True, seed=1)
    assert theirs.input_shape == (None, 3, SIZE, SIZE)
    write_keras2_weights(theirs, tmp_path / "resnet50.h5")
    ours = kr.ResNet50(weights=str(tmp_path / "resnet50.h5"), input_shape=(3, SIZE, SIZE), classifier_activation=None)
    images = first(RNG.uniform(-1, 1, (2, SIZE, SIZE, 3)).astype("float32"))
    assert_same_outputs(keras.ops.convert_to_numpy(ours(images)), keras.ops.convert_to_numpy(theirs(images)))
    tap = "conv4_block6_out"
    ours_map = keras.Model(ours.input, ours.get_layer(tap).output)(images)
    theirs_map = keras.Model(theirs.input, theirs.get_layer(tap).output)(images)
    assert_same_outputs(keras.ops.convert_to_numpy(ours_map), keras.ops.convert_to_numpy(theirs_map))


def test_pretrained_cifar_weights_either_layout(cifar_test, image_data_format):
    """The shipped CIFAR-10 weights, with their baked-in normalisation, on real CIFAR images:
    the same predictions in both layouts."""
    images = cifar_test[0][:64]
    last = kr.CifarResNet20(weights="cifar10").predict(images, verbose=0)
    image_data_format("channels_first")
    model = kr.CifarResNet20(weights="cifar10")
    assert model.input_shape == (None, 3, 32, 32)
    np.testing.assert_allclose(model.predict(first(images), verbose=0), last, atol=1e-5)
    assert (last.argmax(1) == cifar_test[1][:64]).mean() > 0.85


def test_features_and_folding_channels_first(image_data_format):
    """Pyramid taps at strides 4-32 with channels first, and BN folding that keeps the outputs."""
    image_data_format("channels_first")
    model = randomise_batchnorm(kr.ResNet18(include_top=False, input_shape=(3, SIZE, SIZE)))
    features = kr.feature_extractor(model)
    assert {k: tuple(v.shape[1:]) for k, v in features.output.items()} == {
        "C2": (64, 16, 16), "C3": (128, 8, 8), "C4": (256, 4, 4), "C5": (512, 2, 2)}
    folded = kr.fold_batchnorm(model)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    images = first(RNG.uniform(0, 1, (2, SIZE, SIZE, 3)).astype("float32"))
    assert_same_outputs(keras.ops.convert_to_numpy(folded(images)), keras.ops.convert_to_numpy(model(images)))


@pytest.mark.parametrize("mode", ["caffe", "torch", "tf"])
def test_baked_preprocessing_either_layout(mode, image_data_format):
    """include_preprocessing (ImageNet crop of any size, then the mode's normalisation, stock
    layers) equals `preprocess_input` then the network, in both layouts."""
    raw = RNG.integers(0, 256, (2, 80, 96, 3)).astype("float32")
    for data_format in ("channels_last", "channels_first"):
        image_data_format(data_format)
        images = first(raw) if data_format == "channels_first" else raw
        baked = kr.ResNet18(include_preprocessing=mode, classes=5)
        plain = kr.ResNet18(classes=5, input_shape=baked.get_layer("conv1_pad").input.shape[1:])
        for layer in plain.layers[1:]:  # by name, past the input
            layer.set_weights(baked.get_layer(layer.name).get_weights())
        crop = keras.Model(baked.input, baked.get_layer("preprocessing_crop").output)(images)
        expected = plain(kr.preprocess_input(crop, mode))
        np.testing.assert_allclose(keras.ops.convert_to_numpy(baked(images)),
                                   keras.ops.convert_to_numpy(expected), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("data_format, shape, read", [
    ("channels_first", (224, 224, 3), "(channels, height, width), channels_first"),
    ("channels_last", (3, 224, 224), "(height, width, channels), channels_last"),
    ("channels_first", (3, 224), "(channels, height, width), channels_first"),
])
def test_a_shape_of_the_other_layout_is_refused_naming_the_layout(data_format, shape, read, image_data_format):
    image_data_format(data_format)
    with pytest.raises(ValueError, match=r"`input_shape`.*" + read.replace("(", r"\(").replace(")", r"\)")):
        kr.ResNet50(weights=None, input_shape=shape)


def test_preprocess_input_channels_first_refuses_channels_last_images():
    images = RNG.integers(0, 256, (2, 32, 32, 3)).astype("float32")
    with pytest.raises(ValueError, match=r"`x` must be RGB images, channels first: .*data_format='channels_first'"):
        kr.preprocess_input(images, "torch", data_format="channels_first")
    with pytest.raises(ValueError, match=r"`data_format` must be one of"):
        kr.preprocess_input(images, "torch", data_format="NHWC")
