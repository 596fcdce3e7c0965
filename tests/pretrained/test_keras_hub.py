"""keras-hub ResNet presets load into the matching builder: presets written by keras-hub itself
(`save_to_preset`, in a subprocess with keras_hub on its path: keras-hub needs tensorflow-text,
which pulls full TensorFlow, so it is not installed beside the package) in the configurations of
its published presets, on random weights and BN statistics, give keras-hub's own features and
logits; what we do not build is refused in one line naming the preset."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from hub_server import serving

import keras_resnet as kr
from keras_resnet.pretrained import keras_hub_presets
from keras_resnet.pretrained.registry import Preprocessing
from keras_resnet.pretrained.request import resolve_weights

KERAS_HUB = "KERAS_RESNET_KERAS_HUB_PATH"  # a `pip install --target` folder holding keras_hub (docs/weights.md)
SHAPE = (64, 64, 3)
# keras-hub's side: its presets' configurations (keras_hub/src/utils/timm/convert_resnet.py for resnet_*
# and resnet_v2_*, the deep stem and "vd" blocks of resnet_vd_*), random weights and BN statistics, the
# backbone's features on one 64x64 input; resnet_18 as a 5-class ResNetImageClassifier with the image
# converter of keras-hub's ImageNet presets (timm's mean and std), also run on a raw 224x224 image.
MAKE = r"""
import sys
from pathlib import Path

import keras
import keras_hub
import numpy as np

out = Path(sys.argv[1])
stem = dict(input_conv_filters=[64], input_conv_kernel_sizes=[7])
deep = dict(input_conv_filters=[32, 32, 64], input_conv_kernel_sizes=[3, 3, 3])
stages = dict(stackwise_num_filters=[64, 128, 256, 512], stackwise_num_strides=[1, 2, 2, 2])
configs = {
    "resnet_18": dict(**stem, **stages, stackwise_num_blocks=[2, 2, 2, 2], block_type="basic_block"),
    "resnet_50": dict(**stem, **stages, stackwise_num_blocks=[3, 4, 6, 3], block_type="bottleneck_block"),
    "resnet_vd_50": dict(**deep, **stages, stackwise_num_blocks=[3, 4, 6, 3], block_type="bottleneck_block_vd"),
    "resnet_v2_50": dict(**stem, **stages, stackwise_num_blocks=[3, 4, 6, 3], block_type="bottleneck_block",
                         use_pre_activation=True),
    "resnet_vd_18": dict(**deep, **stages, stackwise_num_blocks=[2, 2, 2, 2], block_type="basic_block_vd"),
    # timm's resnet26t (tiered deep stem, "vd" shortcuts), which keras-hub's config expresses
    "resnet_t_26": dict(input_conv_filters=[24, 32, 64], input_conv_kernel_sizes=[3, 3, 3], **stages,
                        stackwise_num_blocks=[2, 2, 2, 2], block_type="bottleneck_block_vd"),
}
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, (1, 64, 64, 3)).astype("float32")
np.save(out / "x.npy", x)
for name, config in configs.items():
    backbone = keras_hub.models.ResNetBackbone(**config)
    for layer in backbone.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c),
                               rng.uniform(0.5, 2, c)])
        elif isinstance(layer, keras.layers.Conv2D):
            shape = layer.kernel.shape
            layer.set_weights([rng.normal(0, np.sqrt(2 / np.prod(shape[:3])), shape)])
    np.save(out / f"{name}.npy", keras.ops.convert_to_numpy(backbone(x)))
    if name != "resnet_18":
        backbone.save_to_preset(str(out / name))
        continue
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    converter = keras_hub.layers.ResNetImageConverter(
        image_size=(224, 224), scale=[1 / 255 / s for s in std], offset=[-m / s for m, s in zip(mean, std)])
    task = keras_hub.models.ResNetImageClassifier(
        backbone=backbone, num_classes=5,
        preprocessor=keras_hub.models.ResNetImageClassifierPreprocessor(image_converter=converter))
    task.output_dense.set_weights([rng.normal(0, 0.05, (512, 5)), rng.normal(0, 0.1, 5)])
    task.save_to_preset(str(out / name))
    raw = rng.integers(0, 256, (1, 224, 224, 3)).astype("float32")
    np.save(out / "raw.npy", raw)
    np.save(out / "logits.npy", keras.ops.convert_to_numpy(task(x)))
    np.save(out / "raw_logits.npy", keras.ops.convert_to_numpy(task(converter(raw))))
keras_hub.models.VGGBackbone(stackwise_num_repeats=[1], stackwise_num_filters=[8],
                             image_shape=(32, 32, 3)).save_to_preset(str(out / "vgg"))
"""


@pytest.fixture(scope="module")
def presets(tmp_path_factory) -> Path:
    """keras-hub's presets and outputs, made once: skipped where keras-hub is not set up (a
    developer's machine), failed where it must be (CI, scripts/test.sh)."""
    path = os.environ.get(KERAS_HUB)
    if not path:
        why = f"{KERAS_HUB} is not set (a folder with keras_hub installed; docs/weights.md, 'keras-hub presets')"
        if os.environ.get("CI") or os.environ.get("KERAS_RESNET_EXPECT_INSTALLED"):
            pytest.fail(why)
        pytest.skip(why)
    out = tmp_path_factory.mktemp("keras_hub")
    env = {**os.environ, "PYTHONPATH": path, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", MAKE, str(out)], env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, f"keras-hub's presets were not made ({KERAS_HUB}={path}):\n{result.stderr[-3000:]}"
    return out


def built(presets: Path, preset: str, model: str, **kwargs):
    return kr.build_by_id(model, weights=str(presets / preset), **{"input_shape": SHAPE, **kwargs})


def assert_same(ours: np.ndarray, theirs: np.ndarray) -> None:
    """Equal to float32 round-off at the outputs' scale (measured: 1.6e-6 of it for ResNet-50)."""
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * np.abs(theirs).max())


@pytest.mark.parametrize("preset, model", [("resnet_18", "resnet18"), ("resnet_50", "resnet50"),
                                           ("resnet_vd_50", "resnet50d"), ("resnet_t_26", "resnet26t")])
def test_a_preset_gives_keras_hubs_features(presets, preset, model):
    ours = built(presets, preset, model, include_top=False)
    assert_same(ours.predict(np.load(presets / "x.npy"), verbose=0), np.load(presets / f"{preset}.npy"))


def test_a_classifier_preset_gives_keras_hubs_logits_and_preprocessing(presets):
    """The classifier head from task.weights.h5; the image converter's normalisation and
    224x224 resize (crop to the aspect ratio) as include_preprocessing=True: raw 0-255 in."""
    with resolve_weights(presets / "resnet_18", "resnet18", variant=None, shortcut="B", kind="basic") as source:
        assert source.preprocessing == Preprocessing("torch", 224, 1.0)
    ours = built(presets, "resnet_18", "resnet18", classes=5, classifier_activation=None)
    assert_same(ours.predict(np.load(presets / "x.npy"), verbose=0), np.load(presets / "logits.npy"))
    raw = built(presets, "resnet_18", "resnet18", classes=5, classifier_activation=None, include_preprocessing=True,
                input_shape=None)
    assert_same(raw.predict(np.load(presets / "raw.npy"), verbose=0), np.load(presets / "raw_logits.npy"))


def test_a_preset_on_the_hugging_face_hub_loads_by_its_handle(presets, tmp_path):
    """`hf://keras/<preset>`, as keras-hub publishes its presets there: the preset's files fetched
    through huggingface_hub (a Hub on 127.0.0.1, `hub_server`), its classifier included."""
    pytest.importorskip("huggingface_hub")
    root = tmp_path / "hub"
    shutil.copytree(presets / "resnet_18", root / "keras" / "resnet_18_imagenet" / "main")
    with serving(root, tmp_path / "cache") as server:
        ours = kr.build_by_id("resnet18", weights="hf://keras/resnet_18_imagenet", input_shape=SHAPE, classes=5,
                              classifier_activation=None)
        fetched = {path.rsplit("/", 1)[-1] for method, path in server.log if method == "GET"}
    assert_same(ours.predict(np.load(presets / "x.npy"), verbose=0), np.load(presets / "logits.npy"))
    assert {"config.json", "model.weights.h5", "task.json", "task.weights.h5"} <= fetched


REFUSED = {  # what is refused, before a weight is read: (preset, model, arguments, message)
    "keras-hub's ResNetV2": ("resnet_v2_50", "resnet50v2", {}, r"keras-hub's ResNetV2 \(use_pre_activation=True"),
    "basic vd blocks": ("resnet_vd_18", "resnet18", {}, r"block_type='basic_block_vd' is not built here"),
    "another keras-hub model": ("vgg", "resnet50", {}, r"describes 'keras_hub>VGGBackbone', not a keras-hub ResNet"),
    "another model of ours": ("resnet_50", "resnet18", {}, r"is a keras-hub preset of resnet50, not of resnet18: "
                                                           r"build it with kr.build_by_id\('resnet50'"),
    "another shortcut": ("resnet_50", "resnet50", {"shortcut": "C"}, r"has option B shortcuts; received shortcut='C'"),
    "a backbone's top": ("resnet_50", "resnet50", {"include_top": True},
                         r"has no classifier for include_top=True: it is a backbone preset, headless"),
    "other classes": ("resnet_18", "resnet18", {"include_top": True}, r"need classes=5; received classes=1000"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_what_we_do_not_build_is_refused_in_one_line(presets, case):
    preset, model, kwargs, message = REFUSED[case]
    with pytest.raises(ValueError, match=rf"^weights='{re.escape(str(presets / preset))}'.*{message}") as refused:
        built(presets, preset, model, **{"include_top": False, **kwargs})
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("fault", ["no weights file", "another preset's weights", "Keras before 3.6"])
def test_a_damaged_preset_is_refused_naming_it(presets, tmp_path, fault):
    """Nothing assigned: the config's model and the file's layers must agree, layer by layer."""
    preset = tmp_path / "preset"
    shutil.copytree(presets / "resnet_vd_50", preset)
    weights = preset / "model.weights.h5"
    if fault == "no weights file":
        weights.unlink()
        message = r"model.weights.h5 is missing: a keras-hub preset keeps its weights there"
    elif fault == "another preset's weights":
        shutil.copy(presets / "resnet_50" / "model.weights.h5", weights)
        message = r"weight 'conv1_1_conv/kernel' has shape \(7, 7, 3, 64\) there, \(3, 3, 3, 32\) in the model"
    else:  # the `vars` groups without the layer names Keras 3.6 began to record
        with h5py.File(weights, "a") as f:
            for group in f["layers"].values():
                group["vars"].attrs.pop("name", None)
        message = r"records no layer name, as Keras before 3.6 wrote its files"
    with pytest.raises(ValueError, match=rf"{re.escape(str(preset))}.*{message}"):
        kr.build_by_id("resnet50d", weights=str(preset), include_top=False, input_shape=SHAPE)


# --- without keras-hub ------------------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    (None, r"is not a keras-hub preset: .* has no config.json"),
    (b"{", r"config.json is not JSON"),
    (b"[1, 2]", r"config.json holds a list, not a keras-hub config"),
    (b'{"epochs": 90}', r"config.json names no keras-hub class, not a keras-hub ResNet"),  # a training run's
    (b" " * (keras_hub_presets.CONFIG_BYTES + 1), r"more than the 1,048,576 a keras-hub preset's JSON file takes"),
])
def test_a_directory_that_is_no_preset_is_refused(tmp_path, content, message):
    if content is not None:
        (tmp_path / "config.json").write_bytes(content)
    with pytest.raises(ValueError, match=rf"^weights='{re.escape(str(tmp_path))}'.*{message}"):
        kr.ResNet50(weights=str(tmp_path), include_top=False, input_shape=SHAPE)


def test_kaggle_handles(tmp_path):
    """Checked before kagglehub is asked; without kagglehub, named as what to install."""
    with pytest.raises(ValueError, match=r"weights='kaggle://keras/resnetv1' is not a Kaggle model handle"):
        kr.ResNet50(weights="kaggle://keras/resnetv1", include_top=False)
    try:
        import kagglehub  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"needs kagglehub \(pip install kagglehub\)"):
            kr.ResNet50(weights="kaggle://keras/resnetv1/keras/resnet_50_imagenet/3", include_top=False)
