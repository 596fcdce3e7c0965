"""Inference rewrites and deployment formats keep the outputs: BN folding (against the model
itself and keras.applications' ResNet50), and SavedModel, ONNX and TFLite exports run in
their own runtimes, on real CIFAR-10 test images with the shipped weights."""

import numpy as np
import pytest
from conftest import keras_resnet_cli

import keras
import keras_resnet as kr
from keras_resnet import export
from keras_resnet.data import load_cifar10

IMAGES = 200


@pytest.fixture(scope="module")
def resnet20(cifar_test):
    """The shipped CIFAR-10 ResNet-20 (raw 0-255 input) and real test images it gets right 9 in 10."""
    return kr.CifarResNet(3, weights="cifar10", include_preprocessing=True), cifar_test[0][:IMAGES].astype("float32")


def randomise_batchnorm(model, seed=0):
    """Moving statistics and affine parameters far from their initial 0/1, so folding matters."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, 0.2, n), rng.normal(0, 0.2, n),
                               rng.uniform(0.5, 2.0, n)])


def test_folded_resnet20_agrees_on_real_images(resnet20, cifar_test):
    model, images = resnet20
    folded = kr.fold_batchnorm(model)
    assert not [layer for layer in folded.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(folded.layers) == len(model.layers) - 19  # one BN per conv: 19 convs in ResNet-20
    expected, got = model.predict(images, verbose=0), folded.predict(images, verbose=0)
    assert np.abs(got - expected).max() <= 1e-4
    np.testing.assert_array_equal(got.argmax(1), expected.argmax(1))
    assert np.mean(expected.argmax(1) == cifar_test[1][:IMAGES]) > 0.85  # the shipped weights, working
    # the original is untouched and the folded copy is independent of it
    assert model.get_layer("conv1_bn").moving_mean is not None
    assert folded.get_layer("conv1_conv").kernel is not model.get_layer("conv1_conv").kernel


@pytest.mark.parametrize("build", [kr.ResNet50, lambda **kw: keras.applications.ResNet50(weights=None, **kw)],
                         ids=["ours", "keras.applications"])
def test_fold_resnet50_logits(build):
    """Folding is a rewrite of any functional model: ours and keras.applications' (biased
    convs, epsilon 1.001e-5) give the same logits after folding."""
    model = build(classifier_activation=None)
    randomise_batchnorm(model)
    folded = kr.fold_batchnorm(model)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 224, 224, 3)).astype("float32")
    expected, got = model.predict(x, verbose=0), folded.predict(x, verbose=0)
    assert np.abs(got - expected).max() <= 1e-4 * np.abs(expected).max()
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers) == 0
    assert [layer.name for layer in folded.layers] == [
        layer.name for layer in model.layers if not isinstance(layer, keras.layers.BatchNormalization)]


def test_fold_keeps_batchnorm_it_cannot_fold():
    """A BN after an addition, or after a conv whose output is also read elsewhere, stays."""
    inputs = keras.Input((8, 8, 3))
    conv = keras.layers.Conv2D(4, 3, padding="same", name="shared_conv")(inputs)
    a = keras.layers.BatchNormalization(name="after_shared")(conv)
    b = keras.layers.BatchNormalization(name="after_add")(keras.layers.Add()([conv, a]))
    model = keras.Model(inputs, b)
    randomise_batchnorm(model)
    folded = kr.fold_batchnorm(model)
    assert {layer.name for layer in folded.layers} == {layer.name for layer in model.layers}
    x = np.random.default_rng(2).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(folded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_fold_refuses_a_subclassed_model():
    class Net(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="`model` must be a functional keras Model; received Net"):
        kr.fold_batchnorm(Net())


@pytest.mark.parametrize("format", export.FORMATS)
def test_export_agrees_on_real_images(resnet20, format, tmp_path):
    model, images = resnet20
    path = tmp_path / {"savedmodel": "resnet20", "onnx": "resnet20.onnx", "tflite": "resnet20.tflite"}[format]
    check = export.export_model(model, path, format, images)
    assert path.exists()
    assert check["max_abs_diff"] <= 1e-4 and check["top1_agreement"] == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporaries left
    # the artefact is usable on its own, independent of the check inside export_model
    got = export._RUNTIMES[format].run(path, images[:10])
    np.testing.assert_allclose(got, model.predict(images[:10], verbose=0), atol=1e-4)


def test_failed_export_keeps_the_previous_file(resnet20, tmp_path):
    """A check that fails (here: a tolerance no converter meets) writes nothing: the file from
    the last good export is still there, byte for byte, and no temporary is left."""
    model, images = resnet20
    path = tmp_path / "model.onnx"
    export.export_model(model, path, "onnx", images[:20])
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"the onnx export differs .* nothing was written"):
        export.export_model(model, path, "onnx", images, tolerance=1e-12)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_savedmodel_export_replaces_a_previous_directory(resnet20, tmp_path):
    model, images = resnet20
    path = tmp_path / "saved"
    path.mkdir()
    (path / "stale.txt").write_text("from an older export")
    export.export_model(model, path, "savedmodel", images[:20])
    assert not (path / "stale.txt").exists() and (path / "saved_model.pb").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"]


@pytest.mark.parametrize("kwargs, message", [
    ({"format": "coreml"}, r"`format` must be one of \['savedmodel', 'onnx', 'tflite'\]; received format='coreml'"),
    ({"format": "onnx", "tolerance": -1}, r"`tolerance` must be a number >= 0; received tolerance=-1"),
    ({"format": "onnx", "images": np.zeros((2, 64, 64, 3))}, r"`images` must be a batch of shape \(N, 32, 32, 3\)"),
])
def test_export_errors(resnet20, tmp_path, kwargs, message):
    model, images = resnet20
    kwargs = {"images": images[:2], **kwargs}
    with pytest.raises(ValueError, match=message):
        export.export_model(model, tmp_path / "out", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_unconvertible_layer_is_reported(tmp_path):
    """ImageNet models with the built-in centre crop use an antialiased resize that TFLite
    lacks: a clear error, nothing written."""
    model = kr.ResNet18(include_preprocessing="caffe")
    images = export.verification_images(None, model.input_shape[1:], 2)
    with pytest.raises(ValueError, match=r"the tflite conversion failed .*nothing was written.*centre crop"):
        export.export_model(model, tmp_path / "r18.tflite", "tflite", images)
    assert list(tmp_path.iterdir()) == []


def test_export_command(shared, tmp_path):
    output = tmp_path / "resnet20.tflite"
    result = keras_resnet_cli("export", "cifar_resnet20", str(output), "--format", "tflite", "--weights", "cifar10",
                              "--fold-batchnorm", "--images", str(shared / "cifar-10-batches-py"), "--count", "50")
    assert result.returncode == 0, result.stderr
    assert f"wrote {output} (tflite)" in result.stdout and "on 50 images, top-1 agreement 100%" in result.stdout
    # the exported file classifies raw CIFAR images: normalisation is inside
    images, labels = load_cifar10(shared / "cifar-10-batches-py", "test")
    scores = export._RUNTIMES["tflite"].run(output, images[:100].astype("float32"))
    assert np.mean(scores.argmax(1) == labels[:100]) > 0.85


def test_export_command_from_a_keras_file(resnet20, tmp_path):
    """A model file as `train` writes it (raw-image input) exports to ONNX; onnxruntime then
    gives the Keras model's scores."""
    model, images = resnet20
    model.save(tmp_path / "best.keras")
    output = tmp_path / "best.onnx"
    result = keras_resnet_cli("export", str(tmp_path / "best.keras"), str(output), "--format", "onnx", "--count", "20")
    assert result.returncode == 0, result.stderr
    assert "on 20 images, top-1 agreement 100%" in result.stdout
    np.testing.assert_allclose(export._RUNTIMES["onnx"].run(output, images[:50]), model.predict(images[:50], verbose=0),
                               atol=1e-4)


def test_export_command_errors(tmp_path):
    result = keras_resnet_cli("export", "cifar_resnet20", str(tmp_path / "m.onnx"), "--format", "onnx",
                              "--images", str(tmp_path))
    assert result.returncode == 2
    assert "`images` " in result.stderr and "must be a CIFAR-10 directory (with test_batch) or a folder" in result.stderr
    assert not (tmp_path / "m.onnx").exists()
