"""`keras-resnet predict` and `evaluate --dataset imagenet` on every Keras backend (`-m
backends`): the images are decoded and cropped by TensorFlow, and the model runs on the backend
Keras uses, so what reaches it must be numpy, and what comes back is read the backend's way."""

import math

import keras
import numpy as np
import pytest
from conftest import keras_resnet_main
from references import miniature

import keras_resnet as kr
from keras_resnet.data.image_folders import CROP, decode_file, eval_transform, list_images, resize_shorter
from keras_resnet.evaluation.methods import METHODS, predict_image
from keras_resnet.evaluation.predict import model_inputs
from keras_resnet.models.preprocessing import CROP_FRACTION, CentreCrop

pytestmark = pytest.mark.backends


def test_predict_names_the_classes_of_real_cifar_images(cifar_test, tmp_path, capsys):
    """The shipped ResNet-20 (8.3% error) names at least 8 of the first 10 CIFAR-10 test images
    right, given as PNG files, whichever backend runs it."""
    import tensorflow as tf

    images, labels = cifar_test
    paths = []
    for i in range(10):
        paths.append(tmp_path / f"{i}.png")
        paths[-1].write_bytes(tf.io.encode_png(images[i]).numpy())
    result = keras_resnet_main(capsys, "predict", "cifar_resnet20", "--weights", "cifar10",
                               "--top", "1", *paths)
    assert result.returncode == 0, result.stderr
    predicted = [line.split()[1] for line in result.stdout.splitlines()]
    cifar = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    assert sum(p == cifar[label] for p, label in zip(predicted, labels[:10])) >= 8, predicted


def test_predict_refuses_a_model_that_gives_nan(cifar_test, tmp_path, capsys):
    """A .keras whose weights hold NaN (a diverged run) printed classes with score nan, ranked
    at random; now one line names the model, how many images and why (exit 2)."""
    import tensorflow as tf

    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])
    kernel, bias = model.layers[-1].get_weights()
    model.layers[-1].set_weights([kernel, np.full_like(bias, np.nan)])
    model.save(tmp_path / "nan.keras")
    (tmp_path / "0.png").write_bytes(tf.io.encode_png(cifar_test[0][0]).numpy())
    result = keras_resnet_main(capsys, "predict", tmp_path / "nan.keras", tmp_path / "0.png")
    assert result.returncode == 2 and "nan" not in result.stdout, result
    assert result.stderr.startswith(f"keras-resnet predict: error: MODEL '{tmp_path / 'nan.keras'}' gives NaN or "
                                    "infinite class scores for 1 of the 1 images"), result.stderr


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    """A 2-class ImageNet-layout classifier as a .keras file: ResNet-18's layers, one block a stage."""
    path = tmp_path_factory.mktemp("model") / "m.keras"
    miniature("resnet18", classes=2, weights=None).save(path)
    return path


@pytest.mark.parametrize("method", METHODS)
def test_evaluate_a_folder_by_each_of_the_papers_methods(image_folder, classifier_file, capsys, method):
    """A .keras classifier on an ImageNet-style folder: the command reports the error on its
    images, and the centre-crop scores are the model's own on the crop."""
    result = keras_resnet_main(capsys, "evaluate", classifier_file, "--dataset", "imagenet",
                               "--data-dir", image_folder, "--method", method, "--limit", "1")
    assert result.returncode == 0, result.stderr
    assert f"method {method}" in result.stdout and "images 1" in result.stdout
    model = keras.models.load_model(classifier_file)
    image = decode_file(list_images(image_folder / "val")[0][0])
    expected = keras.ops.convert_to_numpy(model(np.asarray(eval_transform(image))[None], training=False))[0]
    np.testing.assert_allclose(predict_image(model, image, "centre"), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("preprocessing", ["torch", "timm"])
def test_a_model_that_crops_itself_is_given_the_image_its_crop_takes(image_folder, preprocessing):
    """`predict` brings a photo to a model with its own crop (include_preprocessing) as that
    crop's evaluation wants it, the shorter side resized only: the model then sees the centre crop
    the paper's evaluation (or timm's transform) gives, not a crop of a crop."""
    photo = sorted((image_folder / "val" / "cat").glob("*.jpg"))[0]
    if preprocessing == "torch":  # the registry's rule: 224 of the shorter side at 256
        model, size = kr.ResNet18(include_preprocessing="torch", classes=3), CROP
    else:  # timm's resnet50.a1h_in1k: shorter side to floor(176 / 0.9) = 195, then the centre 176
        size = 176
        crop = CentreCrop(size, 0.9, interpolation="bicubic", resize_first=True)
        model = kr.ResNet18(include_preprocessing=crop, input_shape=(None, None, 3), classes=3)
    (given,) = list(model_inputs(model, [photo]))
    assert min(given.shape[:2]) == math.floor(size / (CROP_FRACTION if preprocessing == "torch" else 0.9))
    crop_layer = next(layer for layer in model.layers if isinstance(layer, CentreCrop))
    seen = keras.ops.convert_to_numpy(crop_layer(given[None]))[0]
    shorter = np.asarray(resize_shorter(decode_file(photo, (size, size)), min(given.shape[:2])))
    top, left = (round((d - size) / 2) for d in shorter.shape[:2])  # torchvision's centre (timm, CentreCrop)
    np.testing.assert_allclose(seen, shorter[top:top + size, left:left + size], atol=1.0)  # 0-255: resampling
