"""Grad-CAM on real CIFAR-10 test images: the maps point at the object (a pasted quadrant), depend
on what the network learned (model randomisation, Adebayo et al. 2018), equal a Grad-CAM written
here after the keras.io recipe, and agree across Keras backends."""

import importlib.util
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import keras_resnet_main, run_python

import keras_resnet as kr
from keras_resnet.explain import find_layer, grad_cam, overlay
from keras_resnet.models.preprocessing import class_names

COUNT = 128  # real test images per check: CI time; examples/explain_cifar10.py measures all 1,017


@pytest.fixture(scope="module")
def resnet20():
    return kr.CifarResNet20(weights="cifar10")


@pytest.fixture(scope="module")
def images(cifar_test):
    x, y = cifar_test
    return x[:COUNT].astype("float32"), y[:COUNT]


def test_peak_lies_in_the_quadrant_where_the_image_is_pasted(cifar_test, images):
    """The CIFAR nets are fully convolutional: on a 64x64 canvas of the test set's mean colour, an
    image pasted into a quadrant (rotating) is still classified, and its map must peak there."""
    x, y = images
    model = kr.CifarResNet20(weights="cifar10", input_shape=(64, 64, 3))
    canvas = np.broadcast_to(cifar_test[0].mean(axis=(0, 1, 2)), (len(x), 64, 64, 3)).copy()
    quadrant = np.arange(len(x)) % 4
    for image, q, each in zip(x, quadrant, canvas):
        each[32 * (q // 2):32 * (q // 2) + 32, 32 * (q % 2):32 * (q % 2) + 32] = image
    correct = np.asarray(model.predict_on_batch(canvas)).argmax(-1) == y
    maps = grad_cam(model, canvas)
    rows, cols = np.unravel_index(maps.reshape(len(x), -1).argmax(-1), (64, 64))
    share = np.mean((2 * (rows // 32) + cols // 32 == quadrant)[correct])
    print(f"quadrant share {share:.3f} of {correct.sum()} correctly classified canvases")
    assert correct.sum() >= len(x) // 3 and share >= 0.8


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation, tied values sharing their mean rank (maps hold many zeros)."""
    def ranks(v):
        values, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
        return (np.cumsum(counts) - (counts - 1) / 2)[inverse]
    return float(np.corrcoef(ranks(a.ravel()), ranks(b.ravel()))[0, 1])


def test_maps_change_when_the_weights_are_randomised(resnet20, images):
    """Adebayo et al.'s model-randomisation test: the same net re-initialised gives maps unlike
    the trained net's (for the same classes); maps that stayed alike would show the input, not the model."""
    x, _ = images
    keras.utils.set_random_seed(0)
    randomised = keras.models.clone_model(resnet20)  # same layers, freshly initialised weights
    classes = np.asarray(resnet20.predict_on_batch(x)).argmax(-1)
    trained, random = grad_cam(resnet20, x, classes), grad_cam(randomised, x, classes)
    varying = random.reshape(len(x), -1).std(-1) > 0  # a constant map has no ranks to correlate
    rho = np.mean([spearman(a, b) for a, b in zip(trained[varying], random[varying])])
    print(f"mean Spearman rank correlation {rho:.3f} over {varying.sum()} images")
    assert varying.sum() >= 0.9 * len(x) and rho < 0.5


def keras_io_grad_cam(model, images, layer):
    """The keras.io recipe (fchollet): the last layer's softmax removed, the tape on the layer's output."""
    logits_model = keras.models.clone_model(model)
    logits_model.set_weights(model.get_weights())
    logits_model.layers[-1].activation = None
    grad_model = keras.Model(logits_model.inputs[0], [logits_model.get_layer(layer).output, logits_model.output])
    with tf.GradientTape() as tape:
        conv_output, predictions = grad_model(images)
        top = tf.argmax(predictions, axis=1)
        class_channel = tf.gather(predictions, top, batch_dims=1)
    grads = tape.gradient(class_channel, conv_output)
    pooled = tf.reduce_mean(grads, axis=(1, 2))
    heatmap = tf.nn.relu(tf.einsum("nhwc,nc->nhw", conv_output, pooled))
    heatmap = tf.image.resize(heatmap[..., None], images.shape[1:3])[..., 0]
    return (heatmap / tf.reduce_max(heatmap, axis=(1, 2), keepdims=True)).numpy()


def small_cnn():
    """A functional CNN in the keras.applications style, not one of this package's models."""
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    for filters in (16, 32):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


def test_equals_the_keras_io_recipe(resnet20, images):
    x = images[0][:16]
    keras.utils.set_random_seed(1)
    cnn = small_cnn()
    assert find_layer(cnn) == "last_conv"
    for model, layer in ((resnet20, "conv4_block3_out"), (cnn, "last_conv")):
        np.testing.assert_allclose(grad_cam(model, x), keras_io_grad_cam(model, x, layer), atol=1e-4)


def test_finds_the_last_convolutional_stage():
    assert find_layer(kr.CifarResNet56()) == "conv4_block9_out"
    assert find_layer(kr.ResNet18(input_shape=(64, 64, 3))) == "conv5_block2_out"
    mobilenet = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35)
    assert find_layer(mobilenet) == "out_relu"  # its last 4-D layer before global pooling


def test_class_index_selects_the_class_explained(resnet20, images):
    x = images[0][:4]
    top = np.asarray(resnet20.predict_on_batch(x)).argmax(-1)
    np.testing.assert_array_equal(grad_cam(resnet20, x, top), grad_cam(resnet20, x))
    other = (top + 1) % 10
    assert not np.allclose(grad_cam(resnet20, x, list(other)), grad_cam(resnet20, x))
    np.testing.assert_array_equal(grad_cam(resnet20, x, 3)[1:2], grad_cam(resnet20, x[1:2], [3]))


def test_maps_and_overlay_are_in_range(resnet20, images):
    x = images[0][:8]
    maps = grad_cam(resnet20, x)
    assert maps.shape == (8, 32, 32) and maps.min() >= 0 and np.allclose(maps.max(axis=(1, 2)), 1)
    pictures = overlay(x, maps)
    assert pictures.dtype == np.uint8 and pictures.shape == x.shape
    np.testing.assert_array_equal(overlay(x, maps, alpha=0), x.astype(np.uint8))
    hot, cold = overlay(np.zeros((1, 1, 2, 3)), np.array([[[1.0, 0.0]]]), alpha=1)[0, 0]
    assert hot.argmax() == 0 and cold.argmax() == 2  # red where the map is high, blue where low


@pytest.mark.parametrize(("call", "message"), [
    (lambda m, x: grad_cam(m, x[0]), r"`images` must be a batch of shape \(N >= 1, 32, 32, 3\)"),
    (lambda m, x: grad_cam(m, x[:0]), r"`images` must be a batch of shape .* received shape \(0, 32, 32, 3\)"),
    (lambda m, x: grad_cam(m, x[:, :16]), r"`images` must be a batch of shape"),
    (lambda m, x: grad_cam(m, x, layer="conv9_block1_out"), r"`layer` 'conv9_block1_out' is not a layer"),
    (lambda m, x: grad_cam(m, x, layer="avg_pool"), r"`layer` 'avg_pool' .* needs a 4-D"),
    (lambda m, x: grad_cam(m, x, class_index=10), r"`class_index` must be None, an integer in \[0, 10\)"),
    (lambda m, x: grad_cam(m, x, class_index=[1]), r"`class_index` must be .* sequence of 2 such"),
    (lambda m, x: grad_cam(m, x, class_index=True), r"`class_index`"),
    (lambda m, x: grad_cam(m, x * [[[[1.0]]], [[[np.nan]]]]),  # was an all-zero map: "looked nowhere"
     r"^`images` must be finite pixel values; received NaN or infinite values in image\(s\) \[1\]\.$"),
    (lambda m, x: grad_cam(m, np.full_like(x, np.inf)), r"`images` must be finite .* in image\(s\) \[0, 1\]"),
    (lambda m, x: overlay(x, np.zeros((2, 16, 16))), r"`maps` must be of shape \(2, 32, 32\)"),
    (lambda m, x: overlay(x, np.zeros((2, 32, 32)), alpha=2), r"`alpha` must be in \[0, 1\]"),
])
def test_errors_name_the_argument(resnet20, images, call, message):
    with pytest.raises(ValueError, match=message):
        call(resnet20, images[0][:2])


def test_a_model_that_is_not_a_convolutional_classifier_is_refused():
    inputs = keras.Input((8, 8, 3))
    dense = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="has no convolutional layer"):
        grad_cam(dense, np.zeros((1, 8, 8, 3)))
    features = keras.layers.Conv2D(4, 3)(inputs)
    two_outputs = keras.Model(inputs, [features, keras.layers.GlobalAveragePooling2D()(features)])
    with pytest.raises(ValueError, match="must be a classifier of one input and one output; it has 1 input"):
        grad_cam(two_outputs, np.zeros((1, 8, 8, 3)))
    per_pixel = keras.Model(inputs, keras.layers.Conv2D(4, 1, activation="softmax")(features))
    with pytest.raises(ValueError, match=r"must output class scores of shape \(batch, classes\); its output shape "
                                         r"is \(None, 6, 6, 4\)"):
        grad_cam(per_pixel, np.zeros((1, 8, 8, 3)))


def test_a_model_giving_nan_is_refused(images):
    """A model whose weights hold NaN (a diverged run) gave all-zero maps for every image."""
    model = kr.CifarResNet(1)
    kernel, bias = model.layers[-1].get_weights()
    model.layers[-1].set_weights([kernel, np.full_like(bias, np.nan)])
    with pytest.raises(ValueError, match=r"`model` .* gives NaN or infinite class scores in image\(s\) \[0, 1\]"):
        grad_cam(model, images[0][:2])
    model.layers[-1].set_weights([np.full_like(kernel, np.nan), bias])
    with pytest.raises(ValueError, match=r"`model` .* gives NaN or infinite class scores"):
        grad_cam(model, images[0][:2], class_index=3)


BACKEND_MAPS = """
import json, numpy as np, keras_resnet as kr
from keras_resnet.data.cifar10 import load_cifar10
from keras_resnet.explain import grad_cam
x, _ = load_cifar10({directory!r}, "test")
print(json.dumps(grad_cam(kr.CifarResNet20(weights="cifar10"), x[:8].astype("float32")).tolist()))
"""


@pytest.mark.parametrize("backend", ["torch", pytest.param("jax", marks=pytest.mark.slow)])
def test_other_backends_give_the_same_maps(resnet20, images, shared, backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    code = BACKEND_MAPS.format(directory=str(shared / "cifar-10-batches-py"))
    maps = np.array(json.loads(run_python(code, KERAS_BACKEND=backend).splitlines()[-1]))
    np.testing.assert_allclose(maps, grad_cam(resnet20, images[0][:8]), atol=1e-3)


def image_files(cifar_test, directory, count=3):
    """Real test images as image files (PNG and JPEG), and their labels."""
    directory.mkdir()
    paths = []
    for i, image in enumerate(cifar_test[0][:count]):
        encoded = tf.io.encode_png(image) if i % 2 else tf.io.encode_jpeg(image, quality=95)
        paths.append(directory / f"test{i}.{'png' if i % 2 else 'jpg'}")
        paths[-1].write_bytes(encoded.numpy())
    return paths


def decoded_png(path):
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return tf.io.decode_png(path.read_bytes(), channels=3).numpy()


def test_pictures_are_written_one_per_image(resnet20, images, tmp_path):
    from keras_resnet.explain.pictures import write_explanations

    names = [name for _, name in class_names("cifar10")]
    written = write_explanations(resnet20, images[0][:3], ["a/cat.png", "b/cat.png", "c/cat.jpg"], names,
                                 tmp_path / "out", class_name="ship")
    assert written == [tmp_path / "out" / name for name in ("cat.png", "cat-2.png", "cat-3.png")]
    pixels = [decoded_png(path) for path in written]
    assert all(p.shape == (370, 320, 3) for p in pixels) and not np.array_equal(pixels[0], pixels[1])
    drawn = overlay(images[0][:3], grad_cam(resnet20, images[0][:3], names.index("ship")))
    for picture, expected, image in zip(pixels, drawn, images[0][:3].astype(np.uint8)):
        colours = {tuple(c) for c in picture.reshape(-1, 3)}
        share = np.mean([tuple(c) in colours for c in expected.reshape(-1, 3)])
        assert share > 0.95 and np.mean([tuple(c) in colours for c in image.reshape(-1, 3)]) < 0.2, share


def test_pictures_refuse_an_unknown_class_and_a_foreign_file_writing_nothing(resnet20, images, tmp_path):
    from keras_resnet.explain.pictures import write_explanations

    names = [name for _, name in class_names("cifar10")]
    with pytest.raises(ValueError, match=r"`class_name` 'tiger' is not a class of the model; its classes are 'airpl"):
        write_explanations(resnet20, images[0][:1], ["x.png"], names, tmp_path / "out", class_name="tiger")
    assert not (tmp_path / "out").exists()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "y.png").write_text("notes")
    with pytest.raises(ValueError, match=r"`output` '.*out' already holds 'y.png'; explain writes only new files"):
        write_explanations(resnet20, images[0][:2], ["x.png", "y.png"], names, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["y.png"]


def test_pictures_never_replace_a_file_they_did_not_write(resnet20, images, tmp_path):
    """An earlier PNG of the same stem (a user's, an earlier run's) was replaced: it is kept, and
    so is one that appears between the check and the write (the write is a no-clobber link)."""
    from keras_resnet.explain.pictures import _save, write_explanations

    names = [name for _, name in class_names("cifar10")]
    (written,) = write_explanations(resnet20, images[0][:1], ["cat.png"], names, tmp_path)
    before = written.read_bytes()
    with pytest.raises(ValueError, match=r"already holds 'cat.png'; explain writes only new files, never over one it "
                                         r"did not write in this run .* choose another `output` or move that file"):
        write_explanations(resnet20, images[0][:1], ["elsewhere/cat.jpg"], names, tmp_path)
    with pytest.raises(ValueError, match=r"already holds 'cat.png'"):
        _save(written, np.zeros((4, 4, 3), np.uint8), "late")
    assert written.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["cat.png"]


def test_explain_command(cifar_test, tmp_path, capsys):
    files = image_files(cifar_test, tmp_path / "images")
    result = keras_resnet_main(capsys, "explain", "cifar_resnet20", "--weights", "cifar10", *files,
                               "--output", tmp_path / "maps")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == ["test0.png", "test1.png", "test2.png"]
    assert all(decoded_png(tmp_path / "maps" / p).shape == (370, 320, 3) for p in ("test0.png", "test1.png"))
    (tmp_path / "images" / "notes.jpg").write_text("not an image")
    result = keras_resnet_main(capsys, "explain", "cifar_resnet20", "--weights", "cifar10", files[0],
                               tmp_path / "images" / "notes.jpg", "--output", tmp_path / "more")
    assert result.returncode == 2 and "notes.jpg' is not a readable JPEG or PNG image" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "more").exists()


def test_explain_never_writes_over_its_input(cifar_test, tmp_path, capsys):
    """`explain photo.png --output .` (the photo's own folder) replaced the photo with the figure."""
    (photo,) = [path for path in image_files(cifar_test, tmp_path / "photos", count=2) if path.suffix == ".png"]
    before = {path: path.read_bytes() for path in (tmp_path / "photos").iterdir()}
    result = keras_resnet_main(capsys, "explain", "cifar_resnet20", "--weights", "cifar10", photo,
                               "--output", photo.parent)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert result.stderr == (f"keras-resnet explain: error: --output {str(photo.parent)!r} already holds "
                             f"{photo.name!r}; explain writes only new files, never over one it did not write in "
                             "this run (an input image, an earlier picture): choose another --output or move that "
                             "file.\n")
    assert {path: path.read_bytes() for path in (tmp_path / "photos").iterdir()} == before
