"""Models save and reload (`safe_mode=True`: no Lambda) and run the same on TF and torch."""

from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import randomise_batchnorm, run_python
from references import miniature

import keras_resnet as kr
from keras_resnet.pretrained.loading import save_weights


@pytest.mark.parametrize(
    "build",
    [lambda: kr.CifarResNet(3), lambda: kr.ResNet18(input_shape=(64, 64, 3)),
     lambda: kr.ResNet50(variant="v1.5", shortcut="A", include_top=False, input_shape=(64, 64, 3)),
     lambda: kr.CifarResNet20(weights="cifar10")],
    ids=["cifar-A", "resnet18-B", "resnet50-v1.5-A", "cifar20-pretrained-preprocessing"],
)
def test_keras_file_round_trip(tmp_path, build):
    model = build()
    x = np.random.default_rng(0).uniform(size=(2,) + tuple(model.input_shape[1:])).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_timms_crop_round_trip(tmp_path):
    """timm's order of the crop (`resize_first`, as `weights="hf://..."` bakes it) saves and loads,
    and takes images of any size and aspect, in a compiled graph too."""
    model = kr.CifarResNet(1, input_shape=(None, None, 3),
                           include_preprocessing=kr.CentreCrop(32, 0.9, "bicubic", resize_first=True))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.get_layer(model.layers[1].name).get_config() == model.layers[1].get_config()
    for shape in ((2, 40, 52, 3), (1, 61, 35, 3)):
        x = np.random.default_rng(0).uniform(0, 255, shape).astype("float32")
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


FAMILY = ("resnext50_32x4d", "resnet50v2", "resnet50d")  # with one block a stage: their layers, not their depth


@pytest.mark.slow
def test_same_outputs_on_torch_backend(tmp_path):
    """Weights written under TensorFlow give the same outputs under the torch backend (one torch
    process checks them all): the shipped CIFAR net, ResNet-50 v1.5 (whose `.keras` file loads
    there too), and the family's grouped convolutions, V2's biases and subsampling, and
    ResNet-D's average pool at odd sizes (104x104: conv4_x and conv5_x pool 13x13 and 7x7 maps,
    with a partial window at the edge)."""
    model = kr.CifarResNet(3, weights="cifar10", classifier_activation=None)  # raw images, normalised inside
    raw = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)).astype("float32")
    np.save(tmp_path / "raw.npy", raw)
    np.save(tmp_path / "tf.npy", model.predict(raw, verbose=0))
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    big = kr.ResNet50(variant="v1.5", input_shape=(64, 64, 3), classifier_activation=None)
    save_weights(big, tmp_path / "r50.h5")
    np.save(tmp_path / "tf50.npy", big.predict(x.repeat(2, 1).repeat(2, 2), verbose=0))
    x104 = np.random.default_rng(0).normal(size=(2, 104, 104, 3)).astype("float32")
    np.save(tmp_path / "x104.npy", x104)
    for name in FAMILY:
        net = randomise_batchnorm(miniature(name, input_shape=(104, 104, 3), classifier_activation=None))
        save_weights(net, tmp_path / f"{name}.h5")
        np.save(tmp_path / f"{name}.npy", net.predict(x104, verbose=0))
    out = run_python(
        f"""
import sys; sys.path.insert(0, {str(Path(__file__).parents[1])!r})
import keras, numpy as np, keras_resnet as kr
from references import miniature
assert keras.backend.backend() == "torch"
d = {str(tmp_path)!r}
x = np.load(d + "/x.npy")
m = kr.CifarResNet(3, weights="cifar10", classifier_activation=None)
np.testing.assert_allclose(m.predict(np.load(d + "/raw.npy"), verbose=0), np.load(d + "/tf.npy"), rtol=1e-4, atol=1e-4)
big = kr.ResNet50(variant="v1.5", input_shape=(64, 64, 3), classifier_activation=None, weights=d + "/r50.h5")
ref = np.load(d + "/tf50.npy")  # untrained BN: logits ~1e3, so compare relative to their scale
out = big.predict(x.repeat(2, 1).repeat(2, 2), verbose=0)
np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5 * np.abs(ref).max())
big.save(d + "/t.keras"); keras.models.load_model(d + "/t.keras", safe_mode=True)
x104 = np.load(d + "/x104.npy")
for name in {FAMILY!r}:
    model = miniature(name, input_shape=(104, 104, 3), classifier_activation=None, weights=f"{{d}}/{{name}}.h5")
    ref = np.load(f"{{d}}/{{name}}.npy")
    np.testing.assert_allclose(model.predict(x104, verbose=0), ref, rtol=0, atol=1e-4 * np.abs(ref).max())
print("torch ok")
""",
        KERAS_BACKEND="torch",
    )
    assert "torch ok" in out
