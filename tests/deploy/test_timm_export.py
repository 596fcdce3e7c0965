"""The timm layout (`deploy.timm_export.save_timm`) against timm itself, run in its own environment
(tests/timm_reference.py; conftest's `timm_python`): models of ours written as timm folders load in
timm with our logits, and folders timm wrote, read into ours and written back, load with timm's
logits and its config.json and state-dict layout. One net of each kind: basic blocks, the deep stem
and average-pool shortcuts of ResNet-D, grouped convolutions; 64 x 64 inputs."""

import json

import numpy as np
import pytest
from conftest import REPO, keras_resnet_main, randomise_batchnorm, timm_reference
from references import assert_same_outputs, shapes_only
from safetensors import safe_open

import keras_resnet as kr
from keras_resnet.deploy.timm_export import save_timm
from keras_resnet.models.builder import build_by_id
from keras_resnet.pretrained.timm_configs import supported_architectures

SIZE, CLASSES = 64, 10
TAGS = {"resnet18": "tv_in1k", "resnet50d": "ra2_in1k", "resnext50_32x4d": "a1h_in1k"}  # published timm tags
PICTURE = REPO / "examples" / "results" / "explain_cifar10.png"  # a real picture for timm's eval transform


def _ours(arch: str, **kwargs):
    return build_by_id(arch, variant="v1.5", input_shape=(SIZE, SIZE, 3), classes=CLASSES, classifier_activation=None,
                       **kwargs)


@pytest.fixture(scope="module")
def folders(timm_python, tmp_path_factory):
    """For each net: timm's folder (`timm-`), ours with random weights and BN written by save_timm
    (`ours-`), and timm's read into ours (weights= its model.safetensors) and written back with its
    pretrained_cfg (`back-`); then timm's logits of each, its eval transform of a picture for one of
    ours, and whether it knows our timm ids: all in one process of the timm environment."""
    root = tmp_path_factory.mktemp("timm")
    images = np.random.default_rng(0).normal(size=(2, SIZE, SIZE, 3)).astype("float32")
    np.save(root / "images.npy", images.transpose(0, 3, 1, 2))  # timm's NCHW
    keras_logits = {}
    with timm_reference(timm_python) as timm:  # timm imports while ours are built
        for seed, arch in enumerate(TAGS):
            model = randomise_batchnorm(_ours(arch), seed)
            save_timm(model, root / f"ours-{arch}")
            keras_logits["ours", arch] = model.predict(images, verbose=0)
        timm(*(("make-repo", arch, tag, root / f"timm-{arch}", CLASSES, seed)
               for seed, (arch, tag) in enumerate(TAGS.items())))
        for arch in TAGS:
            loaded = _ours(arch, weights=str(root / f"timm-{arch}" / "model.safetensors"))
            config = json.loads((root / f"timm-{arch}" / "config.json").read_text())
            save_timm(loaded, root / f"back-{arch}", pretrained_cfg=config["pretrained_cfg"])
            keras_logits["back", arch] = loaded.predict(images, verbose=0)
        *answers, transform, known = timm(
            *(("logits", root / f"{kind}-{arch}", root / "images.npy", root / f"{kind}-{arch}.npy")
              for kind in ("timm", "ours", "back") for arch in TAGS),
            ("transform", root / "ours-resnet18", PICTURE, root / "transform.npy"),
            ("is-model", *supported_architectures()))
    assert [answer["architecture"] for answer in answers] == [*TAGS] * 3
    timm_logits = {(kind, arch): np.load(root / f"{kind}-{arch}.npy") for kind in ("timm", "ours", "back")
                   for arch in TAGS}
    return root, keras_logits, timm_logits, transform, known


@pytest.mark.slow
@pytest.mark.parametrize("arch", TAGS)
def test_timm_runs_our_export_with_our_logits(folders, arch):
    _, keras_logits, timm_logits, *_ = folders
    assert timm_logits["ours", arch].shape == (2, CLASSES)
    assert_same_outputs(timm_logits["ours", arch], keras_logits["ours", arch])


@pytest.mark.slow
@pytest.mark.parametrize("arch", TAGS)
def test_a_timm_folder_read_and_written_back_keeps_timms_logits(folders, arch):
    """timm's folder -> ours (a fine-tuning's starting point) -> a timm folder again: timm's own
    logits, which ours computed too."""
    _, keras_logits, timm_logits, *_ = folders
    assert_same_outputs(keras_logits["back", arch], timm_logits["timm", arch])
    assert_same_outputs(timm_logits["back", arch], timm_logits["timm", arch])


@pytest.mark.slow
@pytest.mark.parametrize("arch", TAGS)
def test_written_back_folder_is_laid_out_as_timm_writes_it(folders, arch):
    """The same state-dict keys, shapes and dtypes as timm's save_for_hf file (num_batches_tracked
    int64 scalars included) and the same config.json, but for the pretrained_cfg's num_classes:
    timm leaves the tag's 1000 there (its reader takes the top-level one), ours says the model's."""
    root, *_ = folders

    def layout(folder):
        with safe_open(str(root / folder / "model.safetensors"), "np") as f:
            return {key: (f.get_slice(key).get_shape(), f.get_slice(key).get_dtype()) for key in f.keys()}

    assert layout(f"back-{arch}") == layout(f"timm-{arch}")
    ours, timms = (json.loads((root / f"{kind}-{arch}" / "config.json").read_text()) for kind in ("back", "timm"))
    assert timms["num_classes"] == ours["num_classes"] == ours["pretrained_cfg"].pop("num_classes") == CLASSES
    assert timms["pretrained_cfg"].pop("num_classes") == 1000
    assert ours == timms


@pytest.mark.slow
def test_timm_reads_our_input_settings(folders):
    """timm's eval transform resolved from our config.json (a model without built-in preprocessing:
    its input size, timm's ResNet defaults), applied to a real picture."""
    root, *_, transform, _ = folders
    assert transform == {"input_size": [3, SIZE, SIZE], "interpolation": "bilinear", "crop_pct": 0.875,
                         "crop_mode": "center", "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
    assert np.load(root / "transform.npy").shape == (3, SIZE, SIZE)


@pytest.mark.slow
def test_timm_knows_every_architecture_we_export(folders):
    *_, known = folders
    assert known == dict.fromkeys(supported_architectures(), True)
    assert {"resnet50", "resnet50d", "wide_resnet50_2"} <= set(known)


def test_the_built_in_preprocessing_becomes_the_pretrained_cfg(tmp_path):
    """A centre crop and a normalisation built in (include_preprocessing) are what timm's
    pretrained_cfg holds: the crop's size, fraction and interpolation, the mean and std on 0-1 pixels;
    `pretrained_cfg` entries go over them."""
    model = kr.ResNet18(include_preprocessing="tf", input_shape=(None, None, 3))
    save_timm(model, tmp_path / "r18", pretrained_cfg={"license": "apache-2.0", "crop_pct": 0.95})
    config = json.loads((tmp_path / "r18" / "config.json").read_text())
    assert config["architecture"] == "resnet18" and config["num_features"] == 512
    assert config["pretrained_cfg"] | {"mean": None} == {
        "input_size": [3, 224, 224], "fixed_input_size": False, "interpolation": "bilinear", "crop_pct": 0.95,
        "crop_mode": "center", "mean": None, "std": [0.5, 0.5, 0.5], "pool_size": [7, 7], "num_classes": 1000,
        "first_conv": "conv1", "classifier": "fc", "license": "apache-2.0"}
    assert config["pretrained_cfg"]["mean"] == [0.5, 0.5, 0.5]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r18"]  # no temporary folder left beside it


@pytest.mark.parametrize("build, said", [
    (lambda: kr.ResNet50(variant="v1"), "strides as variant 'v1'"),
    (lambda: kr.ResNet18(shortcut="C"), "its layers 'conv2_block1_0_conv' (Conv2D)"),
    (lambda: kr.ResNet18(include_top=False), "no classifier layer 'predictions'"),
    (lambda: kr.ResNet50(variant="v1.5", include_preprocessing="caffe"), "of input preprocessing timm holds"),
    (lambda: kr.PlainNet18(), "received architecture='plainnet18' (timm has no plain"),
    (lambda: kr.CifarResNet(3), "received architecture='cifar_resnet20'"),
    (lambda: kr.ResNet50V2(), "received architecture='resnet50v2'"),
    (lambda: kr.ResNet18(name="mine"), "None takes the model's name, which is not such an id"),
], ids=["v1", "shortcut-C", "headless", "caffe", "plain", "cifar", "v2", "renamed"])
def test_refuses_what_timm_does_not_build(tmp_path, build, said):
    """Refused before anything is written, naming what differs (built without weight memory)."""
    with pytest.raises(ValueError) as refused:
        save_timm(shapes_only(build), tmp_path / "out")
    assert said in str(refused.value)
    assert not list(tmp_path.iterdir())


def test_replaces_only_an_earlier_timm_folder(tmp_path):
    """Another folder is left alone; an earlier export is replaced whole, and reads back into ours
    (the torch reader, as `weights=` reads a timm file) weight for weight."""
    model = shapes_only(kr.ResNet18)
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("mine")
    with pytest.raises(ValueError, match="exists and is a directory that is not a timm export"):
        save_timm(model, notes)
    assert [p.name for p in notes.iterdir()] == ["todo.txt"]
    model = kr.ResNet18(input_shape=(SIZE, SIZE, 3), classes=CLASSES)
    save_timm(model, tmp_path / "r18")
    save_timm(randomise_batchnorm(model), tmp_path / "r18")  # an earlier export: replaced whole
    read = kr.ResNet18(weights=str(tmp_path / "r18" / "model.safetensors"), input_shape=(SIZE, SIZE, 3),
                       classes=CLASSES)
    for ours, back in zip(model.weights, read.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(back), np.asarray(ours), err_msg=ours.path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "r18"]


def test_the_command_line_writes_a_timm_folder(tmp_path, capsys):
    """`keras-resnet export MODEL OUTPUT --format timm`: a model id is built as timm's net (v1.5)."""
    result = keras_resnet_main(capsys, "export", "resnet50", tmp_path / "r50", "--format", "timm")
    assert result.returncode == 0 and "local-dir:" in result.stdout, result.stderr
    assert json.loads((tmp_path / "r50" / "config.json").read_text())["architecture"] == "resnet50"
    for argv, said in [(["plainnet18", tmp_path / "p", "--format", "timm"], "MODEL must be a model id that timm"),
                       (["resnet18", tmp_path / "q", "--format", "timm", "--images", tmp_path],
                        "--images: not for --format timm"),
                       (["resnet18", tmp_path / "q.onnx", "--format", "timm"], "timm ones are directories")]:
        result = keras_resnet_main(capsys, "export", *argv)
        assert result.returncode == 2 and said in result.stderr, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["r50"]
