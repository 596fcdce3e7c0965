"""Every loader of a file a user hands us refuses a damaged, foreign or hostile one with a
ValueError naming it, all or nothing: the model keeps its weights, no code from the file runs,
nothing is written. The faults are injected into real files: the shipped ResNet-20 weights and
Idelbayev's PyTorch checkpoint they were converted from."""

import json
import os
import pickle
import re
import zipfile

import h5py
import keras
import numpy as np
import pytest
from conftest import RunsCode, keras_resnet_cli

import keras_resnet as kr
from keras_resnet import pretrained
from keras_resnet.predict import load_trained

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
    deeper = {**shipped, **{k.replace("conv2_block3", "conv2_block4"): v for k, v in shipped.items() if "conv2_block3" in k}}
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
    elif fault == "NaN weight":
        (arrays["layer2.1.bn1.running_var"] if torch_like else arrays["conv3_block2_1_bn"][3])[5] = np.nan
    return arrays


FAULT_MESSAGES = {
    "missing layer": r"has no weights for layer 'conv4_block3_2_bn'",
    "extra layers": r"has weights for [1-9]\d* layers that model 'cifar_resnet20' lacks \(conv2_block4_",
    "wrong shape": r"weight 'conv3_block1_1_conv/kernel' has shape \(3, 3, 32, 16\) there, \(3, 3, 16, 32\) in the model",
    "NaN weight": r"weight 'conv3_block2_1_bn/moving_variance' holds 1 NaN or infinite values; refused",
}


def assert_refused_and_untouched(path, match):
    """Both entries, the builder's `weights=` and loading into a built model, refuse; the built
    model keeps every weight it had."""
    with pytest.raises(ValueError, match=match):
        kr.CifarResNet(3, weights=str(path))
    target = kr.CifarResNet(3, weights="cifar10")
    before = [np.array(w) for w in target.weights]
    with pytest.raises(ValueError, match=match):
        pretrained.load_weights(target, path)
    for a, b in zip(before, target.weights, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fault", list(FAULT_MESSAGES))
@pytest.mark.parametrize("fmt", FORMATS)
def test_layer_faults_are_refused_whole(fmt, fault, sources, tmp_path):
    path = tmp_path / f"w.{fmt.split('.')[1]}"
    write(fmt, faulty(fmt, fault, sources), path)
    assert_refused_and_untouched(path, FAULT_MESSAGES[fault])


def test_the_unfaulted_files_load(sources, tmp_path):
    """The control: each writer above makes a file that loads, so the refusals are the faults'."""
    expected = kr.CifarResNet(3, weights="cifar10").predict(np.zeros((1, 32, 32, 3), "float32"), verbose=0)
    for fmt in FORMATS:
        path = tmp_path / f"w.{fmt.split('.')[1]}"
        write(fmt, faulty(fmt, "none", sources), path)
        np.testing.assert_allclose(kr.CifarResNet(3, weights=str(path)).predict(np.zeros((1, 32, 32, 3), "float32"),
                                                                                 verbose=0), expected, atol=1e-5)


@pytest.mark.parametrize("fraction", [0.01, 0.5, 0.99])
@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_files(fmt, fraction, sources, tmp_path):
    whole = tmp_path / f"whole.{fmt.split('.')[1]}"
    write(fmt, faulty(fmt, "none", sources), whole)
    data = whole.read_bytes()
    path = tmp_path / f"cut.{fmt.split('.')[1]}"
    path.write_bytes(data[: int(len(data) * fraction)])
    assert_refused_and_untouched(path, r"cut\.\w+ is not a readable")


FOREIGN = {
    "empty": b"",
    "png": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)) * 8,
    "json": json.dumps({"conv1_conv": [[1.0, 2.0]]}).encode(),
    "text": b"conv1_conv 0.1 0.2\n" * 100,
}


@pytest.mark.parametrize("suffix", [".h5", ".pth", ".safetensors"])
@pytest.mark.parametrize("content", list(FOREIGN) + ["keras model", "other hdf5", "keras weights.h5"])
def test_files_of_another_format(content, suffix, tmp_path):
    path = tmp_path / f"foreign{suffix}"
    model = kr.CifarResNet(3)
    if content == "keras model":
        model.save(tmp_path / "m.keras")
        path.write_bytes((tmp_path / "m.keras").read_bytes())
    elif content == "other hdf5":
        with h5py.File(path, "w") as f:
            f["conv1_conv"] = np.zeros((3, 3, 3, 16), "float32")  # a dataset where a group belongs
    elif content == "keras weights.h5":  # Keras 3's own `save_weights` layout
        model.save_weights(tmp_path / "m.weights.h5")
        path.write_bytes((tmp_path / "m.weights.h5").read_bytes())
    else:
        path.write_bytes(FOREIGN[content])
    # (text beginning with "c" is a pickle asking for a global: refused as such)
    assert_refused_and_untouched(path, r"foreign\.\w+ (is not a (readable|keras_resnet weights file)|asks the unpickler)")


@pytest.mark.parametrize("writer, refusal", [
    ("torch.save", "asks the unpickler for posix.system beyond tensors; it was refused without running"),
    ("pickle protocol 2", "asks the unpickler for posix.system beyond tensors; it was refused without running"),
    ("pickle protocol 5", "is not a readable tensors-only PyTorch checkpoint"),  # opcodes torch's unpickler lacks
])
def test_pickle_asking_for_code_is_never_run(writer, refusal, shared, tmp_path):
    marker = tmp_path / "code-ran"
    state = torch.load(shared / CHECKPOINT, map_location="cpu", weights_only=True)
    path = tmp_path / "evil.pth"
    if writer == "torch.save":  # a real checkpoint with one hostile entry
        torch.save({**state, "extra": RunsCode(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(RunsCode(marker), protocol=int(writer[-1])))  # a bare hostile pickle
    assert_refused_and_untouched(path, rf"evil\.pth {re.escape(refusal)}")
    result = keras_resnet_cli("convert", str(path), str(tmp_path / "out.h5"), "--model", "cifar_resnet20")
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


def test_keras_files_that_would_run_code_are_refused(tmp_path, shared, cifar_test):
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
            result = keras_resnet_cli(*command)
            assert result.returncode == 2 and "safe_mode=True" in result.stderr, (command, result.stderr[-2000:])
        assert not marker.exists() and not (tmp_path / "out.onnx").exists()
