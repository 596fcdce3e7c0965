"""A `weights=` value is resolved once: a user's file is opened once by a build, for its format,
its stride placement and its layout, before its data is assigned; registry names and files
become the same record."""

import os
import sys

import h5py
import keras
import numpy as np
import pytest
from conftest import torch_state_dict
from references import random_keras_applications, write_keras2_weights
from safetensors.numpy import save_file

import keras_resnet as kr
from keras_resnet.pretrained import formats
from keras_resnet.pretrained.loading import save_weights
from keras_resnet.pretrained.request import resolve_weights

SHAPE = (64, 64, 3)
_OPENS: list = []  # (kind, path) of every open while a test counts; audit hooks cannot be removed
_COUNTING: list = []


def _audit(event: str, args: tuple) -> None:
    if _COUNTING and event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENS.append(("python", os.fsdecode(args[0])))


sys.addaudithook(_audit)


def write(fmt: str, path) -> keras.Model:
    """A ResNet-50 weights file in `fmt`; returns the model whose weights it holds."""
    if fmt == "keras_applications":
        source = random_keras_applications("ResNet50", include_top=False, seed=0)
        write_keras2_weights(source, path)
        return source
    source = kr.ResNet50(include_top=False, input_shape=SHAPE, variant="v1.5")
    save_weights(source, path) if fmt == "keras_resnet" else save_file(torch_state_dict(source), path)
    return source


@pytest.mark.parametrize("fmt, name", [("keras_resnet", "w.h5"), ("keras_applications", "ka.h5"),
                                       ("torch", "w.safetensors")])
def test_a_users_file_is_opened_once_per_build(tmp_path, monkeypatch, fmt, name):
    path = tmp_path / name
    write(fmt, path)

    class CountedFile(h5py.File):
        def __init__(self, file, *args, **kwargs):
            _OPENS.append(("hdf5", str(file)))
            super().__init__(file, *args, **kwargs)

    def counted_safe_open(file, *args, **kwargs):
        _OPENS.append(("safetensors", str(file)))
        return safe_open(file, *args, **kwargs)

    safe_open = formats.safe_open
    monkeypatch.setattr(h5py, "File", CountedFile)
    monkeypatch.setattr(formats, "safe_open", counted_safe_open)
    _OPENS.clear()
    _COUNTING.append(True)
    try:
        model = kr.ResNet50(weights=str(path), include_top=False, input_shape=SHAPE)
    finally:
        _COUNTING.clear()
    assert [kind for kind, opened in _OPENS if opened == str(path)] == ["safetensors" if fmt == "torch" else "hdf5"]
    strided = "conv3_block1_1_conv" if fmt == "keras_applications" else "conv3_block1_2_conv"
    assert model.get_layer(strided).strides == (2, 2)  # the variant read in that one opening
    with formats.open_weights(path) as opened:
        expected = opened.layers["conv1_conv"][0].read()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.get_layer("conv1_conv").kernel), expected, rtol=1e-6)


def test_registry_names_and_files_resolve_to_one_record(tmp_path):
    """What the builder reads is the same fields for either: the variant, the preprocessing,
    and what to load; a file's is open only inside the build."""
    with resolve_weights("cifar10", "cifar_resnet20", variant=None, shortcut="A", kind="basic") as registry:
        assert (registry.argument, registry.entry.name, registry.opened) == ("cifar10", "cifar10", None)
        assert registry.preprocessing == registry.entry.preprocessing
    save_weights(kr.CifarResNet(3), tmp_path / "w.h5")
    with resolve_weights(tmp_path / "w.h5", "cifar_resnet20", variant=None, shortcut="A", kind="basic") as file:
        assert (file.entry, file.preprocessing, file.opened.format) == (None, None, "keras_resnet")
        assert "conv1_conv" in file.opened.layers
    with pytest.raises(ValueError, match=r"`weights` must be None, a registry name \(cifar10, imagenet.*"
                                         r"received weights='nothere.h5'"):
        with resolve_weights("nothere.h5", "cifar_resnet20", variant=None, shortcut="A", kind="basic"):
            pass
