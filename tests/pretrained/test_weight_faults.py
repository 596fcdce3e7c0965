"""Every loader of a file a user hands us refuses a damaged, foreign or hostile one with a
ValueError naming it, all or nothing: the model keeps its weights, no code from the file runs,
nothing is written. The faults are injected into real files: the shipped ResNet-20 weights and
Idelbayev's PyTorch checkpoint they were converted from."""

import json
import os
import pickle
import re
import sys
import threading
import time
import zipfile
from contextlib import contextmanager

import h5py
import keras
import numpy as np
import pytest
from conftest import RunsCode, in_namespace, keras_resnet_main

import keras_resnet as kr
from keras_resnet.deploy.conversion import convert_file
from keras_resnet.evaluation.predict import load_trained
from keras_resnet.pretrained import loading as pretrained

torch = pytest.importorskip("torch")
safetensors_numpy = pytest.importorskip("safetensors.numpy")
CHECKPOINT = "pretrained/akamaster-cifar10/resnet20-12fca82f.th"
FORMATS = ["keras_resnet.h5", "keras_applications.h5", "torch.pth", "torch.safetensors"]


def keras_arrays(model) -> dict:
    return {layer.name: [np.array(w) for w in layer.weights] for layer in model.layers if layer.weights}


def write(fmt: str, arrays, path) -> None:
    """`arrays` ({layer: [arrays]} for the HDF5 formats, a state dict for torch) in format `fmt`."""
    if fmt == "keras_resnet.h5":
        with h5py.File(path, "w") as f:
            for layer, values in arrays.items():
                for i, value in enumerate(values):
                    f.create_dataset(f"{layer}/{i}", data=value)
    elif fmt == "keras_applications.h5":  # Keras 2's layout of the published files
        roles = {1: ["kernel"], 2: ["kernel", "bias"], 4: ["gamma", "beta", "moving_mean", "moving_variance"]}
        with h5py.File(path, "w") as f:
            f.attrs["layer_names"] = [name.encode() for name in arrays]
            for layer, values in arrays.items():
                names = [f"{layer}/{role}:0" for role in roles[len(values)]]
                f.create_group(layer).attrs["weight_names"] = [n.encode() for n in names]
                for name, value in zip(names, values):
                    f[layer].create_dataset(name, data=value)
    elif fmt == "torch.pth":
        torch.save({"state_dict": {k: torch.from_numpy(np.array(v)) for k, v in arrays.items()}}, path)
    else:
        safetensors_numpy.save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path))


@pytest.fixture(scope="module")
def sources(shared):
    """Per format, the real weights of ResNet-20 and of a deeper net (ResNet-32's layers)."""
    state = {k.removeprefix("module."): v.numpy() for k, v in
             torch.load(shared / CHECKPOINT, map_location="cpu", weights_only=True)["state_dict"].items()}
    deeper_state = {**state, **{k.replace("layer1.2.", "layer1.3."): v for k, v in state.items() if "layer1.2." in k}}
    shipped = keras_arrays(kr.CifarResNet(3, weights="cifar10"))
    deeper = {**shipped,
              **{k.replace("conv2_block3", "conv2_block4"): v for k, v in shipped.items() if "conv2_block3" in k}}
    return {"keras": (shipped, deeper), "torch": (state, deeper_state)}


def faulty(fmt: str, fault: str, sources) -> dict:
    """The real weights of `fmt`'s kind with one `fault` injected."""
    arrays, deeper = sources["torch" if fmt.startswith("torch") else "keras"]
    arrays = {k: [np.array(x) for x in v] if isinstance(v, list) else np.array(v) for k, v in arrays.items()}
    torch_like = fmt.startswith("torch")
    if fault == "missing layer":
        for key in [k for k in arrays if k.startswith("layer3.2.bn2." if torch_like else "conv4_block3_2_bn")]:
            del arrays[key]
    elif fault == "extra layers":
        return deeper
    elif fault == "wrong shape":
        if torch_like:
            arrays["layer2.0.conv1.weight"] = arrays["layer2.0.conv1.weight"].transpose(1, 0, 2, 3).copy()
        else:
            arrays["conv3_block1_1_conv"][0] = arrays["conv3_block1_1_conv"][0].transpose(0, 1, 3, 2).copy()
    elif fault in ("NaN weight", "negative variance"):
        value = np.nan if fault == "NaN weight" else -0.5
        (arrays["layer2.1.bn1.running_var"] if torch_like else arrays["conv3_block2_1_bn"][3])[5] = value
    return arrays


FAULT_MESSAGES = {
    "missing layer": r"has no weights for layer 'conv4_block3_2_bn'",
    "extra layers": r"has weights for [1-9]\d* layers that model 'cifar_resnet20' lacks \(conv2_block4_",
    "wrong shape": r"weight 'conv3_block1_1_conv/kernel' has shape \(3, 3, 32, 16\) there, "
                   r"\(3, 3, 16, 32\) in the model",
    "NaN weight": r"weight 'conv3_block2_1_bn/moving_variance' holds 1 NaN or infinite values; refused",
    "negative variance": r"weight 'conv3_block2_1_bn/moving_variance' holds 1 negative variances; refused",
}


@pytest.fixture(scope="module")
def shipped_model():
    """The shipped ResNet-20, built once: the model each refused load is tried on."""
    return kr.CifarResNet(3, weights="cifar10")


@pytest.fixture
def target(shipped_model):
    """The shipped ResNet-20, with its weights as shipped again after the test."""
    weights = shipped_model.get_weights()
    yield shipped_model
    shipped_model.set_weights(weights)


def assert_refused_and_untouched(path, match, target):
    """Both entries, the builder's `weights=` and loading into a built model (`target`), refuse;
    the built model keeps every weight it had."""
    with pytest.raises(ValueError, match=match):
        kr.CifarResNet(3, weights=str(path))
    before = [np.array(w) for w in target.weights]
    with pytest.raises(ValueError, match=match):
        pretrained.load_weights(target, path)
    for a, b in zip(before, target.weights, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fault", list(FAULT_MESSAGES))
@pytest.mark.parametrize("fmt", FORMATS)
def test_layer_faults_are_refused_whole(fmt, fault, sources, tmp_path, target):
    path = tmp_path / f"w.{fmt.split('.')[1]}"
    write(fmt, faulty(fmt, fault, sources), path)
    assert_refused_and_untouched(path, FAULT_MESSAGES[fault], target)


def test_the_unfaulted_files_load(sources, tmp_path):
    """The control: each writer above makes a file that loads, so the refusals are the faults'."""
    expected = kr.CifarResNet(3, weights="cifar10", include_preprocessing=False).predict(
        np.zeros((1, 32, 32, 3), "float32"), verbose=0)
    for fmt in FORMATS:
        path = tmp_path / f"w.{fmt.split('.')[1]}"
        write(fmt, faulty(fmt, "none", sources), path)
        np.testing.assert_allclose(kr.CifarResNet(3, weights=str(path)).predict(np.zeros((1, 32, 32, 3), "float32"),
                                                                                 verbose=0), expected, atol=1e-5)


TWO_READINGS = {
    "module. on some keys": r"State-dict keys 'module\.layer3\.[\w.]+' and '[\w.]+': \d+ keys have DataParallel's "
                            r"`module\.` prefix and \d+ do not; a file whose keys allow two readings is refused",
    "module. and bare copies": r"State-dict keys 'module\.[\w.]+' and '[\w.]+': \d+ keys have DataParallel's "
                               r"`module\.` prefix and \d+ do not; a file whose keys allow two readings is refused",
    "fc and linear": r"State-dict keys '(fc|linear)\.(weight|bias)' and '(fc|linear)\.(weight|bias)' both hold "
                     r"'(weight|bias)' of layer 'predictions'; a file whose keys allow two readings is refused",
}


@pytest.mark.parametrize("keys", list(TWO_READINGS))
@pytest.mark.parametrize("fmt", ["torch.pth", "torch.safetensors"])
def test_keys_that_allow_two_readings_are_refused(fmt, keys, sources, tmp_path, target):
    """A state dict with `module.` on some keys only (or a `module.` copy beside each bare key),
    or `fc.*` beside Idelbayev's `linear.*`, would load with one copy silently winning: refused,
    naming the keys, the model unchanged. With `module.` on every key it loads."""
    state = faulty(fmt, "none", sources)
    if keys == "module. on some keys":
        state = {f"module.{k}" if k.startswith("layer3.") else k: v for k, v in state.items()}
    elif keys == "module. and bare copies":
        state = {**state, **{f"module.{k}": -v for k, v in state.items()}}
    else:
        state = {**state, "fc.weight": 2 * state["linear.weight"], "fc.bias": state["linear.bias"] + 1}
    path = tmp_path / f"w.{fmt.split('.')[1]}"
    write(fmt, state, path)
    assert_refused_and_untouched(path, rf"w\.{fmt.split('.')[1]}: {TWO_READINGS[keys]}", target)
    write(fmt, {f"module.{k}": v for k, v in faulty(fmt, "none", sources).items()}, path)
    pretrained.load_weights(target, path)


@pytest.mark.parametrize("fraction", [0.01, 0.5, 0.99])
@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_files(fmt, fraction, sources, tmp_path, target):
    whole = tmp_path / f"whole.{fmt.split('.')[1]}"
    write(fmt, faulty(fmt, "none", sources), whole)
    data = whole.read_bytes()
    path = tmp_path / f"cut.{fmt.split('.')[1]}"
    path.write_bytes(data[: int(len(data) * fraction)])
    assert_refused_and_untouched(path, r"cut\.\w+ is not a readable", target)


FOREIGN = {
    "empty": b"",
    "png": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)) * 8,
    "json": json.dumps({"conv1_conv": [[1.0, 2.0]]}).encode(),
    "text": b"conv1_conv 0.1 0.2\n" * 100,
}


@pytest.mark.parametrize("suffix", [".h5", ".pth", ".safetensors"])
@pytest.mark.parametrize("content", list(FOREIGN) + ["keras model", "other hdf5", "keras weights.h5"])
def test_files_of_another_format(content, suffix, tmp_path, target):
    path = tmp_path / f"foreign{suffix}"
    if content == "keras model":
        kr.CifarResNet(3).save(tmp_path / "m.keras")
        path.write_bytes((tmp_path / "m.keras").read_bytes())
    elif content == "other hdf5":
        with h5py.File(path, "w") as f:
            f["conv1_conv"] = np.zeros((3, 3, 3, 16), "float32")  # a dataset where a group belongs
    elif content == "keras weights.h5":  # Keras 3's own `save_weights` layout
        kr.CifarResNet(3).save_weights(tmp_path / "m.weights.h5")
        path.write_bytes((tmp_path / "m.weights.h5").read_bytes())
    else:
        path.write_bytes(FOREIGN[content])
    # (text beginning with "c" is a pickle asking for a global: refused as such)
    refusal = r"foreign\.\w+ (is not a (readable|keras_resnet weights file)|asks the unpickler)"
    assert_refused_and_untouched(path, refusal, target)


@pytest.mark.parametrize("writer, refusal", [
    ("torch.save", "asks the unpickler for posix.system beyond tensors; it was refused without running"),
    ("pickle protocol 2", "asks the unpickler for posix.system beyond tensors; it was refused without running"),
    ("pickle protocol 5", "is not a readable tensors-only PyTorch checkpoint"),  # opcodes torch's unpickler lacks
])
def test_pickle_asking_for_code_is_never_run(writer, refusal, shared, tmp_path, target, capsys):
    marker = tmp_path / "code-ran"
    state = torch.load(shared / CHECKPOINT, map_location="cpu", weights_only=True)
    path = tmp_path / "evil.pth"
    if writer == "torch.save":  # a real checkpoint with one hostile entry
        torch.save({**state, "extra": RunsCode(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(RunsCode(marker), protocol=int(writer[-1])))  # a bare hostile pickle
    assert_refused_and_untouched(path, rf"evil\.pth {re.escape(refusal)}", target)
    result = keras_resnet_main(capsys, "convert", path, tmp_path / "out.h5", "--model", "cifar_resnet20")
    assert result.returncode == 2 and refusal in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists() and not (tmp_path / "out.h5").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.pth"]


def _hostile_models(tmp_path, marker) -> dict:
    """.keras files that would run `touch <marker>` if loaded unsafely: a Lambda (its bytecode
    is in the file) and a config naming os.system as an activation."""
    command = f"touch {marker}"
    inputs = keras.Input((32, 32, 3))
    outputs = kr.CifarResNet(3)(keras.layers.Lambda(lambda x: x + float(os.system(command)))(inputs))
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    kr.CifarResNet(3).save(tmp_path / "plain.keras")
    with zipfile.ZipFile(tmp_path / "plain.keras") as z:
        files = {name: z.read(name) for name in z.namelist()}
    config = json.loads(files["config.json"])
    layer = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Activation")
    layer["config"]["activation"] = {"module": "os", "class_name": "function", "config": "system",
                                     "registered_name": "function"}
    files["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "config.keras", "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return {"lambda": tmp_path / "lambda.keras", "config": tmp_path / "config.keras"}


def test_keras_files_that_would_run_code_are_refused(tmp_path, shared, cifar_test, capsys):
    import tensorflow as tf

    marker = tmp_path / "code-ran"
    models = _hostile_models(tmp_path, marker)
    marker.unlink(missing_ok=True)  # building the Lambda model ran its function once, here
    image = tmp_path / "cat.png"
    image.write_bytes(tf.io.encode_png(cifar_test[0][0]).numpy())
    for kind, path in models.items():
        with pytest.raises(ValueError, match=rf"`model_file` '.*{kind}\.keras' was refused: .*safe_mode=True"):
            load_trained(path)
        for command in (["predict", str(path), str(image)],
                        ["evaluate", str(path), "--data-dir", str(shared / "cifar-10-batches-py")],
                        ["export", str(path), str(tmp_path / "out.onnx"), "--format", "onnx"]):
            result = keras_resnet_main(capsys, *command)
            assert result.returncode == 2 and "safe_mode=True" in result.stderr, (command, result.stderr[-2000:])
        assert not marker.exists() and not (tmp_path / "out.onnx").exists()


# --- data from outside the file ---------------------------------------------------------------

OUTSIDE = {
    "external link": r"{name!r} is an HDF5 external link \(to .*secret\.h5:/secret\), "
                     r"not data stored in the file itself",
    "soft link": r"{name!r} is an HDF5 soft link \(to /outside\), not data stored in the file itself",
    "external storage": r"dataset {name!r} takes its data from outside the file "
                        r"\(external storage in \[\('.*secret\.bin', 0,",
    "external storage on a FIFO": r"dataset {name!r} takes its data from outside the file "
                                  r"\(external storage in \[\('.*fifo', 0,",
    "virtual dataset": r"dataset {name!r} takes its data from outside the file \(a virtual dataset\)",
}
OUTSIDE_NAMES = {  # the dataset replaced, a convolution kernel
    "keras_resnet.h5": "conv3_block1_1_conv/0",
    "keras_applications.h5": "conv3_block1_1_conv/conv3_block1_1_conv/kernel:0",
    "model.keras": "layers/conv2d_5/vars/0",
}


def put_outside(path, name: str, fault: str, directory) -> np.ndarray:
    """Replace dataset `name` of HDF5 file `path` by one whose data h5py would take from a
    "secret" outside it (returned: values of the dataset's shape), the `fault`'s way."""
    with h5py.File(path, "a") as f:
        secret = np.random.default_rng(13).normal(0, 0.1, f[name].shape).astype(f[name].dtype)
        (directory / "secret.bin").write_bytes(secret.tobytes())
        with h5py.File(directory / "secret.h5", "w") as other:
            other["secret"] = secret
        del f[name]
        if fault in ("external link", "soft link"):
            link = h5py.ExternalLink(str(directory / "secret.h5"), "/secret")
            f[name if fault == "external link" else "outside"] = link
            if fault == "soft link":
                f[name] = h5py.SoftLink("/outside")
        elif fault == "virtual dataset":
            layout = h5py.VirtualLayout(secret.shape, secret.dtype)
            layout[...] = h5py.VirtualSource(str(directory / "secret.h5"), "secret", secret.shape)
            f.create_virtual_dataset(name, layout)
        else:
            target = directory / ("fifo" if "FIFO" in fault else "secret.bin")
            if "FIFO" in fault:
                os.mkfifo(target)
            f.create_dataset(name, secret.shape, secret.dtype, external=[(str(target), 0, secret.nbytes)])
    if "FIFO" not in fault:  # the control: h5py itself reads the secret through the file
        with h5py.File(path, "r") as f:
            np.testing.assert_array_equal(f[name][()], secret)
    return secret


@contextmanager
def no_hang(fifo, limit: float = 30):
    """Fails the block if it runs past `limit` s; a reader blocked on `fifo` (what external
    storage on a FIFO did) is then fed and unblocked, so the test fails instead of hanging."""
    finished = threading.Event()

    def unblock():
        if not finished.wait(limit) and fifo.exists():
            try:
                descriptor = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO: nobody reads it
            except OSError:
                return
            os.write(descriptor, bytes(4096))
            os.close(descriptor)

    thread = threading.Thread(target=unblock, daemon=True)
    start = time.monotonic()
    thread.start()
    try:
        yield
    finally:
        finished.set()
        thread.join()
    assert time.monotonic() - start < limit


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("keras") / "model.keras"
    kr.CifarResNet(3).save(path)
    return path


@pytest.mark.parametrize("fault", list(OUTSIDE))
@pytest.mark.parametrize("fmt", list(OUTSIDE_NAMES))
def test_data_from_outside_the_file_is_refused(fmt, fault, sources, keras_file, tmp_path, target):
    """Only data stored in the HDF5 file itself is read: links and external or virtual storage
    are refused before any data is read, by every loader (the FIFO would hang one that read),
    and the secret reaches neither the model nor a converted file."""
    name = OUTSIDE_NAMES[fmt]
    match = re.escape(str(tmp_path)) + r".*" + OUTSIDE[fault].format(name=name)
    if fmt == "model.keras":
        with zipfile.ZipFile(keras_file) as z:
            files = {n: z.read(n) for n in z.namelist()}
        (tmp_path / "model.weights.h5").write_bytes(files["model.weights.h5"])
        put_outside(tmp_path / "model.weights.h5", name, fault, tmp_path)
        with zipfile.ZipFile(tmp_path / "model.keras", "w") as z:
            for member, data in files.items():
                z.writestr(member, (tmp_path / member).read_bytes() if member == "model.weights.h5" else data)
        refusal = r"model\.keras' \(model.weights.h5\): " + OUTSIDE[fault].format(name=name)
        with no_hang(tmp_path / "fifo"), pytest.raises(ValueError, match=refusal):
            load_trained(tmp_path / "model.keras")
        return
    path = tmp_path / "w.h5"
    write(fmt, faulty(fmt, "none", sources), path)
    put_outside(path, name, fault, tmp_path)
    with no_hang(tmp_path / "fifo"):
        assert_refused_and_untouched(path, match, target)
        with pytest.raises(ValueError, match=match):
            convert_file(path, tmp_path / "out" / "w.h5", "cifar_resnet20")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("suffix", [".h5", ".pth", ".safetensors"])
def test_a_fifo_or_device_is_never_read(tmp_path, suffix, target):
    """A FIFO named as a weights file (and a device, /dev/zero) would block, or never end:
    refused before it is opened, by `load_weights` and by `convert`."""
    fifo = tmp_path / f"w{suffix}"
    os.mkfifo(fifo)
    with no_hang(fifo):
        for path, what in ((fifo, "not a regular file"), ("/dev/zero", "not a regular file")):
            with pytest.raises(ValueError, match=f"{re.escape(str(path))} is not a weights file: it is {what}"):
                pretrained.load_weights(target, path, fmt="torch" if suffix != ".h5" else None)
        with pytest.raises(ValueError, match="not a regular file"):
            convert_file(fifo, tmp_path / "out.h5", "cifar_resnet20")
    assert not (tmp_path / "out.h5").exists()


def test_convert_command_refuses_external_storage(sources, tmp_path, capsys):
    """The command: exit 2, one line naming the file and the dataset, nothing written."""
    path = tmp_path / "w.h5"
    write("keras_resnet.h5", faulty("keras_resnet.h5", "none", sources), path)
    secret = put_outside(path, "conv3_block1_1_conv/0", "external storage", tmp_path)
    result = keras_resnet_main(capsys, "convert", path, tmp_path / "out.h5", "--model", "cifar_resnet20")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert re.fullmatch(rf"keras-resnet convert: error: {re.escape(str(path))}: dataset 'conv3_block1_1_conv/0' takes "
                        r"its data from outside the file \(external storage in .*", result.stderr.splitlines()[-1])
    assert not (tmp_path / "out.h5").exists() and secret.tobytes() not in result.stderr.encode()


# --- values and dtypes ------------------------------------------------------------------------

def _beyond_float32(value: np.ndarray) -> np.ndarray:
    value = value.astype(np.float64)
    value[5] = 1e39  # finite in float64, inf in the model's float32
    return value


DTYPES = {  # how the BN variance is stored, and the refusal
    "float64 beyond float32": (_beyond_float32, r"weight 'conv3_block2_1_bn/moving_variance' holds 1 NaN or infinite "
                                                r"values; refused \(.* or values beyond float32's range\)"),
    "complex": (lambda v: v.astype(np.complex64) + 1j, r"has dtype (complex64|C64); weights must be one of float16, "),
    "bool": (lambda v: v > 0, r"has dtype (bool|BOOL); weights must be one of float16, "),
    "integer": (lambda v: np.ceil(v).astype(np.int32), r"has dtype (int32|I32); weights must be one of float16, "),
    "string": (lambda v: v.astype("S12"), r"has dtype bytes96; weights must be one of float16, "),
}


@pytest.mark.filterwarnings("error::numpy.exceptions.ComplexWarning")  # the imaginary part dropped
@pytest.mark.filterwarnings("error::RuntimeWarning")  # overflow in the cast
@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("fmt", FORMATS)
def test_values_and_dtypes_that_change_in_the_cast_are_refused(fmt, dtype, sources, tmp_path, target):
    """The non-finite check runs after the cast to the variable's dtype; weights that are not
    floats (integers and bools included: no published file has them) are refused by dtype."""
    if dtype == "string" and fmt.startswith("torch"):
        pytest.skip("tensors hold no strings")
    arrays = faulty(fmt, "none", sources)
    convert, refusal = DTYPES[dtype]
    if fmt.startswith("torch"):
        arrays["layer2.1.bn1.running_var"] = convert(arrays["layer2.1.bn1.running_var"])
    else:
        arrays["conv3_block2_1_bn"][3] = convert(arrays["conv3_block2_1_bn"][3])
    path = tmp_path / f"w.{fmt.split('.')[1]}"
    write(fmt, arrays, path)
    named = "" if dtype.startswith("float") else r"weight '[^']+' "  # the file's name (the float refusal: the model's)
    assert_refused_and_untouched(path, r"w\.\w+: " + named + refusal, target)


# --- where `convert` writes -------------------------------------------------------------------

def _tree(root) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


OUTPUTS = {  # what the user has at (or above) the output path, and the refusal
    "a directory of the user's": (lambda out: (out.mkdir(), (out / "notes.txt").write_text("mine")),
                                  r"'{out}' exists and is a directory that is not a keras_resnet weights file"),
    "a file of another format": (lambda out: out.write_text("mine"),
                                 r"'{out}' exists and is a file that is not a keras_resnet weights file"),
    "an HDF5 file not ours": (lambda out: write("keras_applications.h5", {"conv1_conv": [np.zeros(3)]}, out),
                              r"'{out}' exists and is a file that is not a keras_resnet weights file"),
    "a file as its parent": (lambda out: out.parent.with_name("parent").write_text("mine"),
                             r"cannot write keras_resnet weights file '{out}': '.*parent' is a file, not a directory"),
    "a symbolic link": (lambda out: (out.parent.with_name("target.h5").write_text("mine"),
                                     out.symlink_to(out.parent.with_name("target.h5"))), r"'{out}' is a symbolic link"),
}


@pytest.mark.parametrize("output", list(OUTPUTS))
def test_convert_never_replaces_what_is_not_its_own(output, sources, tmp_path):
    """`convert` (`pretrained.loading.save_weights`) writes only where nothing of the user's is lost:
    a ValueError naming the path, and every file there as it was."""
    source = tmp_path / "source" / "w.h5"
    source.parent.mkdir()
    write("keras_resnet.h5", faulty("keras_resnet.h5", "none", sources), source)
    base = tmp_path / "base"
    base.mkdir()
    prepare, refusal = OUTPUTS[output]
    out = base / "parent" / "w.h5" if output == "a file as its parent" else base / "w.h5"
    prepare(out)
    before = _tree(base)
    with pytest.raises(ValueError, match=refusal.format(out=re.escape(str(out)))):
        convert_file(source, out, "cifar_resnet20")
    assert _tree(base) == before


def test_convert_replaces_its_own_file_and_makes_missing_directories(sources, tmp_path):
    """The control: a missing directory is made, an earlier keras_resnet weights file replaced."""
    source = tmp_path / "w.h5"
    write("keras_resnet.h5", faulty("keras_resnet.h5", "none", sources), source)
    out = tmp_path / "new" / "dirs" / "w.h5"
    digest = convert_file(source, out, "cifar_resnet20")
    pretrained.save_weights(kr.CifarResNet(3), out)  # an earlier, other keras_resnet weights file
    assert convert_file(source, out, "cifar_resnet20") == digest
    assert sorted(p.name for p in out.parent.iterdir()) == ["w.h5"]


def test_convert_on_a_full_disk_leaves_nothing(shared, tmp_path):
    """A 64 KiB tmpfs (in a user and mount namespace) holds no ResNet-20: one OSError, no
    temporary file left."""
    disk = tmp_path / "disk"
    disk.mkdir()
    code = ("from keras_resnet.deploy.conversion import convert_file\n"
            f"try: convert_file({str(shared / CHECKPOINT)!r}, "
            f"{str(disk / 'w.h5')!r}, 'cifar_resnet20')\nexcept OSError as e: print('OSError', e)\n"
            f"import os; print(os.listdir({str(disk)!r}))")
    result = in_namespace(f"mount -t tmpfs -o size=64k tmpfs {disk} && '{sys.executable}' -c \"$0\"", code)
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("OSError"), result.stdout + result.stderr[-3000:]
    assert lines[1] == "[]"  # no temporary file left
