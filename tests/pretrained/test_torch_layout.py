"""PyTorch-layout weights (torchvision, timm, the CIFAR-10 checkpoints): .safetensors without
PyTorch, .pth only as tensors (weights_only), and parity with torchvision itself."""

import numpy as np
import pytest
from conftest import RunsCode, keras_resnet_main, randomise_batchnorm, run_python, torch_state_dict
from references import miniature

import keras_resnet as kr
from keras_resnet.pretrained import registry

torch = pytest.importorskip("torch")
safetensors_numpy = pytest.importorskip("safetensors.numpy")
RESNET20 = "pretrained/akamaster-cifar10/resnet20-12fca82f.th"
# timm's state dicts (timm 1.0.29, `timm.create_model(id).state_dict()`): the stem's and first shortcuts'
# kernels of each stem and shortcut kind, and whether the shortcut is the average-pool one (`downsample.1/.2`)
TIMM_LAYOUTS = {
    "resnet10t": ({"conv1.0.weight": (24, 3, 3, 3), "conv1.3.weight": (32, 24, 3, 3), "conv1.6.weight": (64, 32, 3, 3),
                   "layer2.0.downsample.1.weight": (128, 64, 1, 1)}, True),  # tiered stem, basic blocks
    "resnet18d": ({"conv1.0.weight": (32, 3, 3, 3), "conv1.3.weight": (32, 32, 3, 3), "conv1.6.weight": (64, 32, 3, 3),
                   "layer2.0.downsample.1.weight": (128, 64, 1, 1)}, True),
    "resnet50c": ({"conv1.0.weight": (32, 3, 3, 3), "conv1.6.weight": (64, 32, 3, 3),
                   "layer1.0.downsample.0.weight": (256, 64, 1, 1), "layer2.0.downsample.0.weight": (512, 256, 1, 1)},
                  False),
    "resnet50s": ({"conv1.0.weight": (64, 3, 3, 3), "conv1.3.weight": (64, 64, 3, 3), "conv1.6.weight": (128, 64, 3, 3),
                   "layer1.0.downsample.0.weight": (256, 128, 1, 1)}, False),  # 128 channels into conv2_x
}


@pytest.fixture
def resnet20_safetensors(shared, tmp_path):
    state = torch.load(shared / RESNET20, map_location="cpu", weights_only=True)["state_dict"]
    path = tmp_path / "resnet20.safetensors"
    safetensors_numpy.save_file({k: v.numpy() for k, v in state.items()}, path)
    return path


def test_safetensors_load_without_torch(resnet20_safetensors):
    """The same checkpoint as .safetensors gives the shipped weights, in a process where
    importing torch fails."""
    out = run_python(f"""
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
import numpy as np, keras_resnet as kr
model = kr.CifarResNet(3, weights={str(resnet20_safetensors)!r})
for a, b in zip(model.weights, kr.CifarResNet(3, weights="cifar10").weights, strict=True):
    np.testing.assert_array_equal(a, b)
print("loaded without torch")
""")
    assert "loaded without torch" in out


def test_convert_command_reproduces_shipped_file(resnet20_safetensors, shared, tmp_path, capsys):
    entry = next(e for e in registry.entries() if e.model == "cifar_resnet20")
    for source in (resnet20_safetensors, shared / RESNET20):
        result = keras_resnet_main(capsys, "convert", source, tmp_path / "out.h5", "--model", "cifar_resnet20")
        assert result.returncode == 0, result.stderr
        assert f"sha256 {entry.file.hash}" in result.stdout


def test_pth_that_needs_full_unpickling_is_refused(tmp_path):
    marker = tmp_path / "code-ran"
    evil = {"state_dict": {"conv1.weight": torch.zeros(16, 3, 3, 3)}, "extra": RunsCode(marker)}
    torch.save(evil, tmp_path / "evil.pth")
    with pytest.raises(ValueError,
                       match=r"evil\.pth asks the unpickler for posix\.system beyond tensors; it was refused"):
        kr.CifarResNet(3, weights=str(tmp_path / "evil.pth"))
    assert not marker.exists()


def test_truncated_and_foreign_files(resnet20_safetensors, shared, tmp_path):
    data = (shared / RESNET20).read_bytes()
    (tmp_path / "cut.th").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cut.th is not a readable tensors-only PyTorch checkpoint"):
        kr.CifarResNet(3, weights=str(tmp_path / "cut.th"))
    (tmp_path / "cut.safetensors").write_bytes(resnet20_safetensors.read_bytes()[:5000])
    with pytest.raises(ValueError, match="cut.safetensors is not a readable .safetensors file"):
        kr.CifarResNet(3, weights=str(tmp_path / "cut.safetensors"))
    with pytest.raises(ValueError, match=r"State-dict key 'conv1.weight_orig' is not of the torchvision ResNet layout"):
        safetensors_numpy.save_file({"conv1.weight_orig": np.zeros(3, "float32")}, tmp_path / "other.safetensors")
        kr.CifarResNet(3, weights=str(tmp_path / "other.safetensors"))


def test_torch_layout_builds_the_variant_it_was_trained_as(tmp_path):
    """torchvision's and timm's bottlenecks stride in the 3x3 (v1.5): with variant=None (the
    default) their file builds that network and gives its outputs; the paper's v1 asked for
    explicitly loads too (the shapes are the same) but computes another function, so it warns."""
    source = randomise_batchnorm(kr.ResNet50(variant="v1.5", input_shape=(64, 64, 3), classifier_activation=None))
    path = tmp_path / "torchvision_layout.safetensors"
    safetensors_numpy.save_file(torch_state_dict(source), path)
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype("float32")
    expected = source.predict(x, verbose=0)
    ours = kr.ResNet50(weights=str(path), input_shape=(64, 64, 3), classifier_activation=None)
    assert ours.get_layer("conv3_block1_2_conv").strides == (2, 2)
    np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    with pytest.warns(UserWarning, match=r"laid out for variant='v1.5' \(a bottleneck strides in its 3x3 conv\), "
                                         r"but variant='v1' was asked.*Pass variant='v1.5' or None"):
        other = kr.ResNet50(weights=str(path), variant="v1", input_shape=(64, 64, 3), classifier_activation=None)
    assert np.abs(other.predict(x, verbose=0) - expected).max() > 0.01 * np.abs(expected).max()


@pytest.mark.torchvision
@pytest.mark.parametrize("depth", [18, 34, 50])
def test_torchvision_parity(depth, tmp_path):
    """Random torchvision weights (and BN statistics), as .pth and .safetensors, give
    torchvision's logits in our v1.5 model. Needs torchvision: run by hand (docs/weights.md)."""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(depth)
    reference = getattr(torchvision.models, f"resnet{depth}")(weights=None).eval()
    with torch.no_grad():
        for module in reference.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 2)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
    x = np.random.default_rng(0).normal(size=(2, 96, 96, 3)).astype("float32")
    with torch.no_grad():
        expected = reference(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    state = reference.state_dict()
    torch.save(state, tmp_path / "w.pth")
    safetensors_numpy.save_file({k: v.numpy() for k, v in state.items()}, tmp_path / "w.safetensors")
    for name in ("w.pth", "w.safetensors"):
        ours = getattr(kr, f"ResNet{depth}")(
            weights=str(tmp_path / name), variant="v1.5", input_shape=(96, 96, 3), classifier_activation=None
        )
        np.testing.assert_allclose(ours.predict(x, verbose=0), expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("model", list(TIMM_LAYOUTS))
def test_timm_stems_and_shortcuts_load(model, tmp_path):
    """Each of timm's deep stems (c and d: 32-32-64; s: 64-64-128; t: 24-32-64) and shortcuts
    (plain `downsample.0/.1`; d's and t's `downsample.1/.2` after the pool), under timm's names and
    shapes, loads into the net of that model id (one block a stage), each tensor where timm has it."""
    shapes, avg_down = TIMM_LAYOUTS[model]
    source = randomise_batchnorm(miniature(model, input_shape=(64, 64, 3)))
    state = torch_state_dict(source, deep_stem=True, avg_down=avg_down)
    assert {key: state[key].shape for key in shapes} == shapes
    safetensors_numpy.save_file(state, tmp_path / "timm.safetensors")
    loaded = miniature(model, input_shape=(64, 64, 3), weights=str(tmp_path / "timm.safetensors"))
    for a, b in zip(loaded.weights, source.weights, strict=True):
        np.testing.assert_array_equal(a, b)
