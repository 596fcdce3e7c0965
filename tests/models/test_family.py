"""The family beyond the paper's nets (keras' V2, ResNeXt, Wide ResNet, ResNet-D and the
pre-activation CIFAR nets), built by the one builder: their references' layers, parameter
counts and multiply-adds, their published weight layouts, and what the paper's nets offer
(feature taps, folding, `.keras` files, export, training). Parity with keras.applications V2
on its own files is in test_keras_applications.py; under the torch backend, in
test_serialization.py; with torchvision and timm, which cannot install beside CI's torch, in
benchmarks/reference/family_parity.py (docs/weights.md)."""

import math
import pickle
import shutil

import keras
import numpy as np
import pytest
from conftest import keras_resnet_main, randomise_batchnorm, torch_state_dict
from references import shapes_only
from safetensors.numpy import save_file

import keras_resnet as kr
from keras_resnet.core.architectures import FAMILY
from keras_resnet.deploy.export import export_model
from keras_resnet.models.preprocessing import preprocess_input
from keras_resnet.models.table import paper_table
from keras_resnet.pretrained import registry

# torchvision's published meta (weights enums): num_params and _ops (GFLOPS: 10^9 multiply-adds at 224)
TORCHVISION = {
    "resnext50_32x4d": (25_028_904, 4.23),
    "resnext101_32x8d": (88_791_336, 16.414),
    "resnext101_64x4d": (83_455_272, 15.46),
    "wide_resnet50_2": (68_883_240, 11.398),
    "wide_resnet101_2": (126_886_696, 22.753),
}
# sum(p.numel() for p in timm.create_model(id).parameters()), timm 1.0.29; all trainable
TIMM_PARAMS = {
    "resnet18d": 11_708_744, "resnet34d": 21_816_904, "resnet26": 15_995_176, "resnet26d": 16_014_408,
    "resnet50d": 25_576_264, "resnet101d": 44_568_392, "resnet152d": 60_212_040, "resnet200": 64_673_832,
    "resnet200d": 64_693_064, "resnet50c": 25_576_264, "resnet101c": 44_568_392, "resnet152c": 60_212_040,
    "resnet50s": 25_680_808, "resnet101s": 44_672_936, "resnet152s": 60_316_584, "resnet10t": 5_435_488,
    "resnet14t": 10_081_632, "resnet26t": 16_011_872, "resnet50t": 25_573_728, "resnext50d_32x4d": 25_048_136,
    "resnext101_32x4d": 44_177_704, "resnext101_32x16d": 194_026_792, "resnext101_32x32d": 468_530_472,
}
KERAS_V2_PARAMS = {"resnet50v2": 25_568_360, "resnet101v2": 44_577_896, "resnet152v2": 60_236_904}
# He et al. (2016), Table 3 (CIFAR-10): parameters of the pre-activation nets, in millions
PAPER_PREACT = {(18, False): 1.7, (18, True): 1.7, (111, True): 10.2}


def images(n: int = 2, size: int = 64) -> np.ndarray:
    return np.random.default_rng(1).uniform(-1, 1, (n, size, size, 3)).astype("float32")


@pytest.mark.parametrize("depth", [50, 152])
def test_v2_has_keras_applications_layers_and_weights(depth):
    """Every weighted layer of keras.applications' V2 under the same name with the same
    weight shapes (conv biases included), and nothing else: its files load by name."""
    theirs = shapes_only(getattr(keras.applications, f"ResNet{depth}V2"), weights=None)
    ours = shapes_only(getattr(kr, f"ResNet{depth}V2"))
    shapes = {m: {layer.name: [tuple(w.shape) for w in layer.weights] for layer in m.layers if layer.weights}
              for m in (theirs, ours)}
    assert shapes[ours] == shapes[theirs]
    assert kr.count_trainable_params(ours) == kr.count_trainable_params(theirs)
    assert ours.output_shape == theirs.output_shape == (None, 1000)


@pytest.mark.slow
def test_table_lists_the_family_beside_its_references():
    """`keras-resnet table --family`: each net's parameters and multiply-adds as built, equal
    to torchvision's published ones, keras.applications' and timm's (every timm net we build)."""
    rows = {r["model"]: r for r in paper_table("v1", False, [], family=True)}
    for name, (params, gflops) in TORCHVISION.items():
        assert rows[name]["params"] == params and f"{params:,} torchvision" == rows[name]["reference"]
        assert abs(rows[name]["gmacs"] - gflops) <= 0.01
    for name, params in {**KERAS_V2_PARAMS, **TIMM_PARAMS}.items():
        assert rows[name]["params"] == params and rows[name]["reference"].startswith(f"{params:,} ")
    assert set(rows) >= set(FAMILY)
    assert rows["cifar_preact_resnet164"]["layers"] == 164 and rows["cifar_preact_resnet1001"]["paper_params_m"] == 10.2
    assert {"resnet50", "resnet152"} <= set(rows)


def test_resnet50d_is_timms_resnet50d():
    model = kr.ResNet50D()
    # deep stem 3x3 convs 32, 32, 64 (the first strided); average pool then 1x1 on the strided shortcuts
    assert [model.get_layer(f"conv1_{i}_conv").filters for i in (1, 2, 3)] == [32, 32, 64]
    assert model.get_layer("conv1_1_conv").strides == (2, 2)
    assert model.get_layer("conv3_block1_0_pool").pool_size == (2, 2)
    assert model.get_layer("conv3_block1_0_conv").strides == (1, 1)
    assert "conv2_block1_0_pool" not in [layer.name for layer in model.layers]  # stride 1: no pool (timm)


TIMM_STEMS = {  # timm's resnet.py: stem_width 32 ("deep"), 64 ("s"), 32 as "deep_tiered" (3 * 32 // 4 first)
    "resnet50c": ((32, 32, 64), "B"), "resnet50s": ((64, 64, 128), "B"), "resnet10t": ((24, 32, 64), "D"),
    "resnet26t": ((24, 32, 64), "D"), "resnet18d": ((32, 32, 64), "D"), "resnext50d_32x4d": ((32, 32, 64), "D"),
}


@pytest.mark.parametrize("model", TIMM_STEMS)
def test_timm_letters_have_timms_stems_and_shortcuts(model):
    """The deep stem's widths (the first conv strided), and the shortcut: B a strided 1x1
    projection, D an average pool then a stride-1 projection (none at stride 1, as timm's
    Identity); the stride in the 3x3 (v1.5) as every timm net."""
    widths, shortcut = TIMM_STEMS[model]
    net = shapes_only(kr.build_by_id, model)
    assert [net.get_layer(f"conv1_{i}_conv").filters for i in (1, 2, 3)] == list(widths)
    assert net.get_layer("conv1_1_conv").strides == (2, 2) and net.get_layer("conv1_2_conv").strides == (1, 1)
    names = {layer.name for layer in net.layers}
    assert ("conv3_block1_0_pool" in names) == (shortcut == "D") and "conv2_block1_0_pool" not in names
    assert net.get_layer("conv3_block1_0_conv").strides == ((1, 1) if shortcut == "D" else (2, 2))
    assert net.get_layer("conv3_block1_2_conv" if "conv3_block1_3_conv" in names else "conv3_block1_1_conv").strides \
        == (2, 2)
    if "conv2_block1_0_conv" in names:  # bottlenecks: a projection from the stem's channels
        assert net.get_layer("conv2_block1_0_conv").input.shape[-1] == widths[-1]


@pytest.mark.parametrize(("n", "bottleneck"), [pytest.param(*key, marks=pytest.mark.slow) if key[0] > 100 else key
                                              for key in PAPER_PREACT])
def test_preact_cifar_nets_have_the_papers_size(n, bottleneck):
    """The paper counts convolution and classifier weights: ours round to its numbers; the
    exact trainable counts (BN and biases too) are in docs/models.md."""
    model = shapes_only(kr.CifarPreActResNet, n, bottleneck=bottleneck)
    depth = (9 if bottleneck else 6) * n + 2
    assert model.name == f"cifar_preact_resnet{depth}{'' if bottleneck else '_basic'}"
    assert shapes_only(kr.build_by_id, model.name).count_params() == model.count_params()
    kernels = sum(math.prod(layer.kernel.shape) for layer in model.layers
                  if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)))
    assert round(kernels / 1e6, 1) == PAPER_PREACT[(n, bottleneck)]
    assert model.output_shape == (None, 10) and model.get_layer("post_bn")


def test_unsupported_combinations_name_the_argument():
    with pytest.raises(ValueError, match=r"`shortcut` must be one of \['B', 'C'\] for resnext50_32x4d.*'A'"):
        kr.ResNeXt50_32x4d(shortcut="A")
    with pytest.raises(ValueError, match=r"`shortcut` must be one of \['B'\] for resnet50v2"):
        kr.ResNet50V2(shortcut="C")
    with pytest.raises(ValueError, match=r"`shortcut` must be one of \['D'\] for resnet50d"):
        kr.ResNet50D(shortcut="B")
    with pytest.raises(ValueError, match=r"`shortcut` must be one of \['A', 'B', 'C'\] for resnet50; .*'D'"):
        kr.ResNet50(shortcut="D")
    with pytest.raises(ValueError, match=r"`shortcut` must be one of \['B', 'C'\] for resnet50c .*'D'"):
        kr.ResNet50C(shortcut="D")
    with pytest.raises(ValueError, match=r"`model` must be .*received model='plainnet26'"):
        kr.build_by_id("plainnet26")  # timm's depths have no plain twins
    with pytest.raises(ValueError, match=r"`variant` must be None or 'v1.5'; received variant='v1'"):
        kr.build_resnet(FAMILY["wide_resnet50_2"], variant="v1")
    with pytest.raises(ValueError, match="`residual` must be True"):
        kr.build_resnet(FAMILY["resnet50v2"], residual=False)
    with pytest.raises(ValueError, match=r"`bottleneck` must be True or False; received bottleneck='yes'"):
        kr.CifarPreActResNet(18, bottleneck="yes")
    with pytest.raises(ValueError, match=r"`n` must be an integer >= 1"):
        kr.CifarPreActResNet(0)
    with pytest.raises(ValueError, match=r"weights='imagenet_v2' exist for .*not for 'resnext101_64x4d'"):
        kr.ResNeXt101_64x4d(weights="imagenet_v2")
    for model in ("cifar_preact_resnet111", "cifar_preact_resnet21_basic", "resnext50", "wide_resnet50_3"):
        with pytest.raises(ValueError, match=r"`model` must be .*cifar_preact_resnet\{9n\+2\}"):
            kr.build_by_id(model)


@pytest.mark.parametrize("builder", [kr.ResNet50V2, kr.ResNeXt50_32x4d, kr.ResNet50D], ids=lambda b: b.__name__)
def test_feature_taps_have_strides_4_to_32(builder):
    """C2-C5 at strides 4-32: keras' V2 strides in a stage's last block, so its taps are the
    blocks before (conv2_block2_out, ...), still at their stage's resolution."""
    model = builder(include_top=False, input_shape=(64, 64, 3))
    taps = kr.feature_extractor(model)([images()])
    assert {k: v.shape[1] for k, v in taps.items()} == {"C2": 16, "C3": 8, "C4": 4, "C5": 2}
    assert taps["C5"].shape[-1] == 2048


@pytest.mark.parametrize(("builder", "kept"), [(kr.ResNet50V2, 17), (kr.ResNeXt50_32x4d, 0), (kr.ResNet50D, 0)],
                         ids=["v2", "resnext", "resnet-d"])
def test_fold_batchnorm_keeps_outputs(builder, kept):
    """A BN right after a conv folds; a pre-activation BN (after an addition or the stem's
    pooling: 16 blocks' and `post_bn`) has no conv before it and stays."""
    model = randomise_batchnorm(builder(input_shape=(64, 64, 3), classifier_activation=None))
    folded = kr.fold_batchnorm(model)
    assert sum(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers) == kept
    expected = model.predict(images(), verbose=0)
    np.testing.assert_allclose(folded.predict(images(), verbose=0), expected, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("model", [
    lambda: kr.ResNeXt50_32x4d(input_shape=(64, 64, 3)),
    lambda: kr.ResNet50V2(include_top=False, pooling="max", input_shape=(64, 64, 3)),
    lambda: kr.ResNet50D(input_shape=(64, 64, 3), include_preprocessing="torch"),
    lambda: kr.CifarPreActResNet(1),
], ids=["resnext", "v2-pooled", "resnet-d-preprocessed", "preact-cifar"])
def test_keras_file_round_trip_in_safe_mode(model, tmp_path):
    model = randomise_batchnorm(model())
    x = images(size=model.input_shape[1]) * 127 + 128
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_timm_resnet_d_layout_loads(tmp_path):
    """A state dict under timm's resnet50d names (deep stem `conv1.0/.1/.3/.4/.6` + `bn1`,
    shortcut `downsample.1/.2` after the pool) loads into ResNet50D, each tensor where timm
    has it."""
    model = randomise_batchnorm(kr.ResNet50D(input_shape=(64, 64, 3)))
    state = torch_state_dict(model, deep_stem=True, avg_down=True)
    timm_keys = {"conv1.6.weight", "bn1.running_var", "layer1.0.downsample.1.weight", "layer4.0.downsample.2.bias"}
    assert timm_keys <= set(state)
    save_file(state, tmp_path / "resnet50d.safetensors")
    loaded = kr.ResNet50D(input_shape=(64, 64, 3), weights=str(tmp_path / "resnet50d.safetensors"))
    for a, b in zip(loaded.weights, model.weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_v2_weights_take_keras_v2_preprocessing():
    """keras.applications.resnet_v2.preprocess_input is what include_preprocessing=True bakes
    in for the V2 weights; the torchvision and timm entries take torch's."""
    x = np.random.default_rng(2).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    for entry in registry.entries():
        if entry.model.endswith("v2"):
            reference = keras.applications.resnet_v2.preprocess_input(x.copy())
        elif entry.model in FAMILY:
            reference = keras.applications.imagenet_utils.preprocess_input(x.copy(), mode="torch")
        else:
            continue
        np.testing.assert_allclose(preprocess_input(x.copy(), mode=entry.preprocessing.mode), reference, rtol=1e-6)


def test_export_preact_net(tmp_path):
    model = randomise_batchnorm(kr.CifarPreActResNet(1))
    check = export_model(model, tmp_path / "preact.tflite", "tflite", images(4, 32) * 127 + 128)
    assert check["top1_agreement"] == 1.0


@pytest.mark.slow
def cifar_subset(shared, folder, images: int):
    """The shared CIFAR-10 batches cut to their first `images` images each, in the official
    format: a run's validation and test passes of a 50-layer net in seconds, not half a minute."""
    folder.mkdir()
    shutil.copy(shared / "cifar-10-batches-py" / "batches.meta", folder)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        with open(shared / "cifar-10-batches-py" / name, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        with open(folder / name, "wb") as f:
            cut = {b"data": batch[b"data"][:images], b"labels": batch[b"labels"][:images]}
            pickle.dump({**batch, **cut}, f, protocol=2)
    return folder


def test_train_a_family_model(shared, tmp_path, capsys):
    """`keras-resnet train --model resnext50_32x4d` on real CIFAR-10 images (32x32: the smallest
    input the ImageNet nets take; 40 a batch file), end to end: a run directory with a model that loads."""
    data = cifar_subset(shared, tmp_path / "cifar", 40)
    result = keras_resnet_main(capsys, "train", "--model", "resnext50_32x4d", "--data-dir",
                               data, "--output", tmp_path / "run", "--epochs", "1",
                               "--steps-per-epoch", "1", "--batch-size", "8", "--no-plot")
    assert result.returncode == 0, result.stderr
    assert "test error" in result.stdout
    model = keras.models.load_model(tmp_path / "run" / "final.keras")
    assert model.name == "resnext50_32x4d" and model.get_layer("conv2_block1_2_conv").groups == 32
