"""`keras-resnet predict` and `evaluate --dataset imagenet` on every Keras backend (`-m
backends`): the images are decoded and cropped by TensorFlow, and the model runs on the backend
Keras uses, so what reaches it must be numpy, and what comes back is read the backend's way."""

import keras
import numpy as np
import pytest
from conftest import keras_resnet_main
from references import miniature

from keras_resnet.data.image_folders import decode_file, eval_transform, list_images
from keras_resnet.evaluation.methods import METHODS, predict_image

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
