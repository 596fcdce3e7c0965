"""Inputs and class names as the pretrained weights expect them: keras.applications'
preprocessing modes bit for bit, the same baked into models, the bundled class index."""

import json

import keras
import numpy as np
import pytest
from keras.applications import imagenet_utils

import keras_resnet as kr
from keras_resnet.core.architectures import IMAGENET
from keras_resnet.models.builder import _preprocessing
from keras_resnet.models.preprocessing import MODES
from keras_resnet.pretrained.download import weights_dir
from keras_resnet.pretrained.loading import save_weights
from keras_resnet.pretrained.request import resolve_weights

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (4, 40, 48, 3), dtype=np.uint8)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_preprocess_input_equals_keras_applications(mode, dtype):
    x = IMAGES.astype(dtype)
    before = x.copy()
    expected = imagenet_utils.preprocess_input(x.copy(), mode=mode)  # it works in place on floats
    ours = kr.preprocess_input(x, mode=mode)
    assert ours.dtype == expected.dtype == np.float32
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(x, before)  # ours leaves the input alone
    tensor = kr.preprocess_input(keras.ops.convert_to_tensor(x), mode)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(tensor), expected)


def test_cifar_model_takes_raw_images(cifar_test):
    """The CIFAR-10 weights bake in their normalisation by default (the checkpoints'
    mean/std, shared/README.md): raw uint8 CIFAR images give the predictions of the plain
    model on normalised ones."""
    images, _ = cifar_test
    raw = kr.CifarResNet20(weights="cifar10")
    normalization = raw.get_layer("preprocessing_normalization")  # stock: loads with Keras alone
    assert type(normalization) is keras.layers.Normalization and normalization.input_mean == pytest.approx(
        [255 * m for m in (0.485, 0.456, 0.406)])
    plain = kr.CifarResNet(3, weights="cifar10", include_preprocessing=False)
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    normalised = ((images[:256] / 255.0 - mean) / std).astype("float32")
    np.testing.assert_allclose(raw.predict(images[:256], verbose=0), plain.predict(normalised, verbose=0), atol=1e-5)


def test_preprocessing_default_only_for_cifar_registry_weights(tmp_path):
    """None (the default) bakes in the normalisation only for the registry's CIFAR-10
    weights: a CIFAR net without weights or with a user's file, and ImageNet nets (which take
    `preprocess_input`-ed images, as in keras.applications) start at the first conv."""
    save_weights(kr.CifarResNet(3), tmp_path / "w.h5")
    for model in (kr.CifarResNet(3), kr.CifarResNet(3, weights=str(tmp_path / "w.h5")), kr.ResNet18()):
        assert not any(layer.name.startswith("preprocessing") for layer in model.layers), model.name
    with resolve_weights("imagenet", "resnet50", variant="v1", shortcut="B", kind="bottleneck") as source:
        assert _preprocessing(None, source, IMAGENET[50]) is None  # the file is a download: decided before it
        assert _preprocessing(True, source, IMAGENET[50]) == source.entry.preprocessing


def test_imagenet_model_takes_raw_images_of_any_size(tmp_path):
    model = kr.ResNet18(include_preprocessing="torch", classes=5)
    assert model.input_shape == (None, None, None, 3)
    assert model.get_layer("conv1_pad").input.shape == (None, 224, 224, 3)
    for shape in ((1, 256, 320, 3), (2, 500, 375, 3)):
        assert model.predict(RNG.integers(0, 256, shape, dtype=np.uint8), verbose=0).shape == (shape[0], 5)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    x = RNG.integers(0, 256, (1, 240, 260, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_centre_crop_takes_the_central_region():
    """A 300x400 image whose central 262x262 square (0.875 x 300) is one colour and the rest
    another comes out as that colour only; a square image at crop 1 comes out unchanged."""
    image = np.zeros((1, 300, 400, 3), "float32")
    image[:, 19:281, 69:331] = 200.0
    out = keras.ops.convert_to_numpy(kr.CentreCrop(224, 0.875)(image))
    assert out.shape == (1, 224, 224, 3)
    np.testing.assert_allclose(out, 200.0, rtol=1e-5)
    square = RNG.uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kr.CentreCrop(224, 1.0)(square)), square, atol=1e-3)


@pytest.mark.backends
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_timms_crop_resizes_the_shorter_side_then_takes_torchvisions_centre(data_format):
    """resize_first (timm's eval transform, resnet50.a1h_in1k's 176 at crop 0.9): the shorter side
    to floor(176 / 0.9) = 195, here already so, then the central 176 x 176 at torchvision's
    CenterCrop offsets, int(round((side - 176) / 2.0)): 9.5 rounds to 10, half to even."""
    image = RNG.uniform(0, 255, (1, 195, 260, 3)).astype("float32")
    top, left = int(round((195 - 176) / 2.0)), int(round((260 - 176) / 2.0))
    crop = kr.CentreCrop(176, 0.9, "bicubic", data_format=data_format, resize_first=True)
    first = data_format == "channels_first"
    out = keras.ops.convert_to_numpy(crop(image.transpose(0, 3, 1, 2) if first else image))
    out = out.transpose(0, 2, 3, 1) if first else out
    np.testing.assert_allclose(out, image[:, top : top + 176, left : left + 176], atol=1e-3)
    inputs = keras.Input((3, None, None) if first else (None, None, 3))  # any size, in a compiled graph too
    tall = RNG.uniform(0, 255, (2, 301, 97, 3)).astype("float32")
    shape = keras.Model(inputs, crop(inputs)).predict(tall.transpose(0, 3, 1, 2) if first else tall, verbose=0).shape
    assert shape == ((2, 3, 176, 176) if first else (2, 176, 176, 3))
    # a side beyond 4 shorter sides is cut about its centre first: a 40 x 1000 strip crops as its central 40 x 160
    crop = kr.CentreCrop(40, 1.0, "bilinear", data_format=data_format, resize_first=True)
    strip = RNG.uniform(0, 255, (1, 40, 1000, 3)).astype("float32")
    ends, middle = (keras.ops.convert_to_numpy(crop(x.transpose(0, 3, 1, 2) if first else x))
                    for x in (strip, strip[:, :, 420:580]))
    np.testing.assert_array_equal(ends, middle)


def test_centre_crop_refuses_a_crop_of_no_pixel_in_a_model_of_any_size():
    """Built for any size, the crop is checked when the images come: 1% of 60 pixels is none."""
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, kr.CentreCrop(8, 0.01)(inputs))
    assert model(np.zeros((1, 120, 100, 3), "float32")).shape == (1, 8, 8, 3)
    with pytest.raises(ValueError, match=r"shorter side is 60 pixels to 0 pixels; it needs at least 1/60"):
        model(np.zeros((1, 60, 80, 3), "float32"))


def test_decode_predictions_equals_keras_applications(shared, monkeypatch):
    """The bundled class index is the standard one, and decoding matches keras.applications'
    (given that index, so nothing is downloaded)."""
    bundled = json.loads((weights_dir() / "imagenet_class_index.json").read_text())
    assert bundled == json.loads((shared / "imagenet_class_index.json").read_text())
    assert bundled["0"] == ["n01440764", "tench"] and bundled["999"] == ["n15075141", "toilet_tissue"]
    from keras.src.applications import imagenet_utils as implementation  # holds the loaded index

    monkeypatch.setattr(implementation, "CLASS_INDEX", bundled)
    preds = RNG.dirichlet(np.ones(1000), size=3).astype("float32")
    ours = kr.decode_predictions(preds, top=5)
    theirs = imagenet_utils.decode_predictions(preds, top=5)
    assert [[(i, n, float(s)) for i, n, s in row] for row in theirs] == ours


def test_decode_cifar10_predictions(cifar_test):
    images, labels = cifar_test
    model = kr.CifarResNet20(weights="cifar10")
    decoded = kr.decode_predictions(model.predict(images[:4], verbose=0), top=1, dataset="cifar10")
    assert [row[0][1] for row in decoded] == ["cat", "ship", "ship", "airplane"]  # shared/README.md
    assert [int(row[0][0]) for row in decoded] == list(labels[:4])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: kr.preprocess_input(IMAGES, mode="caffe2"), r"`mode` must be one of \['caffe', 'torch', 'tf'\]"),
        (lambda: kr.decode_predictions(np.zeros((2, 10))),
         r"`preds` must be a batch of 1000 imagenet scores.*\(2, 10\)"),
        (lambda: kr.decode_predictions(np.zeros((2, 10)), top=0, dataset="cifar10"),
         r"`top` must be an integer in \[1, 10\]"),
        (lambda: kr.decode_predictions(np.zeros((2, 10)), dataset="cifar100"),
         r"`dataset` must be one of \['imagenet', 'cifar10'\]"),
        (lambda: kr.CifarResNet(3, include_preprocessing="yes"),
         r"`include_preprocessing` must be one of \[None, False, True, 'caffe'"),
        (lambda: kr.CifarResNet(3, include_preprocessing=True),
         r"include_preprocessing=True uses the normalisation of registry weights"),
        (lambda: kr.decode_predictions(np.full((2, 10), np.nan), dataset="cifar10"),
         r"`preds` must be finite numbers \(a model's scores\); received NaN or infinite values in sample\(s\) "
         r"\[0, 1\]"),
        (lambda: kr.decode_predictions(np.where(np.arange(10) < [[10], [1]], 0.1, np.inf), dataset="cifar10"),
         r"received NaN or infinite values in sample\(s\) \[1\]"),
        (lambda: kr.decode_predictions(np.zeros((2, 10), object), dataset="cifar10"),
         r"`preds` must be finite numbers .* received values of dtype object"),
        (lambda: kr.CentreCrop(224, crop_fraction=1.5), r"`crop_fraction` must be a number in \(0, 1\]"),
        (lambda: kr.CentreCrop(224, crop_fraction=float("nan")), r"`crop_fraction` must be a number in \(0, 1\]"),
        (lambda: kr.CentreCrop(224, crop_fraction="0.5"), r"received crop_fraction='0.5'"),
        (lambda: kr.CentreCrop(0), r"`size` must be an integer >= 1 .* received size=0"),
        (lambda: kr.CentreCrop(22.5), r"`size` must be an integer >= 1 .* received size=22.5"),
        (lambda: kr.CentreCrop(224, crop_fraction=1e-6)(IMAGES),  # was a traceback from inside the resize
         r"`crop_fraction` 1e-06 of layer .* crops images whose shorter side is 40 pixels to 0 pixels; it needs at "
         r"least 1/40 \(= 0.025\)"),
        (lambda: kr.CentreCrop(224, crop_fraction=0.1, resize_first=True),  # a 2240-pixel side, then the crop
         r"With resize_first=True the shorter side is first resized to floor\(`size` / `crop_fraction`\), at most "
         r"1024 pixels; received size=224 and crop_fraction=0.1: 2240"),
        (lambda: kr.CentreCrop(64, resize_first=True)(np.zeros((1, 80, 80, 8), "float32")),
         r"Layer 'centre_crop.*' \(resize_first=True\) takes RGB images, 3 channels; received input shape "
         r"\(1, 80, 80, 8\)"),
        (lambda: kr.CentreCrop(64, resize_first="yes"), r"`resize_first` must be one of \[False, True\]"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
