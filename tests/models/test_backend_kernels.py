"""The kernels the package attaches per backend (`models.layers.use_fast_kernels`: TensorFlow's
fused BatchNormalization in training, PyTorch's convolution and BatchNormalization on torch,
none on JAX) compute what Keras' own layers compute: the same outputs, training step and
moving statistics as a stock copy of the model, in both data formats, on every backend
(`-m backends`, CI). On torch, layer by layer against keras' own call: convolutions bit for
bit over strides, paddings, dilations, groups and biases; BN's outputs, gradients and
statistics; and the inputs the kernels leave to Keras."""

import keras
import numpy as np
import pytest
from conftest import randomise_batchnorm, run_python
from references import miniature

import keras_resnet as kr

pytestmark = pytest.mark.backends

NETS = {  # option A's pads and permutes; a deep stem, average-pool projection, groups, biases
    "CIFAR, option A": lambda **kw: kr.CifarResNet(1, **kw),
    "ResNet-D, grouped": lambda **kw: miniature("resnext50d_32x4d", **kw),
}
ATTACHED = {"tensorflow": {"BatchNormalization": "call"}, "jax": {},
            "torch": {"BatchNormalization": "call", "Conv2D": "convolution_op"}}
on_torch = pytest.mark.skipif(keras.backend.backend() != "torch", reason="PyTorch's kernels: torch backend only")


def numpy(x) -> np.ndarray:
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("net", NETS)
def test_a_model_computes_what_its_stock_copy_computes(net, data_format, image_data_format):
    """Ours (kernels attached) against `clone_model` of it (stock layers, Keras' own calls), same
    weights: inference logits, training-mode outputs, and one SGD step's loss and weights."""
    image_data_format(data_format)
    size = 32 if "CIFAR" in net else 64
    shape = (size, size, 3) if data_format == "channels_last" else (3, size, size)
    ours = randomise_batchnorm(NETS[net](input_shape=shape, classes=5, classifier_activation=None))
    stock = keras.models.clone_model(ours)
    stock.set_weights(ours.get_weights())
    for model, attached in ((ours, ATTACHED[keras.backend.backend()]), (stock, {})):
        found = {type(layer).__name__: name for layer in model.layers for name in ("call", "convolution_op")
                 if name in vars(layer)}
        assert found == attached
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (8, *shape)).astype("float32")  # as preprocessed: zero-mean (see the float64 test)
    y = rng.integers(0, 5, 8)
    expected = numpy(stock(x, training=False))
    np.testing.assert_allclose(numpy(ours(x, training=False)), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    expected = numpy(stock(x, training=True))
    np.testing.assert_allclose(numpy(ours(x, training=True)), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    before, losses = ours.get_weights(), []
    expected = stock.predict_on_batch(x)  # on torch, ours keeps its converted kernels from here
    np.testing.assert_allclose(ours.predict_on_batch(x), expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    for model in (ours, stock):
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=True))
        losses.append(model.train_on_batch(x, y))
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
    # the step's changes (moving statistics too): equal but for round-off, which BN's gradient
    # through 32-value batch statistics amplifies; seen up to 2e-4 overall, 1.4% in one tensor
    ours_step = [a - w for w, a in zip(before, ours.get_weights())]
    stock_step = [b - w for w, b in zip(before, stock.get_weights())]
    assert relative_error(np.concatenate([d.ravel() for d in ours_step]),
                          np.concatenate([d.ravel() for d in stock_step])) < 1e-3
    assert max(map(relative_error, ours_step, stock_step)) < 5e-2
    expected = stock.predict_on_batch(x)  # after the step: not the kernels kept before it
    np.testing.assert_allclose(ours.predict_on_batch(x), expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.linalg.norm(actual - expected) / max(np.linalg.norm(expected), 1e-30))


CONVS = [
    dict(filters=8, kernel_size=3, padding="same"),
    dict(filters=8, kernel_size=3, strides=2),
    dict(filters=8, kernel_size=7, strides=2),
    dict(filters=6, kernel_size=1, strides=2),
    dict(filters=8, kernel_size=3, padding="same", dilation_rate=2),
    dict(filters=8, kernel_size=3, padding="same", groups=2),
    dict(filters=8, kernel_size=3, padding="same", use_bias=True, activation="relu"),
    dict(filters=8, kernel_size=2, padding="same"),  # even kernel: Keras pads after, left to Keras
    dict(filters=8, kernel_size=3, padding="same", strides=2),  # left to Keras
]


@on_torch
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("config", CONVS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_torch_convolution_is_keras_convolution_bit_for_bit(config, data_format):
    import torch

    from keras_resnet.core import torch_kernels

    ours, theirs = (keras.layers.Conv2D(**config, data_format=data_format, bias_initializer="random_normal")
                    for _ in range(2))
    torch_kernels.attach(ours)
    shape = (4, 13, 11, 4) if data_format == "channels_last" else (4, 4, 13, 11)
    for layer in (ours, theirs):
        layer.build(shape)
    theirs.set_weights(ours.get_weights())
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.normal(size=shape).astype("float32"), requires_grad=True)
    kernel = rng.normal(size=ours.kernel.shape).astype("float32")  # unlike the initial one
    results = []
    for layer in (ours, theirs):
        with torch.no_grad():  # ours keeps the converted kernel for inference ...
            layer(x)
            layer.kernel.assign(kernel)  # ... until the kernel is written (in place, Keras' assign)
            before = layer(x).numpy()
        y = layer(x)  # and never for autograd
        (y * torch.sin(y)).sum().backward()
        results.append([before, y.detach().numpy(), x.grad.numpy().copy(), layer.kernel.value.grad.numpy()])
        x.grad = None
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def batchnorm_pair(shape, axis=-1, **kwargs):
    from keras_resnet.core import torch_kernels

    rng = np.random.default_rng(0)
    ours, theirs = (keras.layers.BatchNormalization(axis=axis, **kwargs) for _ in range(2))
    torch_kernels.attach(ours)
    channels = shape[axis]
    gamma, beta = rng.uniform(0.5, 1.5, channels), rng.normal(0, 1, channels)
    statistics = [rng.normal(0, 1, channels), rng.uniform(0.5, 2, channels)]
    for layer in (ours, theirs):
        layer.build(shape)
        layer.set_weights([gamma] * layer.scale + [beta] * layer.center + statistics)
    return ours, theirs


@on_torch
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("axis, options", [(-1, {}), (1, {}), (-1, dict(epsilon=1e-3, momentum=0.99)),
                                           (-1, dict(center=False, scale=False))])
def test_torch_batchnorm_is_keras_batchnorm(training, axis, options):
    """Outputs, the gradients of the input, gamma and beta, and the moving statistics (keras
    averages the biased batch variance) after a training call."""
    import torch

    shape = (8, 5, 5, 6)
    ours, theirs = batchnorm_pair(shape, axis, **options)
    x = torch.tensor(np.random.default_rng(1).normal(2, 3, shape).astype("float32"), requires_grad=True)
    results = []
    for layer in (ours, theirs):
        y = layer(x, training=training)
        (y * torch.sin(y)).sum().backward()
        grads = [x.grad.numpy().copy()] + [w.value.grad.numpy() for w in layer.trainable_weights]
        results.append((y.detach().numpy(), grads, layer.get_weights()))
        x.grad = None
    (y1, g1, w1), (y2, g2, w2) = results
    np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=2e-6)
    assert len(g1) == len(g2) == 1 + 2 * ("center" not in options)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    if training:
        assert not np.allclose(w1[-2], batchnorm_pair(shape, axis, **options)[0].get_weights()[-2])  # they moved


@on_torch
def test_torch_batchnorm_training_is_float64_batchnorm_where_mean_dwarfs_spread():
    """Against BN computed in float64 by numpy, for activations of mean 100 and spread 1: torch's
    kernel (Welford's moments) stays within float32 round-off of it. (Keras' torch moments,
    E[x^2] - E[x]^2, are off by 1e-3 there: BENCHMARKS.md, "Keras backends".)"""
    ours, _ = batchnorm_pair((8, 4, 4, 6))
    x = np.random.default_rng(6).normal(100, 1, (8, 4, 4, 6)).astype("float32")
    gamma, beta, mean, variance = (w.astype("float64") for w in ours.get_weights())
    x64 = x.astype("float64")
    expected = (x64 - x64.mean((0, 1, 2))) / np.sqrt(x64.var((0, 1, 2)) + ours.epsilon) * gamma + beta
    np.testing.assert_allclose(numpy(ours(x, training=True)), expected, atol=1e-4)
    moved = variance * ours.momentum + x64.var((0, 1, 2)) * (1 - ours.momentum)
    np.testing.assert_allclose(ours.get_weights()[3], moved, rtol=1e-6)


@on_torch
def test_torch_batchnorm_leaves_to_keras_what_it_does_not_cover():
    """A 3-D input, one value per channel in training (torch's kernel refuses it; keras gives
    beta), a frozen layer in training (moving statistics, unchanged) and mixed precision
    (statistics in float32, as keras') give keras' results."""
    cases = [((4, 3, 6), {}, True), ((1, 1, 1, 6), {}, True), ((4, 3, 3, 6), {"frozen": True}, True)]
    for shape, options, training in cases:
        ours, theirs = batchnorm_pair(shape)
        if options.get("frozen"):
            ours.trainable = theirs.trainable = False
        x = np.random.default_rng(3).normal(size=shape).astype("float32")
        np.testing.assert_allclose(numpy(ours(x, training=training)), numpy(theirs(x, training=training)), atol=1e-6)
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        ours, theirs = batchnorm_pair((8, 4, 4, 5))
        x = np.random.default_rng(4).normal(1, 2, (8, 4, 4, 5)).astype("float32")
        y1, y2 = ours(x, training=True), theirs(x, training=True)
        assert keras.backend.standardize_dtype(y1.dtype) == keras.backend.standardize_dtype(y2.dtype) == "bfloat16"
        np.testing.assert_array_equal(numpy(keras.ops.cast(y1, "float32")), numpy(keras.ops.cast(y2, "float32")))
    finally:
        keras.mixed_precision.set_global_policy("float32")


@on_torch
def test_saved_model_is_stock_and_the_loader_attaches_the_kernels(tmp_path):
    from keras_resnet.evaluation.predict import load_trained

    model = kr.CifarResNet(1)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert not any({"call", "convolution_op"} & set(vars(layer)) for layer in loaded.layers)
    ours = load_trained(tmp_path / "m.keras")
    assert "convolution_op" in vars(ours.get_layer("conv1_conv")) and "call" in vars(ours.get_layer("conv1_bn"))
    x = np.random.default_rng(5).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(ours.predict(x, verbose=0), loaded.predict(x, verbose=0))


JAX_RECIPE = "--xla_cpu_experimental_ynn_fusion_type=dot"  # README "Backends", docs/backends.md
JAX_PROGRAM = """
import jax, keras, numpy as np
import keras_resnet as kr
keras.utils.set_random_seed(0)
model = kr.ResNet50(weights=None, input_shape=(64, 64, 3), classifier_activation=None)
x = np.random.default_rng(0).uniform(-1, 1, (4, 64, 64, 3)).astype("float32")
state = [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables]
compiled = jax.jit(lambda t, n, x: model.stateless_call(t, n, x, training=False)[0]).lower(*state, x).compile()
np.save({path!r}, np.asarray(compiled(*state, x)))
print(compiled.as_text().count(" convolution("))
"""


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="runs JAX processes of its own: once, in TensorFlow's session")
def test_jax_recipe_runs_xlas_ynnpack_dots_with_the_same_outputs(tmp_path):
    """The documented XLA_FLAGS recipe for JAX on the CPU: XLA accepts it, compiles most of
    ResNet-50's 1x1 convolutions as matrix products (all 53 are convolutions in the default
    build), and the logits equal the default build's."""
    flags = {"KERAS_BACKEND": "jax", "XLA_FLAGS": None}
    default = run_python(JAX_PROGRAM.format(path=str(tmp_path / "default.npy")), **flags)
    recipe = run_python(JAX_PROGRAM.format(path=str(tmp_path / "recipe.npy")), **flags | {"XLA_FLAGS": JAX_RECIPE})
    assert int(default.split()[-1]) == 53 and int(recipe.split()[-1]) < 53 - 16  # 16 bottlenecks' 1x1s at least
    expected = np.load(tmp_path / "default.npy")
    np.testing.assert_allclose(np.load(tmp_path / "recipe.npy"), expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())
