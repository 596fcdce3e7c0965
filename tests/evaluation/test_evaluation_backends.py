"""`keras-resnet predict` and `evaluate --dataset imagenet` on every Keras backend (`-m
backends`): the images are decoded and cropped by TensorFlow, and the model runs on the backend
Keras uses, so what reaches it must be numpy, and what comes back is read the backend's way."""

import keras
import numpy as np
import pytest
from conftest import keras_resnet_main

import keras_resnet as kr
from keras_resnet.data.image_folders import eval_transform, list_images, read_image
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


@pytest.mark.parametrize("method", METHODS)
def test_evaluate_a_folder_by_each_of_the_papers_methods(image_folder, tmp_path, capsys, method):
    """A .keras classifier on an ImageNet-style folder: the command reports the error on its
    images, and the centre-crop scores are the model's own on the crop."""
    model = kr.ResNet18(classes=2, weights=None)
    model.save(tmp_path / "m.keras")
    result = keras_resnet_main(capsys, "evaluate", tmp_path / "m.keras", "--dataset", "imagenet",
                               "--data-dir", image_folder, "--method", method, "--limit", "2")
    assert result.returncode == 0, result.stderr
    assert f"method {method}" in result.stdout and "images 2" in result.stdout
    image = read_image(list_images(image_folder / "val")[0][0])
    expected = keras.ops.convert_to_numpy(model(np.asarray(eval_transform(image))[None], training=False))[0]
    np.testing.assert_allclose(predict_image(model, image, "centre"), expected, rtol=1e-5, atol=1e-6)
