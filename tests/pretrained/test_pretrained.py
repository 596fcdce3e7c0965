"""Shipped CIFAR-10 weights equal the original PyTorch checkpoints; weight files load all or
nothing."""

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import REPO
from references import shapes_only

import keras_resnet as kr
from keras_resnet.models.preprocessing import MODES
from keras_resnet.pretrained import download, formats, registry
from keras_resnet.pretrained import loading as pretrained

torch = pytest.importorskip("torch")
F = torch.nn.functional
CHECKPOINTS = {
    3: "resnet20-12fca82f.th", 5: "resnet32-d509ac18.th", 7: "resnet44-014dd654.th", 9: "resnet56-4bfd9763.th"
}
PUBLISHED_ERROR = {3: 8.27, 5: 7.37, 7: 6.90, 9: 6.61}  # full test set, with the checkpoints


def reference_forward(state_dict, images_uint8, n):
    """The reference CIFAR ResNet in plain PyTorch, from the facts in shared/README.md."""
    sd = {k.removeprefix("module."): v for k, v in state_dict.items()}
    x = torch.from_numpy(images_uint8.transpose(0, 3, 1, 2)).float() / 255
    x = (x - torch.tensor([0.485, 0.456, 0.406])[:, None, None]) / torch.tensor([0.229, 0.224, 0.225])[:, None, None]

    def bn(t, p):
        return F.batch_norm(t, sd[f"{p}.running_mean"], sd[f"{p}.running_var"], sd[f"{p}.weight"], sd[f"{p}.bias"],
                            False, 0.0, 1e-5)

    h = F.relu(bn(F.conv2d(x, sd["conv1.weight"], padding=1), "bn1"))
    for s in (1, 2, 3):
        for b in range(n):
            p, stride = f"layer{s}.{b}", 2 if b == 0 and s > 1 else 1
            y = F.relu(bn(F.conv2d(h, sd[f"{p}.conv1.weight"], stride=stride, padding=1), f"{p}.bn1"))
            y = bn(F.conv2d(y, sd[f"{p}.conv2.weight"], padding=1), f"{p}.bn2")
            if y.shape != h.shape:
                pad = y.shape[1] // 4
                h = F.pad(h[:, :, ::2, ::2], (0, 0, 0, 0, pad, pad))
            h = F.relu(y + h)
    return F.linear(h.mean((2, 3)), sd["linear.weight"], sd["linear.bias"])


@pytest.mark.parametrize("n", [3, 5, pytest.param(7, marks=pytest.mark.slow), pytest.param(9, marks=pytest.mark.slow)])
def test_shipped_weights_match_pytorch_on_real_images(n, shared, cifar_test):
    images, labels = cifar_test
    checkpoint = torch.load(shared / "pretrained/akamaster-cifar10" / CHECKPOINTS[n], map_location="cpu",
                            weights_only=True)
    with torch.no_grad():
        expected = reference_forward(checkpoint["state_dict"], images, n).numpy()
    model = getattr(kr, f"CifarResNet{6 * n + 2}")(weights="cifar10", classifier_activation=None)  # raw 0-255 images in
    logits = model.predict(images, batch_size=256, verbose=0)
    np.testing.assert_array_equal(logits.argmax(1), expected.argmax(1))
    np.testing.assert_allclose(logits, expected, atol=1e-3)
    error = 100 * np.mean(logits.argmax(1) != labels)
    assert abs(error - PUBLISHED_ERROR[n]) < 3.0, error  # 1,017-image subset of the test set


def test_headless_load_and_new_head():
    top = kr.CifarResNet(3, weights="cifar10")
    headless = kr.CifarResNet(3, weights="cifar10", include_top=False, pooling="avg")
    layer = "conv4_block3_2_conv"
    np.testing.assert_array_equal(headless.get_layer(layer).kernel, top.get_layer(layer).kernel)
    assert headless.output.shape == (None, 64)


def test_save_load_round_trip_and_all_or_nothing(tmp_path):
    source = kr.CifarResNet(3, weights="cifar10")
    pretrained.save_weights(source, tmp_path / "w.h5")
    fresh = kr.CifarResNet(3, weights=str(tmp_path / "w.h5"))
    for a, b in zip(source.weights, fresh.weights):
        np.testing.assert_array_equal(a, b)

    with h5py.File(tmp_path / "w.h5", "a") as f:  # damage one layer deep inside
        del f["conv4_block3_2_bn/3"]
        f["conv4_block3_2_bn"].create_dataset("3", data=np.ones(5, "float32"))
    target = kr.CifarResNet(3)
    before = [np.array(w) for w in target.weights]
    with pytest.raises(ValueError, match=r"conv4_block3_2_bn.*shape \(5,\) there, \(64,\) in the model"):
        pretrained.load_weights(target, tmp_path / "w.h5")
    for a, b in zip(before, target.weights):  # nothing was assigned
        np.testing.assert_array_equal(a, b)


def recorded_variant(path) -> str | None:
    with formats.open_weights(path) as opened:
        assert opened.format == "keras_resnet"
        return opened.variant


@pytest.mark.parametrize("variant", ["v1", "v1.5"])
def test_our_file_records_and_rebuilds_its_variant(tmp_path, variant):
    """A bottleneck net's file says where it strides, so variant=None rebuilds that network;
    a basic-block net's (the same either way) says nothing, so its bytes stay as they were."""
    source = kr.ResNet50(variant=variant, include_top=False, input_shape=(64, 64, 3))
    pretrained.save_weights(source, tmp_path / "w.h5")
    assert recorded_variant(tmp_path / "w.h5") == variant
    rebuilt = kr.ResNet50(weights=str(tmp_path / "w.h5"), include_top=False, input_shape=(64, 64, 3))
    strided = "conv3_block1_1_conv" if variant == "v1" else "conv3_block1_2_conv"
    assert rebuilt.get_layer(strided).strides == (2, 2)
    pretrained.save_weights(kr.CifarResNet(3), tmp_path / "basic.h5")
    assert recorded_variant(tmp_path / "basic.h5") is None
    for forged in ("v2", b"\xff", [1, 2]):  # a forged or damaged record is refused, not guessed from
        with h5py.File(tmp_path / "w.h5", "a") as f:
            f.attrs[formats.VARIANT_ATTRIBUTE] = forged
        with pytest.raises(ValueError, match=r"w.h5: its `variant` attribute is .*, not one of \['v1', 'v1.5'\]"):
            kr.ResNet50(weights=str(tmp_path / "w.h5"), include_top=False, input_shape=(64, 64, 3))


def test_wrong_architecture_and_bad_files(tmp_path):
    pretrained.save_weights(kr.CifarResNet(3), tmp_path / "n3.h5")
    with pytest.raises(ValueError, match=r"no weights for layer 'conv2_block4_1_conv'"):
        kr.CifarResNet(5, weights=str(tmp_path / "n3.h5"))
    with pytest.raises(ValueError, match=r"conv2_block1_0_conv"):  # option B needs projections
        kr.CifarResNet(3, shortcut="C", weights=str(tmp_path / "n3.h5"))
    (tmp_path / "junk.h5").write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match="not a readable HDF5 weights file"):
        kr.CifarResNet(3, weights=str(tmp_path / "junk.h5"))
    data = (tmp_path / "n3.h5").read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable HDF5"):
        kr.CifarResNet(3, weights=str(tmp_path / "cut.h5"))


@pytest.mark.slow
def test_registry_entries_are_complete_and_buildable():
    """Every entry names a buildable model, a well-formed source and hash, and how to use it."""
    lengths = {"md5": 32, "sha256": 64}
    for entry in registry.entries():
        model = shapes_only(kr.build_by_id, entry.model, variant=entry.variant, shortcut=entry.shortcut,
                            classes=entry.classes, input_shape=(32, 32, 3))
        assert model.get_layer("predictions").units == entry.classes
        assert entry.format in formats.WEIGHT_FORMATS and entry.preprocessing.mode in MODES
        for spec in (entry.file, entry.notop):
            if spec is None:
                continue
            assert int(spec.hash, 16) >= 0
            # in full, or the 8-digit prefix the publisher's file name gives (torch.hub's check_hash)
            assert len(spec.hash) == lengths[spec.hash_algorithm] or f"-{spec.hash}." in spec.name
            assert spec.url is None or (spec.url.startswith("https://") and spec.url.endswith(Path(spec.name).suffix))
        assert entry.license and entry.source and entry.accuracy.source and entry.accuracy.results
    pairs = [(e.name, e.model, e.variant) for e in registry.entries()]
    assert len(pairs) == len(set(pairs))


def test_shipped_files_are_installed_and_verified():
    entries = [e for e in registry.entries() if e.file.url is None]
    assert sorted(e.model for e in entries) == ["cifar_resnet20", "cifar_resnet32", "cifar_resnet44", "cifar_resnet56"]
    for entry in entries:
        path = download.weights_dir() / entry.file.name
        assert download.sha256(path) == entry.file.hash
        licence = (download.weights_dir() / entry.license_file).read_text()
        assert licence.startswith("Copyright (c) 2018, Yerlan Idelbayev")


def test_security_page_says_how_each_registry_file_is_verified():
    """SECURITY.md's table names every registry file and how a copy of it is verified (the full
    published hash, or the prefix pinned on first use), as the code verifies it; the eight
    prefix-only entries say so in their source too."""
    text = (REPO / "SECURITY.md").read_text().split("## How each registry file is verified")[1].split("\n## ")[0]
    rows = dict(re.findall(r"^\| `([^`]+)` \| [^|]+ \| ([^|]+) \|", text, re.M))
    specs = {spec.name: spec for e in registry.entries() for spec in (e.file, e.notop) if spec is not None}
    assert rows == {name: spec.verification for name, spec in specs.items()}
    prefix_only = [e for e in registry.entries() if e.file.is_prefix]
    assert len(prefix_only) == 8 and all("prefix only" in e.source for e in prefix_only)
