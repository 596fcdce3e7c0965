"""The builders reproduce the paper's networks: parameters (torchvision's and the reference
CIFAR nets' counts), multiply-adds (paper Table 1, torchvision), structure, and
keras.applications' names, shapes and outputs."""

import keras
import numpy as np
import pytest
from references import shapes_only

import keras_resnet as kr
from keras_resnet.core.architectures import IMAGENET, PAPER_CIFAR10
from keras_resnet.models.blocks import _shortcut

IMAGENET_PARAMS = {  # torchvision's resnet18..152 (= the paper's option B nets)
    kr.ResNet18: 11_689_512,
    kr.ResNet34: 21_797_672,
    kr.ResNet50: 25_557_032,
    kr.ResNet101: 44_549_160,
    kr.ResNet152: 60_192_808,
    kr.PlainNet34: 21_623_848,
}
CIFAR_PARAMS = {  # the reference CIFAR nets' (Idelbayev's checkpoints; Table 6: 0.27M ... 19.4M)
    kr.CifarResNet20: 269_722,
    kr.CifarResNet32: 464_154,
    kr.CifarResNet44: 658_586,
    kr.CifarResNet56: 853_018,
    kr.CifarResNet110: 1_727_962,
    kr.CifarResNet1202: 19_421_274,
}
PAPER_GFLOPS = {kr.ResNet18: 1.8, kr.ResNet34: 3.6, kr.ResNet50: 3.8, kr.ResNet101: 7.6, kr.ResNet152: 11.3}
TORCHVISION_GFLOPS = {kr.ResNet18: 1.814, kr.ResNet34: 3.664, kr.ResNet50: 4.089, kr.ResNet101: 7.801,
                      kr.ResNet152: 11.514}
BUILDERS = [kr.ResNet18, kr.ResNet34, kr.ResNet50, kr.ResNet101, kr.ResNet152]
PLAIN = [kr.PlainNet18, kr.PlainNet34, kr.PlainNet50, kr.PlainNet101, kr.PlainNet152]


@pytest.fixture(scope="module")
def built():
    """`built(builder, **kwargs)`: the model, built once for this module, for its shapes only
    (the tests here only count)."""
    cache = {}

    def build(builder, **kwargs):
        key = (builder, tuple(sorted(kwargs.items())))
        if key not in cache:
            cache[key] = shapes_only(builder, **kwargs)
        return cache[key]

    yield build
    cache.clear()


@pytest.mark.parametrize("builder", list(IMAGENET_PARAMS), ids=lambda b: b.__name__)
def test_imagenet_parameters(builder, built):
    assert kr.count_trainable_params(built(builder)) == IMAGENET_PARAMS[builder]


@pytest.mark.parametrize("builder", [pytest.param(b, marks=pytest.mark.slow) if b is kr.CifarResNet1202 else b
                                     for b in CIFAR_PARAMS], ids=lambda b: b.__name__)
def test_cifar_parameters(builder):
    """The entries by depth: the paper's parameters and depth (option A: the weighted layers
    are exactly the depth), and the depth in the model's name."""
    depth = int(builder.__name__.removeprefix("CifarResNet"))
    model = builder()
    params = kr.count_trainable_params(model)
    assert params == CIFAR_PARAMS[builder]
    assert abs(params / 1e6 - PAPER_CIFAR10[(depth - 2) // 6]["params_m"]) < 0.05
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) + 1 == depth
    assert model.name == f"cifar_resnet{depth}"
    # a forward pass (eager: tracing predict's graph of ResNet-1202 alone takes ~50 s)
    assert model(np.zeros((1, 32, 32, 3), "float32"), training=False).shape == (1, 10)


@pytest.mark.parametrize("depth", [20, 32, 44, 56, 110])
def test_cifar_plain_entries(depth, built):
    """Plain twins by depth: no additions, the ResNet's parameters (option A adds none)."""
    model = built(getattr(kr, f"CifarPlainNet{depth}"))
    assert model.name == f"cifar_plainnet{depth}" and _adds(model) == 0
    assert kr.count_trainable_params(model) == CIFAR_PARAMS[getattr(kr, f"CifarResNet{depth}")]


def test_cifar_resnet_by_n_names_the_depth():
    """CifarResNet takes n (6n+2 layers): a depth passed as n builds the deeper net, as it
    may be meant, and says which; the name and summary give the depth."""
    with pytest.warns(UserWarning,
                      match=r"CifarResNet\(n=20\) builds the 122-layer net .*CifarResNet20\(\) or CifarResNet\(3\)"):
        model = kr.CifarResNet(20)
    summary = []
    model.summary(print_fn=summary.append)
    assert model.name == "cifar_resnet122" and '"cifar_resnet122"' in summary[0], summary[0]
    assert sum(isinstance(layer, keras.layers.Conv2D) for layer in model.layers) + 1 == 122
    assert kr.CifarResNet(3).name == "cifar_resnet20" and kr.CifarPlainNet(9).name == "cifar_plainnet56"


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_flops_match_paper_and_torchvision(builder, built):
    assert abs(kr.count_flops(built(builder, variant="v1")) / 1e9 - PAPER_GFLOPS[builder]) <= 0.1
    assert abs(kr.count_flops(built(builder, variant="v1.5")) / 1e9 - TORCHVISION_GFLOPS[builder]) <= 0.01


def test_count_flops_by_hand():
    inputs = keras.Input((10, 12, 3))
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same")(inputs)  # 5x6 outputs, 27 MACs each x 8
    x = keras.layers.Dense(4)(keras.layers.Flatten()(x))
    assert kr.count_flops(keras.Model(inputs, x)) == 5 * 6 * 27 * 8 + 5 * 6 * 8 * 4


def test_count_flops_needs_fixed_size():
    with pytest.raises(ValueError, match="fixed input size"):
        kr.count_flops(kr.ResNet18(include_top=False))


def _adds(model):
    return sum(isinstance(layer, keras.layers.Add) for layer in model.layers)


@pytest.mark.parametrize("residual, plain", zip(BUILDERS, PLAIN), ids=lambda b: b.__name__)
def test_plain_twin_has_no_additions(residual, plain, built):
    blocks = sum(IMAGENET[int(residual.__name__[6:])].blocks)
    assert _adds(built(residual)) == blocks
    plain_model = built(plain)
    assert _adds(plain_model) == 0
    assert not any("_0_" in layer.name for layer in plain_model.layers)


@pytest.mark.parametrize("n", [1, 3])
def test_cifar_plain_twin(n, built):
    assert _adds(built(kr.CifarResNet, n=n)) == 3 * n
    assert _adds(built(kr.CifarPlainNet, n=n)) == 0


@pytest.mark.parametrize("depth", [50, 101, 152])
def test_keras_applications_names_and_shapes(depth, built):
    theirs = shapes_only(getattr(keras.applications, f"ResNet{depth}"), weights=None)
    ours = built(getattr(kr, f"ResNet{depth}"))
    their_weights = {layer.name: [w.shape for w in layer.weights] for layer in theirs.layers if layer.weights}
    our_weights = {layer.name: [w.shape for w in layer.weights] for layer in ours.layers if layer.weights}
    assert our_weights.keys() == their_weights.keys()
    for name, shapes in their_weights.items():
        expected = shapes[:1] if name.endswith("_conv") else shapes  # our convs have no bias
        assert our_weights[name] == expected, name
    for name in ("conv1_relu", "pool1_pool", "conv2_block3_out", "conv4_block1_out", "avg_pool"):
        assert ours.get_layer(name).output.shape == theirs.get_layer(name).output.shape


@pytest.mark.parametrize("variant, strided", [("v1", "conv3_block1_1_conv"), ("v1.5", "conv3_block1_2_conv")])
def test_bottleneck_stride_placement(variant, strided):
    model = kr.ResNet50(variant=variant, include_top=False, input_shape=(64, 64, 3))
    assert model.get_layer(strided).strides == (2, 2)
    other = {"conv3_block1_1_conv", "conv3_block1_2_conv"} - {strided}
    assert model.get_layer(other.pop()).strides == (1, 1)
    # explicit symmetric padding wherever a 3x3/7x7 conv strides
    if variant == "v1.5":
        assert model.get_layer("conv3_block1_2_pad").padding == ((1, 1), (1, 1))
    assert model.get_layer("conv1_pad").padding == ((3, 3), (3, 3))


@pytest.mark.parametrize("shortcut, projections", [("A", 0), ("B", 3), ("C", 16)])
def test_shortcut_options(shortcut, projections):
    """ResNet-34 has 16 blocks, 3 of which change shape (conv3..conv5 block1)."""
    model = kr.ResNet34(shortcut=shortcut, include_top=False, input_shape=(32, 32, 3))
    assert sum(layer.name.endswith("_0_conv") for layer in model.layers) == projections
    pads = [layer for layer in model.layers if layer.name.endswith("_0_pad")]
    assert len(pads) == (3 if shortcut == "A" else 0)
    assert all(type(layer).__module__.startswith("keras.") for layer in model.layers)  # stock layers only


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_option_a_is_the_reference_subsample_and_pad(data_format, image_data_format):
    """The option-A shortcut as the builder writes it (stock layers) in either layout: every
    second pixel from 0, 8 zero channels each side."""
    image_data_format(data_format)
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 16)).astype("float32")
    expected = np.pad(x[:, ::2, ::2, :], [(0, 0), (0, 0), (0, 0), (8, 8)])  # shared/README.md
    first = data_format == "channels_first"
    inputs = keras.Input((16, 8, 8) if first else (8, 8, 16))
    shortcut = keras.Model(inputs, _shortcut(inputs, inputs, 32, 2, "A", "conv3_block1", preact=False))
    y = np.asarray(shortcut(x.transpose(0, 3, 1, 2) if first else x))
    np.testing.assert_array_equal(y.transpose(0, 2, 3, 1) if first else y, expected)
