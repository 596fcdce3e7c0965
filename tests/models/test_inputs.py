"""Wrong images get a clear error, not confident, wrong predictions: `preprocess_input` refuses
what it cannot normalise (shape, dtype, values), and our models' `predict` (Keras' own
checks, and with preprocessing built in the preprocessing layers') names the expected and the
received shape."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from keras.applications import imagenet_utils

import keras_resnet as kr
from keras_resnet.models.preprocessing import MODES

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
WITH_NAN = IMAGES.astype("float32")
WITH_NAN[1, 2, 3, 0] = np.nan
SHAPE = r"`x` must be RGB images, channels last: one image \(height, width, 3\) or a batch"
DTYPE = r"`x` must hold integer or float pixel values"
RANGE = r"`x` must be raw RGB values in \[0, 255\]"

DTYPES = ("uint8", "int16", "int64", "float32", "float64", "bool", "complex64")


def pixel_values(dtype: str):
    """Mostly in [0, 255], sometimes anything the dtype holds (negative, huge, NaN, inf)."""
    if dtype in ("bool", "complex64"):
        return None  # anything
    in_range = hnp.from_dtype(np.dtype(dtype), min_value=0, max_value=255)
    return st.one_of(in_range, in_range, in_range, hnp.from_dtype(np.dtype(dtype)))


pixel_arrays = st.sampled_from(DTYPES).flatmap(lambda dtype: hnp.arrays(
    dtype,
    st.one_of(  # mostly (height, width, 3) or (samples, height, width, 3); sides from 0
        hnp.array_shapes(min_dims=3, max_dims=4, min_side=0, max_side=3).map(lambda s: (*s[:-1], 3)),
        hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4),
    ),
    elements=pixel_values(dtype),
))


def acceptable(x: np.ndarray) -> bool:
    """The documented input: channels-last RGB, one image or a batch, numbers in [0, 255]."""
    if x.ndim not in (3, 4) or x.shape[-1] != 3 or x.dtype.kind not in "iuf":
        return False
    return x.size == 0 or bool(np.isfinite(x).all() and x.min() >= 0 and x.max() <= 255)


@settings(max_examples=300, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(pixel_arrays, st.sampled_from(MODES), st.booleans())
def test_preprocess_input_normalises_or_refuses(x, mode, as_tensor):
    """keras.applications' result, bit for bit, for the input it documents; for anything else
    (where keras.applications returns garbage or fails deep in numpy) a ValueError naming `x`."""
    given_x = keras.ops.convert_to_tensor(x) if as_tensor else x
    if acceptable(x):
        expected = imagenet_utils.preprocess_input(x.copy(), mode=mode)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(kr.preprocess_input(given_x, mode)), expected)
    else:
        with pytest.raises(ValueError, match="`x` must"):
            kr.preprocess_input(given_x, mode)


@pytest.mark.parametrize("as_tensor", [False, True], ids=["numpy", "tensor"])
@pytest.mark.parametrize(
    "x, match",
    [
        pytest.param(IMAGES[0, :, :, 0], SHAPE + r".*received x of shape \(8, 8\)", id="grey-no-channel-axis"),
        pytest.param(IMAGES[None], SHAPE + r".*received x of shape \(1, 2, 8, 8, 3\)", id="rank-5"),
        pytest.param(IMAGES[..., :1], SHAPE + r".*\(2, 8, 8, 1\)", id="1-channel"),
        pytest.param(np.concatenate([IMAGES, IMAGES[..., :1]], -1), SHAPE + r".*\(2, 8, 8, 4\)", id="RGBA"),
        pytest.param(IMAGES.transpose(0, 3, 1, 2), SHAPE + r".*\(2, 3, 8, 8\)", id="channels-first"),
        pytest.param(IMAGES > 127, DTYPE + r"; received x of dtype bool", id="bool"),
        pytest.param(IMAGES.astype("complex64"), DTYPE + r"; received x of dtype complex64", id="complex"),
        pytest.param(np.linspace(-1, 1, IMAGES.size).reshape(IMAGES.shape), RANGE + r"; received values in \[-1, 1\]",
                     id="normalised"),
        pytest.param(np.full((1, 8, 8, 3), 1000, "uint16"), RANGE + r"; received values in \[1000, 1000\]",
                     id="16-bit"),
        pytest.param(WITH_NAN, r"`x` must be finite .* NaN or infinite", id="nan"),
        pytest.param(np.where(WITH_NAN >= 0, IMAGES, np.inf), r"`x` must be finite .* NaN or infinite", id="inf"),
    ],
)
def test_preprocess_input_refuses(x, match, as_tensor):
    with pytest.raises(ValueError, match=match):
        kr.preprocess_input(keras.ops.convert_to_tensor(x) if as_tensor else x)


@pytest.mark.parametrize(
    "x, match",
    [
        # astype(float32) would parse these and go on
        pytest.param(IMAGES.astype(str), DTYPE + r"; received x of dtype <U3", id="numpy-strings"),
        pytest.param(IMAGES.astype(object), DTYPE + r"; received x of dtype object", id="numpy-objects"),
        pytest.param(tf.constant(IMAGES.astype(str)), DTYPE + r"; received x of dtype string", id="tf-strings"),
        pytest.param([IMAGES[0], IMAGES[0, :4]], r"`x` must be images of one size, stacked", id="sizes-differ"),
    ],
)
def test_preprocess_input_refuses_non_numbers(x, match):
    with pytest.raises(ValueError, match=match):
        kr.preprocess_input(x)


def test_preprocessing_twice_is_refused():
    """The usual mistake: images already normalised, by this function or by a pipeline."""
    with pytest.raises(ValueError, match=RANGE + r".* already normalised"):
        kr.preprocess_input(kr.preprocess_input(IMAGES, "torch"), "torch")


def test_valid_edge_cases():
    """0 and 255 are in range; an empty batch, one image and a nested list are images."""
    x = np.array([[[0, 255, 0]]], "int64")
    np.testing.assert_array_equal(kr.preprocess_input(x, "tf"), [[[-1.0, 1.0, -1.0]]])
    assert kr.preprocess_input(np.zeros((0, 8, 8, 3), "uint8")).shape == (0, 8, 8, 3)
    np.testing.assert_array_equal(kr.preprocess_input(IMAGES.tolist()), kr.preprocess_input(IMAGES))


def test_graph_tensors_get_the_static_checks_only():
    """In tf.data or a model, values are unknown: images of unknown rank (tf.io.decode_image)
    or size pass and normalise as eagerly; a known wrong channel count is refused at trace time."""
    decoded = tf.data.Dataset.from_tensor_slices([tf.io.encode_png(image) for image in IMAGES]).map(tf.io.decode_image)
    assert decoded.element_spec.shape.rank is None
    for dataset in (tf.data.Dataset.from_tensor_slices(IMAGES), decoded):
        out = np.stack(list(dataset.map(lambda x: kr.preprocess_input(x, "torch"))))
        np.testing.assert_array_equal(out, kr.preprocess_input(IMAGES, "torch"))
    with pytest.raises(ValueError, match=SHAPE + r".*\(8, 8, 4\)"):
        tf.data.Dataset.from_tensor_slices(np.zeros((2, 8, 8, 4), "uint8")).map(kr.preprocess_input)
    with pytest.raises(ValueError, match=SHAPE + r".*\(None, 8, 8, 1\)"):
        kr.preprocess_input(keras.Input((8, 8, 1)))
    inputs = keras.Input((None, None, 3), dtype="uint8")
    model = keras.Model(inputs, keras.layers.Lambda(kr.preprocess_input)(inputs))
    np.testing.assert_array_equal(model.predict(IMAGES, verbose=0), kr.preprocess_input(IMAGES))


MODELS = ["cifar", "resnet18", "cifar-raw", "resnet18-raw"]


@pytest.fixture(scope="module")
def models():
    """Without and with preprocessing built in (the CIFAR weights' default; an ImageNet net
    taking any size): each is used by the tests below in the order grayscale, RGBA, one
    image, as a model is in a session, where Keras relaxes predict's traced shapes."""
    return {
        "cifar": (kr.CifarResNet(3), 32),
        "resnet18": (kr.ResNet18(include_top=False), 64),
        "cifar-raw": (kr.CifarResNet20(weights="cifar10"), 32),
        "resnet18-raw": (kr.ResNet18(include_preprocessing="torch"), 64),
    }


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("channels", [1, 4])
def test_predict_wrong_channels_names_expected_and_received(models, name, channels):
    """Keras' own message: the model's input shape, or for 1 channel (Keras lets a last axis
    of 1 through) the 3 channels the first conv or preprocessing layer expects; and the shape
    received. With preprocessing, 1 channel was broadcast to 3 and predicted."""
    model, size = models[name]
    x = np.zeros((2, size, size, channels), "float32")
    with pytest.raises(ValueError) as error:
        model.predict(x, verbose=0)
    message = str(error.value)
    assert str(x.shape) in message, message
    expected = (str(model.input_shape), "expected axis -1 of input shape to have value 3",
                "(samples, height, width, 3)")
    assert any(e in message for e in expected), message


@pytest.mark.parametrize("name", MODELS)
def test_predict_one_image_without_batch_axis(models, name):
    """Keras' message shows the expected batch shape and a received shape of rank 3. That
    shape is predict's first batch: the image's rows sliced as samples, so (32, 64, 3) for
    a 64x64 image, not the image's own shape."""
    model, size = models[name]
    with pytest.raises(ValueError) as error:
        model.predict(np.zeros((size, size, 3), "float32"), verbose=0)
    message = str(error.value)
    assert str(model.input_shape) in message and re.search(rf"\(\d+, {size}, 3\)", message), message
