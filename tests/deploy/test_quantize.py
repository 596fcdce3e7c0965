"""int8 exports of the shipped CIFAR-10 ResNet-20, calibrated on real training images and
checked on the 1,017 real test images in their own runtimes (TFLite's interpreter and
onnxruntime, called here directly): smaller, full-integer, within the accuracy budget of the
Keras model's measured accuracy; a broken calibration is refused with both accuracies, and
bad input is refused before any conversion, writing nothing."""

import numpy as np
import pytest
from conftest import keras_resnet_cli

import keras_resnet as kr
from keras_resnet import cli
from keras_resnet.deploy import artefacts
from keras_resnet.deploy.artefacts import MAX_ACCURACY_DROP, MIN_AGREEMENT
from keras_resnet.deploy.export import export_model
from keras_resnet.deploy.quantize import calibration_images, check_separate, labelled_images


@pytest.fixture(scope="module")
def resnet20():
    return kr.CifarResNet20(weights="cifar10")  # raw 0-255 RGB in


def held(images: artefacts.Images) -> np.ndarray:
    """All of `images`, which the package reads a batch at a time, in one array."""
    return np.concatenate(list(images.batches()))


@pytest.fixture(scope="module")
def cifar(shared, resnet20):
    """(calibration images from the training batches, test images, test labels, the Keras model's accuracy)."""
    directory = shared / "cifar-10-batches-py"
    images, labels = labelled_images(directory, (32, 32, 3), 1017)
    images = held(images)
    accuracy = np.mean(resnet20.predict(images, verbose=0).argmax(1) == labels)
    return held(calibration_images(directory, (32, 32, 3))), images, labels, accuracy


def tflite_scores(path, images):
    interpreter = artefacts.tflite_interpreter(str(path))  # TFLite's own, without its deprecation notice
    (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()
    interpreter.resize_tensor_input(inputs["index"], images.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(inputs["index"], images)
    interpreter.invoke()
    return interpreter, interpreter.get_tensor(outputs["index"])


def test_int8_tflite_is_smaller_full_integer_and_within_budget(resnet20, cifar, tmp_path):
    calibration, images, labels, keras_accuracy = cifar
    assert len(calibration) == 256 and images.shape == (1017, 32, 32, 3)
    path = tmp_path / "resnet20.tflite"
    check = export_model(resnet20, path, "tflite", images, quantize="int8", calibration=calibration, labels=labels)
    interpreter, scores = tflite_scores(path, images)
    accuracy = np.mean(scores.argmax(1) == labels)
    agreement = np.mean(scores.argmax(1) == resnet20.predict(images, verbose=0).argmax(1))
    assert keras_accuracy > 0.9 and 100 * (keras_accuracy - accuracy) <= MAX_ACCURACY_DROP
    assert agreement >= MIN_AGREEMENT
    assert check["int8_accuracy"] == pytest.approx(accuracy)
    assert check["keras_accuracy"] == pytest.approx(keras_accuracy)
    assert check["top1_agreement"] == pytest.approx(agreement) and check["int8_bytes"] == path.stat().st_size
    assert path.stat().st_size <= 0.3 * 4 * resnet20.count_params()  # a quarter of float32 weights, and the graph
    # full integer: every weight is int8 (bias int32), only the float input/output are converted at the ends
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert {"CONV_2D", "ADD", "FULLY_CONNECTED"} <= ops and "DEQUANTIZE" in ops and "QUANTIZE" in ops
    kernels = [t for t in interpreter.get_tensor_details() if len(t["shape"]) == 4 and t["shape"][0] > 1
               and "conv" in t["name"]]
    assert len(kernels) >= 19 and all(t["dtype"] == np.int8 for t in kernels)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["resnet20.tflite"]


def test_wrong_calibration_is_refused_with_both_accuracies(resnet20, cifar, tmp_path):
    """Calibrating on images scaled to [0, 1] for a model that takes 0-255 (the classic
    preprocessing mistake) sets input ranges 255x too small: the int8 model guesses, and the
    export says so and writes nothing."""
    calibration, images, labels, keras_accuracy = cifar
    path = tmp_path / "resnet20.onnx"
    with pytest.raises(ValueError) as error:
        export_model(resnet20, path, "onnx", images, quantize="int8", calibration=calibration / 255, labels=labels)
    message = str(error.value)
    assert f"on 1017 images: top-1 accuracy Keras {keras_accuracy:.2%}, int8 " in message
    int8_accuracy = float(message.split(", int8 ")[1].split("%")[0]) / 100
    assert int8_accuracy < keras_accuracy - 0.3 and "budget 1)" in message and "minimum 95%" in message
    assert f"nothing was written to {str(path)!r}" in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []


def test_export_command_int8_onnx(shared, cifar, tmp_path):
    """The command line, calibrating on a CIFAR-10 directory's training batches and verifying
    on its test batch; the file classifies the test images in onnxruntime as it said."""
    import onnxruntime

    _, images, labels, keras_accuracy = cifar
    directory, output = shared / "cifar-10-batches-py", tmp_path / "resnet20.onnx"
    result = keras_resnet_cli("export", "cifar_resnet20", str(output), "--weights", "cifar10", "--quantize", "int8",
                              "--calibration", str(directory), "--images", str(directory), "--count", "1017")
    assert result.returncode == 0 and result.stderr == "", result.stderr[-3000:]
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    accuracy = np.mean(session.run(None, {session.get_inputs()[0].name: images})[0].argmax(1) == labels)
    assert 100 * (keras_accuracy - accuracy) <= MAX_ACCURACY_DROP
    assert f"top-1 accuracy Keras {keras_accuracy:.2%}, int8 {accuracy:.2%}" in result.stdout
    assert f"wrote {output} (int8 onnx" in result.stdout and "on 1017 images, calibrated on 256" in result.stdout
    assert any(node.op_type == "QuantizeLinear" for node in __import__("onnx").load(str(output)).graph.node)


@pytest.mark.parametrize("calibration, message", [
    (np.zeros((0, 32, 32, 3)), "`calibration` must be a non-empty batch of images"),
    (None, "`calibration` must be a non-empty batch of images"),
    (np.zeros((4, 24, 24, 3)), "`calibration` must be a batch of shape (N, 32, 32, 3)"),
])
def test_missing_calibration_is_refused(resnet20, cifar, tmp_path, calibration, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        export_model(resnet20, tmp_path / "m.tflite", "tflite", cifar[1][:10], quantize="int8",
                     calibration=calibration)
    assert list(tmp_path.iterdir()) == []


def test_evaluation_images_are_not_calibration_images(resnet20, cifar, tmp_path, shared):
    _, images, labels, _ = cifar
    with pytest.raises(ValueError, match="20 of the 100 verification `images` are also `calibration` images"):
        export_model(resnet20, tmp_path / "m.tflite", "tflite", images[:100], quantize="int8",
                     calibration=images[80:120], labels=labels[:100])
    folder = tmp_path / "photos"
    (folder / "cat").mkdir(parents=True)
    for same in (folder, folder / "cat"):
        with pytest.raises(ValueError, match="overlap: calibrate on training images and verify on others"):
            check_separate(folder, same)
    check_separate(shared / "cifar-10-batches-py", shared / "cifar-10-batches-py")  # training vs test batches
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_bad_calibration_folders_are_refused(tmp_path):
    empty, broken = tmp_path / "empty", tmp_path / "broken"
    empty.mkdir()
    broken.mkdir()
    (broken / "cat.jpg").write_text("not a picture")
    with pytest.raises(ValueError, match="`calibration` '.*empty' must be a CIFAR-10 directory .* it holds none"):
        calibration_images(empty, (32, 32, 3))
    with pytest.raises(ValueError, match="image file '.*cat.jpg' is not a readable JPEG or PNG image"):
        calibration_images(broken, (32, 32, 3))


@pytest.mark.parametrize("count", [0, -5, 2.5, True])
def test_image_counts_below_one_are_refused(shared, count):
    """A slice would read -5 as all but 5 test images, 0 as none."""
    directory = shared / "cifar-10-batches-py"
    for read in (artefacts.verification_images, labelled_images, calibration_images):
        with pytest.raises(ValueError, match=rf"^`count` must be an integer >= 1; received count={count!r}\.$"):
            read(directory, (32, 32, 3), count)


@pytest.mark.parametrize("arguments, message", [
    (["m", "--format", "savedmodel", "--quantize", "int8"], "--quantize 'int8' needs --format one of ['tflite', "
     "'onnx']; received --format 'savedmodel' (a SavedModel keeps float weights)."),
    (["m.tflite", "--quantize", "int8", "--images", "x"], "`--quantize int8` needs --calibration DIR"),
    (["m.tflite", "--quantize", "int8", "--calibration", "x"], "`--quantize int8` needs --calibration DIR"),
    (["m.onnx", "--quantize", "int8", "--calibration", "d", "--images", "d/val"], "overlap: calibrate on training"),
    (["m.tflite", "--calibration", "x"], "`--calibration` is for --quantize int8 exports"),
])
def test_command_line_refuses_before_loading_the_model(tmp_path, capsys, arguments, message):
    """Checked before the model is built: no model id is even valid here."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["export", "no_such_model", str(tmp_path / arguments[0]),
                  *[str(tmp_path / a) if a[0] in "xd" else a for a in arguments[1:]]])
    error = capsys.readouterr().err
    assert exited.value.code == 2 and error.startswith("keras-resnet export: error: ") and message in error
    assert error.count("\n") == 1 and list(tmp_path.iterdir()) == []


def test_class_folders_are_labelled_by_sorted_class_name(cifar, tmp_path):
    """DIR/<class>/*.png of real test images come back with the label training gives the folder
    (CIFAR-10's class names sort into its own order); loose files come back unlabelled."""
    import tensorflow as tf

    from keras_resnet.data.cifar10 import CIFAR10_CLASSES

    _, images, labels, _ = cifar
    for i in range(30):
        folder = tmp_path / "val" / CIFAR10_CLASSES[labels[i]]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:02d}.png").write_bytes(tf.io.encode_png(images[i].astype(np.uint8)).numpy())
        (tmp_path / "loose").mkdir(exist_ok=True)
        (tmp_path / "loose" / f"{i:02d}.png").write_bytes((folder / f"{i:02d}.png").read_bytes())
    got, got_labels = labelled_images(tmp_path / "val", (32, 32, 3), 1000)
    order = sorted(range(30), key=lambda i: (CIFAR10_CLASSES[labels[i]], i))
    np.testing.assert_array_equal(held(got), images[order])
    np.testing.assert_array_equal(got_labels, labels[order])
    loose, none = labelled_images(tmp_path / "loose", (32, 32, 3), 1000)
    assert none is None and np.array_equal(held(loose), images[:30])
