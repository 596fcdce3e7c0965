"""Every entry documents itself as keras.applications' do: `help()` names each argument it
takes, the registry weights of its model, and an example that runs as written."""

import inspect
import re

import numpy as np
import pytest

import keras_resnet as kr
from keras_resnet.pretrained import registry

ENTRIES = [name for name in kr.__all__ if name[0].isupper() and name not in ("Architecture", "CentreCrop", "PixelMean")]


@pytest.mark.parametrize("name", ENTRIES)
def test_help_names_every_argument_and_the_registry_weights(name):
    entry = getattr(kr, name)
    doc = inspect.getdoc(entry)
    args = doc.split("\nArgs:\n")[1].split("\n\n")[0]
    documented = re.findall(r"^    (\w+): ", args, flags=re.M)
    assert documented == list(inspect.signature(entry).parameters), name
    model = doc.split("Registry weights for ")[1].split(":")[0]
    assert {e.name for e in registry.entries() if e.model == model} == set(re.findall(
        r"'(\w+)' \(v1", doc.split("Registry weights for ")[1].split("\n\n")[0])), name


def run_example(entry, **names) -> dict:
    example = inspect.getdoc(entry).split("\nExample:\n")[1].split("\n\nReturns:")[0]
    namespace = {"keras_resnet": kr, **names}
    exec(inspect.cleandoc(example), namespace)
    return namespace


def test_examples_run_as_written(cifar_test, capsys):
    images, labels = cifar_test[0][:8], cifar_test[1][:8]
    pretrained = run_example(kr.CifarResNet20, images=images)
    assert pretrained["model"].name == "cifar_resnet20"
    assert pretrained["scores"].shape == (8, 10) and "cat" in capsys.readouterr().out  # image 0 is a cat
    trained = run_example(kr.CifarPlainNet20, images=images.astype("float32"), labels=labels)
    assert np.isfinite(trained["model"].history.history["loss"]).all()
