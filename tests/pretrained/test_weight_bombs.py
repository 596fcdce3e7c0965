"""A file of kilobytes never makes a loader allocate gigabytes: every declared shape is compared
with the model's, and every declared size with the bytes the file stores, before any data is
read. Read without these checks (peak RSS above the same baseline), these bombs cost: the two
HDF5 files 2.0 GiB each, the PyTorch stride-0 tensor 2.0 GiB (then a numpy error naming no
file), the .keras config 4.8 GiB, the .keras dataset 8.1 GiB, and the zip member 1.0 GiB (and
loaded); "h5 huge classes" would have `convert` build a 2**28-way layer (64 GiB). Used by
`keras-resnet predict`, the .keras files whose config makes huge activations take +2.9 to
+4.1 GB (issue 26), and the npz weights +1.36 GB. Each is refused with a ValueError naming it,
within a few MiB of the baseline."""

import io
import json
import os
import re
import zipfile

import h5py
import keras
import numpy as np
import pytest
from conftest import run_python
from keras.src.saving import saving_lib

import keras_resnet as kr
from keras_resnet.evaluation.predict import load_trained
from keras_resnet.models.preprocessing import CentreCrop
from keras_resnet.pretrained.formats import check_keras_archive

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


def _classifier(path, inputs, features) -> None:
    """A .keras of `features` then global pooling and a 10-way Dense, on `inputs`."""
    outputs = keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(features))
    keras.Model(inputs, outputs).save(path)


def keras_upsampling(path) -> None:
    """UpSampling2D(512) of a 16 x 16 input: an 8192 x 8192 x 3 activation (805 MB) per image."""
    inputs = keras.Input((16, 16, 3))
    _classifier(path, inputs, keras.layers.UpSampling2D(512)(inputs))


def keras_huge_input(path) -> None:
    """An 8192 x 8192 input and a conv of 8 filters: `predict` resizes every image to it."""
    inputs = keras.Input((8192, 8192, 3))
    _classifier(path, inputs, keras.layers.Conv2D(8, 3)(inputs))


def keras_centre_crop(path) -> None:
    """The package's own CentreCrop, to 12000 x 12000, on an input of any size."""
    inputs = keras.Input((None, None, 3))
    _classifier(path, inputs, keras.layers.Conv2D(8, 3)(CentreCrop(size=12000)(inputs)))


def keras_npz_bomb(path) -> None:
    """A .keras whose weights are a model.weights.npz (Keras reads one where no .h5 is) holding
    a .npy that declares 2**26 float32 (256 MiB, a list of 2.5 GB once Keras `.tolist()`s it),
    its zeros deflated to 0.3 MB."""
    files = _small_keras(path.with_name("small.keras"))
    npz = io.BytesIO()
    with zipfile.ZipFile(npz, "w", zipfile.ZIP_DEFLATED) as z, z.open("layers/dense.npy", "w") as member:
        np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False, "shape": (1 << 26,)})
        for _ in range(256):
            member.write(bytes(1 << 20))
    members = {name: data for name, data in files.items() if name != "model.weights.h5"}
    _write_zip(path, {**members, "model.weights.npz": npz.getvalue()})


# name: (builder, suffix, how it is loaded, refusal)
ACTIVATIONS = r"bomb\.keras' was refused: run on one image of its input size \(side 224 where open\), it would hold " \
              r"{} bytes of activations at once, at layer '{}' of output shape \({}\); more than the 134,217,728 bytes"
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
    "keras UpSampling2D(512)": (keras_upsampling, ".keras", "model",
                                ACTIVATIONS.format("805,309,440", r"up_sampling2d(_\d+)?", "1, 8192, 8192, 3")),
    "keras 8192 input": (keras_huge_input, ".keras", "model", ACTIVATIONS.format("2,951,741,568", r"conv2d(_\d+)?",
                                                                              "1, 8190, 8190, 8")),
    "keras CentreCrop(12000)": (keras_centre_crop, ".keras", "model",
                                ACTIVATIONS.format("6,334,464,128", r"conv2d(_\d+)?", "1, 11998, 11998, 8")),
    "keras npz weights": (keras_npz_bomb, ".keras", "model", r"bomb\.keras' \(model.weights.npz\) \(member "
                          r"layers/dense.npy\)" + REFUSED.format("2,952,790,016")),
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


def test_keras_files_of_a_trained_cifar_net_still_load(shared, tmp_path, cifar_test):
    """The published ResNet-20 (CIFAR-10) weights saved as .keras load, with the same outputs."""
    net = kr.CifarResNet(3, weights=shared / CHECKPOINT)
    net.save(tmp_path / "cifar.keras")
    images = cifar_test[0][:8].astype("float32")
    np.testing.assert_allclose(load_trained(tmp_path / "cifar.keras").predict_on_batch(images),
                               net.predict_on_batch(images), atol=1e-5)


def test_a_resnet50_keras_file_still_loads(tmp_path):
    """ResNet-50 (98 MB of weights; 9.2 MiB of activations at once per 224 x 224 image)."""
    net = kr.ResNet50(weights=None)
    net.save(tmp_path / "resnet50.keras")
    assert load_trained(tmp_path / "resnet50.keras").count_params() == net.count_params()


def test_npz_weights_are_sized_from_their_headers(tmp_path):
    """Keras 3 writes npz weights as pickled dicts (object arrays), which its own reader, with
    allow_pickle=False, refuses: so do we, before building the model. An npz of numeric arrays
    within the config's numbers passes the check (Keras then decides whether it loads)."""
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, name="dense")(inputs))
    saving_lib.save_model(model, tmp_path / "npz.keras", weights_format="npz")
    with pytest.raises(ValueError, match="Object arrays cannot be loaded when allow_pickle=False"):
        keras.models.load_model(tmp_path / "npz.keras")
    with pytest.raises(ValueError, match=r"npz\.keras' \(model.weights.npz\): member .*\.npy is a pickled \(object\) "
                                         r"array, which is never unpickled"):
        check_keras_archive(tmp_path / "npz.keras")
    files = _small_keras(tmp_path / "small.keras")
    for name, shape in (("plain", (20,)), ("beyond the config", (21,))):
        npz = io.BytesIO()
        np.savez(npz, **{"layers/dense": np.zeros(shape, "float32")})
        members = {"config.json": files["config.json"], "model.weights.npz": npz.getvalue()}
        _write_zip(tmp_path / f"{name}.keras", members)
    check_keras_archive(tmp_path / "plain.keras")
    with pytest.raises(ValueError, match=r"beyond the config\.keras' \(model.weights.npz\) declares 21 numbers, more "
                                         r"than the 20 its config's weights hold"):
        check_keras_archive(tmp_path / "beyond the config.keras")
