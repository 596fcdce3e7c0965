"""A file of kilobytes never makes a loader allocate gigabytes: every declared shape is compared
with the model's, and every declared size with the bytes the file stores, before any data is
read. Read without these checks (peak RSS above the same baseline), these bombs cost: the two
HDF5 files 2.0 GiB each, the PyTorch stride-0 tensor 2.0 GiB (then a numpy error naming no
file), the .keras config 4.8 GiB, the .keras dataset 8.1 GiB, and the zip member 1.0 GiB (and
loaded); "h5 huge classes" would have `convert` build a 2**28-way layer (64 GiB). Each is
refused with a ValueError naming it, within a few MiB of the baseline."""

import json
import os
import re
import zipfile

import h5py
import keras
import numpy as np
import pytest
from conftest import run_python

torch = pytest.importorskip("torch")
CHECKPOINT = "pretrained/akamaster-cifar10/resnet20-12fca82f.th"
BOUND_MIB = 300
GIB = 1 << 30


def _small_keras(path) -> dict:
    """A .keras of a 10-unit Dense model, as {member: bytes}."""
    inputs = keras.Input((1,))
    keras.Model(inputs, keras.layers.Dense(10, name="dense")(inputs)).save(path)
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def _write_zip(path, members: dict) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def h5_empty_chunks(path) -> None:
    """Our layout; one dataset of 2 GiB declared, chunked, no chunk written (reads as zeros)."""
    with h5py.File(path, "w") as f:
        f.create_dataset("conv1_conv/0", shape=(GIB // 2,), dtype="float32", chunks=(1 << 20,))


def h5_compressed_zeros(path) -> None:
    """keras.applications' layout; 2 GiB declared, one gzip chunk of zeros written."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [b"conv1_conv"]
        f.create_group("conv1_conv").attrs["weight_names"] = [b"conv1_conv/kernel:0"]
        data = f["conv1_conv"].create_dataset("conv1_conv/kernel:0", shape=(GIB // 2,), dtype="float32",
                                              chunks=(1 << 20,), compression="gzip")
        data[: 1 << 20] = 0


def h5_huge_classes(path) -> None:
    """A `predictions` bias declaring 2**28 classes: `convert` would build a 2**28-way layer."""
    with h5py.File(path, "w") as f:
        f.create_dataset("predictions/0", shape=(64, 10), dtype="float32")
        f.create_dataset("predictions/1", shape=(1 << 28,), dtype="float32", chunks=(1 << 20,))


def h5_many_classes(path) -> None:
    """A `predictions` layer of 2**18 classes from one feature, stored in full (2 MB): `convert`
    to ResNet-50 would build a 2048 x 2**18 layer (2 GiB) before finding the kernel misshapen."""
    with h5py.File(path, "w") as f:
        f["predictions/0"] = np.zeros((1, 1 << 18), "float32")
        f["predictions/1"] = np.zeros(1 << 18, "float32")


def pth_stride_zero(path) -> None:
    """A state dict whose 2**29-element float16 tensor is one stored element, expanded."""
    torch.save({"conv1.weight": torch.zeros(1, dtype=torch.float16).expand(1 << 29)}, path)


def keras_huge_dense(path) -> None:
    """A .keras whose config declares Dense(units=2.5e8) (2 GB), the weights of Dense(10) stored."""
    files = _small_keras(path.with_name("small.keras"))
    config = json.loads(files["config.json"])
    dense = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")
    dense["config"]["units"] = 250_000_000
    _write_zip(path, {**files, "config.json": json.dumps(config).encode()})


def keras_huge_dataset(path) -> None:
    """A .keras whose model.weights.h5 holds a 2 GiB empty chunked dataset for the Dense kernel."""
    files = _small_keras(path.with_name("small.keras"))
    weights = path.with_name("model.weights.h5")
    weights.write_bytes(files["model.weights.h5"])
    with h5py.File(weights, "a") as f:
        name = next(n for n in ("layers/dense/vars/0", "_layer_checkpoint_dependencies/dense/vars/0") if n in f)
        del f[name]
        f.create_dataset(name, shape=(GIB // 2,), dtype="float32", chunks=(1 << 20,))
    _write_zip(path, {**files, "model.weights.h5": weights.read_bytes()})


def keras_zip_bomb(path) -> None:
    """A .keras whose model.weights.h5 member inflates 512 MiB of zeros from 0.5 MB (Keras' own
    guard starts at 4 GiB)."""
    files = _small_keras(path.with_name("small.keras"))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            if name != "model.weights.h5":
                z.writestr(name, data)
        with z.open("model.weights.h5", "w", force_zip64=True) as member:
            member.write(files["model.weights.h5"])
            for _ in range(512):
                member.write(bytes(1 << 20))


# name: (builder, suffix, how it is loaded, refusal)
REFUSED = r" declares {} bytes of data but stores [\d,]+; refused before reading any"
BOMBS = {
    "h5 empty chunks": (h5_empty_chunks, ".h5", "weights", r"bomb\.h5" + REFUSED.format("2,147,483,648")),
    "h5 compressed zeros": (h5_compressed_zeros, ".h5", "weights", r"bomb\.h5" + REFUSED.format("2,147,483,648")),
    "h5 huge classes": (h5_huge_classes, ".h5", "convert cifar_resnet20",
                        r"bomb\.h5" + REFUSED.format("1,073,744,384")),
    "h5 many classes": (h5_many_classes, ".h5", "convert resnet50", r"bomb\.h5 has no weights for layer 'conv1_conv'"),
    "pth stride 0": (pth_stride_zero, ".pth", "weights", r"bomb\.pth" + REFUSED.format("1,073,741,824")),
    "keras huge Dense": (keras_huge_dense, ".keras", "model",
                         r"bomb\.keras' \(its config's weights, as float32\)" + REFUSED.format(r"2,000,000,\d+")),
    "keras huge dataset": (keras_huge_dataset, ".keras", "model",
                           r"bomb\.keras' \(model.weights.h5\)" + REFUSED.format(r"2,147,483,\d+")),
    "keras zip bomb": (keras_zip_bomb, ".keras", "model",
                       r"bomb\.keras' \(member model.weights.h5\)" + REFUSED.format(r"536,8\d\d,\d+")),
}

MEASURE = """
import json, resource, sys, keras, numpy as np, torch, keras_resnet as kr
from keras_resnet.deploy.conversion import convert_file
from keras_resnet.evaluation.predict import load_trained
shared, legit_keras, out, bombs = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
load = {"weights": lambda p: kr.CifarResNet(3, weights=p), "model": load_trained,
        "convert cifar_resnet20": lambda p: convert_file(p, out + "/bomb.h5", "cifar_resnet20"),
        "convert resnet50": lambda p: convert_file(p, out + "/bomb.h5", "resnet50")}
# the legitimate files first, each way, so the baseline holds what loading needs at all
kr.CifarResNet(3, weights=shared + "/pretrained/akamaster-cifar10/resnet20-12fca82f.th")
load_trained(legit_keras)
convert_file(shared + "/pretrained/akamaster-cifar10/resnet20-12fca82f.th", out + "/legit.h5", "cifar_resnet20")
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
results = {"baseline_mib": peak()}
for name, (path, how) in bombs.items():
    try:
        load[how](path)
        results[name] = {"refusal": None}
    except ValueError as e:
        results[name] = {"refusal": str(e)}
    results[name]["peak_mib"] = peak()
with keras.StatelessScope():  # initialises any variable left uninitialised (none may be)
    pass
results["after a scope"] = {"peak_mib": peak()}
print(json.dumps(results))
"""


def test_bombs_are_refused_in_bounded_memory(shared, tmp_path):
    bombs = {}
    for name, (build, suffix, how, _) in BOMBS.items():
        path = tmp_path / name.replace(" ", "_") / f"bomb{suffix}"
        path.parent.mkdir()
        build(path)
        bombs[name] = (str(path), how)
        assert path.stat().st_size < 3_000_000, (name, path.stat().st_size)
    _small_keras(tmp_path / "legit.keras")
    out = tmp_path / "out"
    argv = [str(shared), str(tmp_path / "legit.keras"), str(out), json.dumps(bombs)]
    results = json.loads(run_python(f"import sys; sys.argv[1:] = {argv!r}\n{MEASURE}").splitlines()[-1])
    baseline = results["baseline_mib"]
    print(f"\nbaseline peak RSS {baseline:.0f} MiB")
    for name, (_, _, _, refusal) in BOMBS.items():
        got = results[name]
        print(f"{name:20} {os.path.getsize(bombs[name][0]):>7} bytes  peak +{got['peak_mib'] - baseline:.0f} MiB  "
              f"{(got['refusal'] or 'NOT REFUSED')[:160]}")
        assert got["refusal"] is not None and bombs[name][0] in got["refusal"], (name, got["refusal"])
        assert re.search(refusal, got["refusal"]), (name, got["refusal"])
    print(f"after a StatelessScope: peak +{results['after a scope']['peak_mib'] - baseline:.0f} MiB")
    assert max(results[name]["peak_mib"] for name in [*BOMBS, "after a scope"]) - baseline < BOUND_MIB
    assert sorted(p.name for p in out.iterdir()) == ["legit.h5"]  # the bombs' conversion wrote nothing
