"""Inference rewrites and deployment formats keep the outputs: BN folding (against the model
itself and keras.applications' ResNet50), and SavedModel, ONNX and TFLite exports run in
their own runtimes, on real CIFAR-10 test images with the shipped weights."""

import os
import re
import shutil
import sys

import keras
import numpy as np
import pytest
from conftest import in_namespace, keras_resnet_cli, keras_resnet_main, randomise_batchnorm

import keras_resnet as kr
from keras_resnet.data.cifar10 import load_cifar10
from keras_resnet.deploy import artefacts, export

IMAGES = 200


@pytest.fixture(scope="module")
def resnet20(cifar_test):
    """The shipped CIFAR-10 ResNet-20 (raw 0-255 input) and real test images it gets right 9 in 10."""
    return kr.CifarResNet(3, weights="cifar10", include_preprocessing=True), cifar_test[0][:IMAGES].astype("float32")


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
    model = build(input_shape=(64, 64, 3), classifier_activation=None)
    randomise_batchnorm(model)
    folded = kr.fold_batchnorm(model)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 64, 64, 3)).astype("float32")
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


NAMES = {"savedmodel": "resnet20", "onnx": "resnet20.onnx", "tflite": "resnet20.tflite"}


@pytest.fixture(scope="module")
def exports(resnet20, tmp_path_factory):
    """Each format's export of the shipped ResNet-20, with its check, in one folder."""
    model, images = resnet20
    root = tmp_path_factory.mktemp("exports")
    return root, {f: export.export_model(model, root / NAMES[f], f, images) for f in artefacts.EXPORT_FORMATS}


@pytest.mark.parametrize("format", artefacts.EXPORT_FORMATS)
def test_export_agrees_on_real_images(resnet20, exports, format):
    model, images = resnet20
    root, checks = exports
    path = root / NAMES[format]
    assert checks[format]["max_abs_diff"] <= 1e-4 and checks[format]["top1_agreement"] == 1.0
    assert sorted(p.name for p in root.iterdir()) == sorted(NAMES.values())  # no temporaries left
    # the artefact is usable on its own, independent of the check inside export_model
    got = artefacts.RUNTIMES[format].run(path, images[:10])
    np.testing.assert_allclose(got, model.predict(images[:10], verbose=0), atol=1e-4)
    # and it is what a later export of its format may replace, and no other format's
    assert [f for f in artefacts.EXPORT_FORMATS if artefacts.IS_EXPORT[f](path)] == [format]


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


def test_savedmodel_export_replaces_a_previous_directory(resnet20, exports, tmp_path):
    """An earlier SavedModel, here with a stale variables shard, is replaced whole."""
    model, images = resnet20
    path = tmp_path / "saved"
    shutil.copytree(exports[0] / NAMES["savedmodel"], path)
    (path / "variables" / "variables.data-00001-of-00002").write_text("from an older export")
    export.export_model(model, path, "savedmodel", images[:20])
    assert not (path / "variables" / "variables.data-00001-of-00002").exists() and (path / "saved_model.pb").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"]


@pytest.fixture(scope="module")
def run_directory(shared, tmp_path_factory):
    """A real (tiny) training run's output directory."""
    from keras_resnet.training.run import TrainConfig, train

    output = tmp_path_factory.mktemp("train") / "run"
    train(TrainConfig(model="cifar_resnet8", data_dir=str(shared / "cifar-10-batches-py"), output=str(output),
                      epochs=1, steps_per_epoch=2, batch_size=16, plot=False))
    return output


def tree(directory) -> dict:
    """Every entry under `directory` with its bytes (a link: its target), to show nothing changed."""
    return {str(p.relative_to(directory)): os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else None
            for p in sorted(directory.rglob("*"))}


def _target(case: str, format: str, tmp_path, exports, run_directory):
    """Build the existing `case` output in `tmp_path`; returns its path."""
    earlier = exports[0]
    if case == "training run":
        shutil.copytree(run_directory, tmp_path / "run")
        return tmp_path / "run"
    if case == "folder of user files":
        (tmp_path / "mine" / "photos").mkdir(parents=True)
        (tmp_path / "mine" / "notes.txt").write_text("the user's own")
        (tmp_path / "mine" / "photos" / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        return tmp_path / "mine"
    if case == "text file":
        (tmp_path / "out").write_text("the user's own")
        return tmp_path / "out"
    if case == "another format's file":
        other = NAMES["tflite" if format == "onnx" else "onnx"]
        shutil.copy(earlier / other, tmp_path / "out")
        return tmp_path / "out"
    if case == "SavedModel and a user file":
        shutil.copytree(earlier / NAMES["savedmodel"], tmp_path / "saved")
        (tmp_path / "saved" / "notes.txt").write_text("the user's own")
        return tmp_path / "saved"
    # a symbolic link to an earlier export of the format: replacing it would not write where it points
    (tmp_path / "link").symlink_to(earlier / NAMES[format])
    return tmp_path / "link"


@pytest.mark.parametrize("format, case", [
    *[(f, c) for f in artefacts.EXPORT_FORMATS for c in ("training run", "folder of user files", "symbolic link")],
    ("onnx", "text file"), ("onnx", "another format's file"), ("tflite", "text file"),
    ("tflite", "another format's file"), ("savedmodel", "another format's file"),
    ("savedmodel", "SavedModel and a user file"),
])
def test_export_never_replaces_what_is_not_its_own(resnet20, exports, run_directory, tmp_path, format, case):
    """An export replaces only an earlier export of its format: anything else is refused naming
    the path, before the conversion, and every file there stays byte for byte."""
    model, images = resnet20
    path = _target(case, format, tmp_path, exports, run_directory)
    before = tree(tmp_path)
    with pytest.raises(ValueError, match=rf"^'{re.escape(str(path))}' (exists and is a (file|directory) that is not a "
                                         rf"{format} export|is a symbolic link)"):
        export.export_model(model, path, format, images[:2])
    assert tree(tmp_path) == before


def test_export_command_keeps_the_run_it_exports_from(run_directory, tmp_path, capsys):
    """`keras-resnet export RUN/best.keras RUN --format savedmodel` would replace the run by the
    SavedModel: exit 2 naming RUN, and the run is intact."""
    run = tmp_path / "run"
    shutil.copytree(run_directory, run)
    before = tree(run)
    result = keras_resnet_main(capsys, "export", run / "best.keras", run, "--format", "savedmodel", "--count", "2")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"export: error: '{run}' exists and is a directory that is not a savedmodel export" in result.stderr
    assert tree(run) == before and sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.slow
def test_full_or_read_only_disk_is_reported_as_such(tmp_path):
    """Each format onto a real tmpfs too small for it (the space check before converting
    passes), and onto a read-only one: "No space left on device" (OSError, exit 1) or
    "Read-only file system" (ValueError, before converting), never blamed on the converter;
    nothing is left on either disk."""
    full, read_only = tmp_path / "full", tmp_path / "ro"
    full.mkdir()
    read_only.mkdir()
    (tmp_path / "script.py").write_text(f"""
import numpy as np, keras_resnet as kr
from keras_resnet.deploy import artefacts, export
model = kr.CifarResNet(3, weights="cifar10", include_preprocessing=True)
images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
for disk in ({str(full)!r}, {str(read_only)!r}):
    for format in artefacts.EXPORT_FORMATS:
        try:
            export.export_model(model, disk + "/out." + format, format, images)
        except (OSError, ValueError) as e:
            print(type(e).__name__, format, e)
""")
    result = in_namespace(f"mount -t tmpfs -o size=600k tmpfs {full} && mount -t tmpfs -o ro tmpfs {read_only} && "
                          f"TF_CPP_MIN_LOG_LEVEL=3 {sys.executable} {tmp_path / 'script.py'}; "
                          f"echo left=$(find {full} {read_only} -mindepth 1 | wc -l)")
    lines = [line for line in result.stdout.splitlines() if line.startswith(("OSError", "ValueError"))]
    assert len(lines) == 6, result.stdout + result.stderr[-3000:]
    for line, format in zip(lines[:3], artefacts.EXPORT_FORMATS):
        assert line.startswith(f"OSError {format} [Errno 28] writing the {format} export '{full}/out.{format}' "
                               "failed: No space left on device; nothing was written"), line
    for line, format in zip(lines[3:], artefacts.EXPORT_FORMATS):
        assert line.startswith(f"ValueError {format} the {format} export '{read_only}/out.{format}' cannot be "
                               "written: [Errno 30] Read-only file system"), line
    assert "left=0" in result.stdout


def test_bad_verification_image_is_named(image_folder, tmp_path):
    images = tmp_path / "images"
    shutil.copytree(image_folder / "val" / "cat", images)
    cut = sorted(images.glob("*.png"))[0]
    cut.write_bytes(cut.read_bytes()[:200])
    with pytest.raises(ValueError, match=rf"image file .*{re.escape(cut.name)}.* is not a readable JPEG or PNG image"):
        artefacts.verification_images(images, (32, 32, 3), 10)


def test_verification_images_are_the_same_on_every_pass(image_folder, shared, cifar_test):
    """An export reads its images a batch at a time, once for the Keras model and once for the
    runtime: each source (seeded noise, files, a CIFAR-10 test batch) gives the same float32
    images whatever the batch size."""
    sources = {source: artefacts.verification_images(source, (32, 32, 3), 10)
               for source in (None, image_folder / "val", shared / "cifar-10-batches-py")}
    for source, images in sources.items():
        whole = images.load(0, len(images))
        assert whole.dtype == np.float32 and whole.shape == images.shape == (len(images), 32, 32, 3), source
        for size in (1, 4, 32):
            np.testing.assert_array_equal(np.concatenate(list(images.batches(size))), whole)
    assert len(sources[image_folder / "val"]) == 6
    np.testing.assert_array_equal(sources[shared / "cifar-10-batches-py"].load(0, 10), cifar_test[0][:10])


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
    """The centre crop that ImageNet models build in (include_preprocessing) uses an antialiased
    resize that TFLite lacks: a clear error, nothing written. Exported here on its own, the
    ResNet-18's input up to its crop (the convolutional layers after it convert)."""
    resnet18 = kr.ResNet18(include_preprocessing="caffe")
    model = keras.Model(resnet18.input, resnet18.get_layer("preprocessing_crop").output)
    images = artefacts.verification_images(None, model.input_shape[1:], 2)
    with pytest.raises(ValueError, match=r"the tflite conversion failed .*nothing was written.*centre crop"):
        export.export_model(model, tmp_path / "r18.tflite", "tflite", images)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_export_command(shared, tmp_path):
    output = tmp_path / "resnet20.tflite"
    result = keras_resnet_cli("export", "cifar_resnet20", str(output), "--weights", "cifar10",  # tflite by its name
                              "--fold-batchnorm", "--images", str(shared / "cifar-10-batches-py"), "--count", "50")
    assert result.returncode == 0 and result.stderr == "", result.stderr  # no converter or TFLite logs
    assert f"wrote {output} (tflite)" in result.stdout and "on 50 images, top-1 agreement 100%" in result.stdout
    # the exported file classifies raw CIFAR images: normalisation is inside
    images, labels = load_cifar10(shared / "cifar-10-batches-py", "test")
    scores = artefacts.RUNTIMES["tflite"].run(output, images[:100].astype("float32"))
    assert np.mean(scores.argmax(1) == labels[:100]) > 0.85


@pytest.mark.parametrize("path, format, expected", [
    ("m.onnx", None, "onnx"), ("m.TFLITE", None, "tflite"), ("m", None, "savedmodel"), ("m.onnx", "onnx", "onnx"),
    ("out.savedmodel", "savedmodel", "savedmodel"), ("m.bin", "tflite", ValueError),
    ("m.onnx", "tflite", ValueError), ("m.tflite", "savedmodel", ValueError), ("m", "onnx", ValueError),
    ("m.bin", None, ValueError),
])
def test_output_format_follows_the_name_and_refuses_a_mismatch(path, format, expected):
    if expected is ValueError:
        with pytest.raises(ValueError, match=rf"^`format` .*{re.escape(repr(path))}"):
            artefacts.output_format(path, format)
    else:
        assert artefacts.output_format(path, format) == expected


def test_export_command_from_a_keras_file(resnet20, tmp_path, capsys):
    """A model file as `train` writes it (raw-image input) exports to ONNX; onnxruntime then
    gives the Keras model's scores."""
    model, images = resnet20
    model.save(tmp_path / "best.keras")
    output = tmp_path / "best.onnx"
    result = keras_resnet_main(capsys, "export", tmp_path / "best.keras", output, "--format", "onnx", "--count", "20")
    assert result.returncode == 0, result.stderr
    assert "on 20 images, top-1 agreement 100%" in result.stdout
    np.testing.assert_allclose(artefacts.RUNTIMES["onnx"].run(output, images[:50]),
                               model.predict(images[:50], verbose=0), atol=1e-4)


def test_export_command_errors(tmp_path, capsys):
    result = keras_resnet_main(capsys, "export", "cifar_resnet20", tmp_path / "m.onnx", "--format", "onnx",
                               "--images", tmp_path)
    assert result.returncode == 2
    assert ("--images " in result.stderr
            and "must be a CIFAR-10 directory (with test_batch) or a folder" in result.stderr)
    assert not (tmp_path / "m.onnx").exists()


def test_savedmodel_of_a_trained_run_serves_one_batch(run_directory, shared, tmp_path, capsys):
    """`train`'s own final.keras (whose model lists its one input) exports as a SavedModel whose
    `serve` takes a plain batch and agrees with the model; it failed, blaming "ops the format
    lacks", where Keras' default signature wanted a list."""
    import tensorflow as tf

    run = run_directory
    exported = keras_resnet_main(capsys, "export", run / "final.keras", tmp_path / "served",
                                 "--images", shared / "cifar-10-batches-py")
    assert exported.returncode == 0, exported.stderr
    images = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    served = tf.saved_model.load(str(tmp_path / "served"))
    expected = keras.models.load_model(run / "final.keras").predict(images, verbose=0)
    np.testing.assert_allclose(served.serve(images).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_a_killed_exports_work_is_removed_by_the_next_export(tmp_path, capsys):
    """`export` is SIGKILLed while its work folder (beside the output) exists; the next export to
    that path removes what the dead process left, and leaves a live process's work and the user's
    own `.tmp-*` files alone."""
    import signal
    import subprocess
    import time

    output = tmp_path / "served"
    killed = subprocess.Popen([sys.executable, "-m", "keras_resnet", "export", "cifar_resnet20", str(output),
                               "--weights", "cifar10"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob(".tmp-*")) and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    left = list(tmp_path.glob(".tmp-*"))
    assert [p.name.split("-")[1] for p in left] == [str(killed.pid)] and not output.exists()
    live = tmp_path / f".tmp-{os.getppid()}-{'0' * 32}-served"  # a live process's (pytest's parent)
    live.mkdir()
    (tmp_path / ".tmp-notes").write_text("the user's")
    result = keras_resnet_main(capsys, "export", "cifar_resnet20", output, "--weights", "cifar10", "--count", "4")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".tmp-notes", live.name, "served"])


def test_a_costly_model_is_verified_in_batches_within_the_activation_budget():
    """Exports run RUN_BATCH (32) images at a time, fewer where a model's activations would pass
    ACTIVATION_BUDGET (a .keras is checked for one image): 3 at a time for 38 MiB an image (32
    would hold 1.2 GB), 32 for ResNet-20 (0.1 MiB)."""
    costly = keras.Sequential([keras.Input((224, 224, 3)), keras.layers.UpSampling2D(8),
                               keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    images = np.zeros((40, 224, 224, 3), np.float32)
    assert artefacts.model_images(costly, images, "images").batch == 3
    batches = [len(b) for b in artefacts.model_images(costly, images, "images").batches()]
    assert batches == [3] * 13 + [1]
    assert artefacts.model_images(kr.CifarResNet20(), images[:, :32, :32], "images").batch == 32

