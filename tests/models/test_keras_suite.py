"""Keras' own tests of its ResNets and ImageNet utilities, pointed at ours.

An adaptation of `keras/src/applications/applications_test.py` (`ApplicationsTest`, its ResNet50,
ResNet101 and ResNet152 rows) and `keras/src/applications/imagenet_utils_test.py`
(`TestImageNetUtils`), keeping every test that needs no download: `weights=None` throughout (the
prediction test on the elephant image with ImageNet weights keeps everything but the weights and
the image). Where Keras asserts a fixed value, ours is also compared with keras.applications built
from the same arguments (shapes only: the weights are random), and `kr.preprocess_input` with
`keras.applications.imagenet_utils.preprocess_input`, the independent reference.

Two adaptations run through the file: keras' `preprocess_input(x, data_format, mode)` takes the data
format second, ours `preprocess_input(x, mode, data_format)`, so both are called with keywords; and
ours never modifies its input in place (keras' does, on float arrays), so Keras' assertions on the
overwritten input become assertions that the input is unchanged.
"""

import functools
import os
from typing import NamedTuple

import keras
import numpy as np
import pytest
from keras.applications import imagenet_utils
from keras.src.utils import file_utils as keras_file_utils
from references import shapes_only

import keras_resnet as kr
from keras_resnet.pretrained import download

pytestmark = pytest.mark.backends  # CI runs it under TensorFlow, torch and JAX (scripts/test.sh)

# (app, last_dim) as in keras' MODEL_LIST
APPS = {"ResNet50": 2048, "ResNet101": 2048, "ResNet152": 2048}
MODES = ("caffe", "torch", "tf")
FORMATS = ("channels_last", "channels_first")
MIN_SIZE = 32  # keras.applications' ResNets: obtain_input_shape(..., min_size=32)

# keras' conftest.py marks `requires_trainable_backend` so (its applications tests and the symbolic
# preprocessing test carry the mark)
requires_trainable_backend = pytest.mark.skipif(
    keras.backend.backend() in ("numpy", "openvino"),
    reason="Trainer not implemented for NumPy and OpenVINO backend.",
)
# ApplicationsTest's class decorator (with requires_trainable_backend)
skip_applications = pytest.mark.skipif(os.environ.get("SKIP_APPLICATIONS_TESTS"), reason="Env variable set to skip.")

# keras.applications on 4 or 5 input channels (which Keras' tests ask for)
KERAS_CHANNELS_WARNING = "ignore:This model usually expects 1 or 3 input channels:UserWarning"


@pytest.fixture(params=FORMATS)
def keras_data_format(request):
    """keras.config's image data format for one test (what `ApplicationsTest` sets with
    `backend.set_image_data_format`), restored afterwards; parametrized over both formats (not
    conftest's `image_data_format`, a setter)."""
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format(request.param)
    try:
        yield request.param
    finally:
        keras.config.set_image_data_format(previous)


@pytest.fixture
def mixed_float16():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


class Summary(NamedTuple):
    input_shape: tuple
    output_shape: list
    activation: str | None  # the last layer's


def summary(model: keras.Model) -> Summary:
    activation = getattr(model.layers[-1], "activation", None)
    return Summary(model.input_shape, output_shape(model), getattr(activation, "__name__", None))


def output_shape(model: keras.Model) -> list:
    return list(model.outputs[0].shape)


def keras_reference(app: str, **kwargs) -> Summary:
    """keras.applications' network of the same name, randomly initialised, from the same
    arguments (in the global data format), summarised; built once for each."""
    return _keras_reference(app, keras.config.image_data_format(), tuple(sorted(kwargs.items())))


@functools.cache
def _keras_reference(app: str, data_format: str, kwargs: tuple) -> Summary:
    assert data_format == keras.config.image_data_format()
    return summary(shapes_only(getattr(keras.applications, app), weights=None, **dict(kwargs)))


def build_both(app: str, **kwargs) -> tuple[keras.Model, Summary]:
    """Ours, and keras.applications' summary, from the same arguments (weights=None), built
    for their shapes only (`references.shapes_only`: what these tests read)."""
    return shapes_only(getattr(kr, app), weights=None, **kwargs), keras_reference(app, **kwargs)


def in_format(spatial: tuple, channels: int, data_format: str) -> tuple:
    return (*spatial, channels) if data_format == "channels_last" else (channels, *spatial)


def skip_channels_first_on_tensorflow_cpu(keras_data_format: str) -> None:
    """Keras' skip in test_application_base, the one test that runs the network."""
    if keras_data_format == "channels_first" and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if len(tf.config.list_physical_devices("GPU")) == 0:
            pytest.skip("Conv2D doesn't support channels_first using CPU with tensorflow backend")


def keras_preprocess(x, **kwargs):
    """keras.applications' preprocess_input on a copy: it works in place on float arrays."""
    return imagenet_utils.preprocess_input(np.array(x, copy=True), **kwargs)


def preprocess_like_keras(x, **kwargs) -> np.ndarray:
    """Ours, checked against keras.applications' on the same array (values, shape, dtype), and
    for leaving its input alone."""
    before = np.array(x, copy=True)
    ours = kr.preprocess_input(x, **kwargs)
    expected = keras_preprocess(x, **kwargs)
    assert isinstance(ours, np.ndarray)
    assert (ours.shape, ours.dtype) == (expected.shape, expected.dtype)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(x, before)
    return ours


def predict_through_lambda(function, x: np.ndarray) -> np.ndarray:
    """`function` applied inside a model (a Lambda layer on a symbolic input), as Keras' symbolic
    tests do; `x` is a batch."""
    inputs = keras.layers.Input(shape=x.shape[1:])
    outputs = keras.layers.Lambda(function, output_shape=x.shape[1:])(inputs)
    return keras.Model(inputs, outputs).predict(x, verbose=0)


def assert_same_decoding(ours: list, theirs: list) -> None:
    assert len(ours) == len(theirs)
    for image_ours, image_theirs in zip(ours, theirs):
        assert [entry[:2] for entry in image_ours] == [tuple(entry[:2]) for entry in image_theirs]
        np.testing.assert_allclose([e[2] for e in image_ours], [e[2] for e in image_theirs], rtol=1e-6)


# ResNet-101 and -152 differ from ResNet-50 only in blocks per stage (the same layers from the same
# builder): their rows run under one backend, ResNet-50's under every one. Inference: channels_last
# under TensorFlow, channels_first under torch (TensorFlow's CPU cannot; JAX, where each compile of a
# deep net costs most, runs ResNet-50 in both); shapes: under TensorFlow.
DEEP_INFERENCE = {"channels_last": "tensorflow", "channels_first": "torch"}


def only_under(app: str, backend: str) -> None:
    if app != "ResNet50" and keras.backend.backend() != backend:
        pytest.skip(f"{app}'s row runs under the {backend} backend")


# --- applications_test.py: ApplicationsTest -------------------------------------------------------


@skip_applications
@requires_trainable_backend
@pytest.mark.parametrize("app", APPS)
@pytest.mark.filterwarnings(KERAS_CHANNELS_WARNING)
def test_application_notop_variable_input_channels(app, keras_data_format):
    """ApplicationsTest.test_application_notop_variable_input_channels: 1 and 4 input channels,
    any size, give (None, None, None, 2048) feature maps (channels first: (None, 2048, None, None))."""
    only_under(app, "tensorflow")
    last_dim = APPS[app]
    if keras_data_format == "channels_first":
        correct_output_shape = [None, last_dim, None, None]
    else:
        correct_output_shape = [None, None, None, last_dim]
    for channels in (1, 4):
        input_shape = in_format((None, None), channels, keras_data_format)
        ours, theirs = build_both(app, include_top=False, input_shape=input_shape)
        assert output_shape(ours) == correct_output_shape
        assert output_shape(ours) == theirs.output_shape
        assert ours.input_shape == theirs.input_shape == (None, *input_shape)


@skip_applications
@requires_trainable_backend
@pytest.mark.parametrize("app", [pytest.param(app, marks=pytest.mark.slow) if app == "ResNet152" else app
                                 for app in APPS])
def test_application_base(app, keras_data_format, keras_decode_predictions):
    """ApplicationsTest.test_application_base without the download: default arguments but
    weights=None, one random image of the model's input size in place of the elephant, its
    preprocessing (the global data format), prediction and decoding, then serialisation."""
    skip_channels_first_on_tensorflow_cpu(keras_data_format)
    only_under(app, DEEP_INFERENCE[keras_data_format])
    # Can be instantiated with default arguments (keras' default weights are "imagenet")
    model = getattr(kr, app)(weights=None)
    # keras' defaults spelled out: the same build as test_application_classifier_activation's
    reference = keras_reference(app, include_top=True, classifier_activation="softmax")
    assert summary(model) == reference

    # Can run inference on an image of its input size (_get_elephant: img_to_array in the global format)
    if keras_data_format == "channels_first":
        shape = model.input_shape[2:4]
    else:
        shape = model.input_shape[1:3]
    x = np.random.default_rng(0).uniform(0, 255, (1, *in_format(shape, 3, keras_data_format))).astype("float32")
    expected = keras.applications.resnet.preprocess_input(x.copy())
    x = kr.preprocess_input(x)  # data_format=None: the global format, as keras' resnet.preprocess_input
    np.testing.assert_allclose(x, expected, rtol=1e-6, atol=1e-5)
    preds = model.predict(x, verbose=0)
    assert preds.shape == (1, 1000)
    assert np.all(np.isfinite(preds))
    np.testing.assert_allclose(preds.sum(axis=-1), 1.0, rtol=1e-4)
    decoded = kr.decode_predictions(preds)
    names = [p[1] for p in decoded[0]]
    assert len(names) == 5
    assert_same_decoding(decoded, keras_decode_predictions(preds))

    # Can be serialized and deserialized
    config = keras.saving.serialize_keras_object(model)
    reconstructed_model = keras.saving.deserialize_keras_object(config)
    assert len(model.weights) == len(reconstructed_model.weights)
    assert [w.shape for w in model.weights] == [w.shape for w in reconstructed_model.weights]


@skip_applications
@requires_trainable_backend
@pytest.mark.parametrize("app", APPS)
def test_application_notop_custom_input_shape(app, keras_data_format):
    """ApplicationsTest.test_application_notop_custom_input_shape: 123x123 images give 2048
    feature maps on the format's channel axis."""
    only_under(app, "tensorflow")
    input_shape = in_format((123, 123), 3, keras_data_format)
    last_dim_axis = 1 if keras_data_format == "channels_first" else -1
    ours, theirs = build_both(app, include_top=False, input_shape=input_shape)
    assert output_shape(ours)[last_dim_axis] == APPS[app]
    assert output_shape(ours) == theirs.output_shape


@skip_applications
@requires_trainable_backend
@pytest.mark.parametrize("app", APPS)
def test_application_notop_custom_input_tensor(app, keras_data_format):
    """ApplicationsTest.test_application_notop_custom_input_tensor: built on a tensor (a strided
    conv of a 4-channel 200x200 input), the model starts at that input."""
    only_under(app, "tensorflow")
    input_shape = in_format((200, 200), 4, keras_data_format)
    last_dim_axis = 1 if keras_data_format == "channels_first" else -1
    inputs_custom = keras.layers.Input(shape=input_shape, name="custom_input")
    inputs_custom = keras.layers.Conv2D(3, (2, 2), padding="valid", strides=(2, 2))(inputs_custom)
    ours = shapes_only(getattr(kr, app), weights=None, include_top=False, input_tensor=inputs_custom)
    theirs = summary(shapes_only(getattr(keras.applications, app), weights=None, include_top=False,
                                 input_tensor=inputs_custom))
    assert output_shape(ours)[last_dim_axis] == APPS[app]
    assert output_shape(ours) == theirs.output_shape
    assert ours.input_shape == theirs.input_shape == (None, *input_shape)


@skip_applications
@requires_trainable_backend
@pytest.mark.parametrize(("app", "pooling"), [*((app, "max") for app in APPS), ("ResNet50", "avg")])
def test_application_pooling(app, pooling, keras_data_format):
    """ApplicationsTest.test_application_pooling (pooling="max"; and "avg" for one net): a
    (None, 2048) vector per image in either format."""
    only_under(app, "tensorflow")
    ours, theirs = build_both(app, include_top=False, pooling=pooling)
    assert output_shape(ours) == [None, APPS[app]]
    assert summary(ours) == theirs


@skip_applications
@requires_trainable_backend
@pytest.mark.parametrize("app", APPS)
def test_application_classifier_activation(app, keras_data_format):
    """ApplicationsTest.test_application_classifier_activation: the classifier's activation is
    the one asked for."""
    only_under(app, "tensorflow")
    ours, theirs = build_both(app, include_top=True, classifier_activation="softmax")
    last_layer_act = ours.layers[-1].activation.__name__
    assert last_layer_act == "softmax"
    assert summary(ours) == theirs


# --- imagenet_utils_test.py: TestImageNetUtils ----------------------------------------------------


@pytest.mark.parametrize("keras_data_format", ["channels_last"], indirect=True)
def test_preprocess_input(keras_data_format):
    """TestImageNetUtils.test_preprocess_input: numpy batches and single images, float and int,
    in both data formats (the same values either way), each also equal to keras.applications';
    Keras' default data format (the config's) pinned to its default, channels_last."""
    rng = np.random.default_rng(0)
    # Test invalid mode check
    x = rng.uniform(0, 255, (10, 10, 3))
    with pytest.raises(ValueError):
        kr.preprocess_input(x, mode="some_unknown_mode")
    # (not in Keras' test: its data_format check, which ours shares)
    with pytest.raises(ValueError):
        imagenet_utils.preprocess_input(x.copy(), data_format="channels_middle")
    with pytest.raises(ValueError):
        kr.preprocess_input(x, data_format="channels_middle")

    # Test image batch with float and int image input, then a single image
    for shape, to_first, to_last in (((2, 10, 10, 3), (0, 3, 1, 2), (0, 2, 3, 1)), ((10, 10, 3), (2, 0, 1), (1, 2, 0))):
        x = rng.uniform(0, 255, shape)
        xint = x.astype("int32")
        assert preprocess_like_keras(x).shape == x.shape
        assert preprocess_like_keras(xint).shape == xint.shape

        out1 = preprocess_like_keras(x, data_format="channels_last")
        out1int = preprocess_like_keras(xint, data_format="channels_last")
        out2 = preprocess_like_keras(np.transpose(x, to_first), data_format="channels_first")
        out2int = preprocess_like_keras(np.transpose(xint, to_first), data_format="channels_first")
        np.testing.assert_allclose(out1, out2.transpose(to_last), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(out1int, out2int.transpose(to_last), rtol=1e-6, atol=1e-6)

    # Test that writing over the input data works predictably. Keras asserts that its float input
    # was overwritten with the result (assertAllClose(x, x2)); ours never writes in place, so the
    # input must come back unchanged, and the result is a new array (with keras' values).
    for mode in ["torch", "tf"]:
        x = rng.uniform(0, 255, (2, 10, 10, 3))
        xint = x.astype("int")
        before = x.copy()
        x2 = preprocess_like_keras(x, data_format="channels_last", mode=mode)
        xint2 = preprocess_like_keras(xint, data_format="channels_last")
        np.testing.assert_array_equal(x, before)
        assert not np.shares_memory(x, x2)
        assert xint.astype("float").max() != xint2.max()

    # Caffe mode works differently from the others: keras asserts assertAllClose(x, x2[..., ::-1])
    # (its BGR result is a reversed view of the overwritten input); ours leaves x unchanged
    x = rng.uniform(0, 255, (2, 10, 10, 3))
    xint = x.astype("int")
    before = x.copy()
    x2 = preprocess_like_keras(x, data_format="channels_last", mode="caffe")
    xint2 = preprocess_like_keras(xint, data_format="channels_last")
    np.testing.assert_array_equal(x, before)
    assert not np.shares_memory(x, x2)
    assert xint.astype("float").max() != xint2.max()


@requires_trainable_backend
@pytest.mark.parametrize("mode", MODES)
def test_preprocess_input_symbolic(mode, keras_data_format):
    """TestImageNetUtils.test_preprocess_input_symbolic, in either global data format (Keras'
    test reads it): inside a model, batches and single images, the default and both explicit
    formats, with the values of keras.applications' preprocess_input on the same arrays."""
    rng = np.random.default_rng(1)
    # Test image batch, then a single image (which Keras predicts as x[np.newaxis])
    for samples in (2, 1):
        x = rng.uniform(0, 255, (samples, *in_format((10, 10), 3, keras_data_format)))
        out = predict_through_lambda(lambda t: kr.preprocess_input(t, mode=mode), x)
        assert out.shape == x.shape
        np.testing.assert_allclose(out, keras_preprocess(x, mode=mode), rtol=1e-5, atol=1e-4)

        x = rng.uniform(0, 255, (samples, 10, 10, 3))
        out1 = predict_through_lambda(lambda t: kr.preprocess_input(t, data_format="channels_last", mode=mode), x)
        x2 = np.transpose(x, (0, 3, 1, 2))
        out2 = predict_through_lambda(lambda t: kr.preprocess_input(t, data_format="channels_first", mode=mode), x2)
        np.testing.assert_allclose(out1, out2.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-4)
        expected = keras_preprocess(x, data_format="channels_last", mode=mode)
        np.testing.assert_allclose(out1, expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("mode", MODES)
def test_preprocess_input_symbolic_mixed_precision(mode, mixed_float16):
    """TestImageNetUtils.test_preprocess_input_symbolic_mixed_precision: builds on a symbolic input
    under the mixed_float16 policy; and (not in Keras' test) runs, giving keras.applications'
    values and dtype."""
    shape = (20, 20, 3)
    inputs = keras.layers.Input(shape=shape)
    ours = keras.layers.Lambda(lambda t: kr.preprocess_input(t, mode=mode), output_shape=shape)(inputs)
    theirs = keras.layers.Lambda(lambda t: imagenet_utils.preprocess_input(t, mode=mode), output_shape=shape)(inputs)
    x = np.random.default_rng(2).uniform(0, 255, (1, *shape))
    ours, theirs = keras.Model(inputs, [ours, theirs]).predict(x, verbose=0)
    assert ours.dtype == theirs.dtype
    theirs = theirs.astype("float32")
    np.testing.assert_allclose(ours.astype("float32"), theirs, rtol=2e-3, atol=2e-3 * np.abs(theirs).max())


@pytest.mark.filterwarnings(KERAS_CHANNELS_WARNING)
def test_obtain_input_shape(keras_data_format):
    """TestImageNetUtils.test_obtain_input_shape, through the public API: keras' ResNets resolve
    `input_shape` with obtain_input_shape(default_size=224, min_size=32, the global data format,
    require_flatten=include_top), so each of its cases is a ResNet50 built with the matching
    arguments: ours refuses (ValueError) what keras.applications refuses, and resolves the rest to
    the shapes Keras' test expects. Its include_top cases with ImageNet weights or a dynamic shape
    are test_obtain_input_shape_include_top."""
    invalid = [
        in_format((MIN_SIZE - 1, MIN_SIZE - 1), 3, keras_data_format),  # input_shape is smaller than min_size
        in_format((100,), 3, keras_data_format),  # shape is 1D
        # the number of channels is 5 not 3: as in Keras' test, the size is below min_size too (without
        # ImageNet weights keras.applications accepts 5 channels with a warning)
        in_format((MIN_SIZE - 1, MIN_SIZE - 1), 5, keras_data_format),
    ]
    for input_shape in invalid:
        with pytest.raises(ValueError):
            keras.applications.ResNet50(weights=None, include_top=False, input_shape=input_shape)
        with pytest.raises(ValueError):
            kr.ResNet50(weights=None, include_top=False, input_shape=input_shape)

    valid = [
        (True, in_format((200, 200), 3, keras_data_format), in_format((200, 200), 3, keras_data_format)),  # top
        (False, None, in_format((None, None), 3, keras_data_format)),
        (False, in_format((150, 150), 3, keras_data_format), in_format((150, 150), 3, keras_data_format)),
        (False, in_format((None, None), 3, keras_data_format), in_format((None, None), 3, keras_data_format)),
    ]
    for include_top, input_shape, resolved in valid:
        ours = shapes_only(kr.ResNet50, weights=None, include_top=include_top, input_shape=input_shape)
        assert ours.input_shape == (None, *resolved)


class WouldDownload(Exception):
    pass


def test_obtain_input_shape_include_top_imagenet(keras_data_format, monkeypatch):
    """TestImageNetUtils.test_obtain_input_shape, its case "input_shape and default_size are not
    identical": with ImageNet weights and the classifier, keras.applications takes only its
    default input shape. Ours also takes other sizes, a documented superset (docs/backends.md,
    "Any input size"): global average pooling makes the classifier apply to any feature map,
    the paper's fully-convolutional testing. Nothing is downloaded: both libraries'
    downloaders raise WouldDownload instead, which here means that the arguments were accepted."""

    def would_download(*args, **kwargs):
        raise WouldDownload("the arguments were accepted, and the weights would be downloaded")

    monkeypatch.setattr(download, "fetch", would_download)
    monkeypatch.setattr(keras_file_utils, "get_file", would_download)

    default_shape = in_format((224, 224), 3, keras_data_format)
    with pytest.raises(WouldDownload):
        shapes_only(keras.applications.ResNet50, weights="imagenet", include_top=True, input_shape=default_shape)
    with pytest.raises(WouldDownload):
        shapes_only(kr.ResNet50, weights="imagenet", include_top=True, input_shape=default_shape)

    other_shape = in_format((200, 200), 3, keras_data_format)
    with pytest.raises(ValueError):
        keras.applications.ResNet50(weights="imagenet", include_top=True, input_shape=other_shape)
    with pytest.raises(WouldDownload):  # ours: accepted
        shapes_only(kr.ResNet50, weights="imagenet", include_top=True, input_shape=other_shape)


def test_obtain_input_shape_include_top_dynamic(keras_data_format):
    """TestImageNetUtils.test_obtain_input_shape, its case "require_flatten=True with dynamic input
    shape": keras.applications refuses an input of unknown size with the classifier; ours builds
    it (the documented superset above) and classifies images of any size."""
    dynamic_shape = in_format((None, None), 3, keras_data_format)
    with pytest.raises(ValueError):
        keras.applications.ResNet50(weights=None, include_top=True, input_shape=dynamic_shape)
    model = kr.ResNet50(weights=None, include_top=True, input_shape=dynamic_shape)
    assert model.output_shape == (None, 1000)
    image = np.zeros((1, *in_format((96, 128), 3, keras_data_format)), "float32")
    assert model.predict(image, verbose=0).shape == (1, 1000)


# --- decode_predictions (keras.applications' own; Keras tests it only through the elephant) --------


@pytest.mark.parametrize("top", [5, 1, 1000])
@pytest.mark.parametrize("as_tensor", [False, True], ids=["numpy", "tensor"])
def test_decode_predictions(top, as_tensor, keras_decode_predictions):
    """decode_predictions (keras' test_application_base decodes the elephant's predictions):
    ours gives keras.applications' (class id, name, score) lists for the same random softmax
    outputs, best first, from a numpy array or a backend tensor."""
    logits = np.random.default_rng(3).normal(0, 3, (2, 1000))
    preds = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype("float32")
    given = keras.ops.convert_to_tensor(preds) if as_tensor else preds
    ours = kr.decode_predictions(given, top=top)
    theirs = keras_decode_predictions(preds, top=top)
    assert [len(image) for image in ours] == [top, top]
    assert_same_decoding(ours, theirs)
    assert all(isinstance(score, float) for image in ours for *_, score in image)


@pytest.mark.parametrize("shape", [(2, 999), (1000,), (2, 1000, 1), (1, 1001)])
def test_decode_predictions_wrong_shape(shape):
    """keras.applications' decode_predictions error case (ValueError: not a batch of 1000
    scores, `(samples, 1000)`), checked before any class index is read."""
    preds = np.full(shape, 1e-3, dtype="float32")
    with pytest.raises(ValueError):
        imagenet_utils.decode_predictions(preds)
    with pytest.raises(ValueError):
        kr.decode_predictions(preds)
