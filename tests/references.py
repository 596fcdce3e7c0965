"""Independent references shared by several test folders: keras.applications' ResNets (random
or published weights) and the files they write, and the comparison the tests make with them."""

import dataclasses

import h5py
import keras
import numpy as np

from keras_resnet.core.architectures import parse_model_id
from keras_resnet.core.keras_internals import unallocated
from keras_resnet.models.builder import build_resnet

SIZE = 64  # any size >= 32 builds both; small keeps the tests fast


def shapes_only(build, *args, **kwargs) -> keras.Model:
    """`build(*args, **kwargs)` as it runs, but with no memory for the weights (Keras'
    `StatelessScope`, `core.keras_internals.unallocated`): for tests that read only names,
    shapes and counts; 4x faster on TensorFlow, 10x on JAX. The model cannot be run."""
    with unallocated():
        return build(*args, **kwargs)


def miniature(model: str, **kwargs) -> keras.Model:
    """The net of a model id with one block a stage (`build_resnet` arguments in `kwargs`):
    every kind of layer and shortcut it has, at a fraction of the build, save and load time,
    for tests of layers and files rather than depth."""
    arch, residual = parse_model_id(model)
    return build_resnet(dataclasses.replace(arch, blocks=(1,) * len(arch.blocks)), residual=residual, **kwargs)


def h5_datasets(group: h5py.Group) -> dict[str, np.ndarray]:
    """Every dataset under an open HDF5 file or group, by path, read with h5py alone."""
    found = {}
    group.visititems(lambda name, item: found.update({name: item[()]}) if isinstance(item, h5py.Dataset) else None)
    return found


def assert_same_outputs(actual, expected):
    """Equal up to float32 round-off: over 150 layers, and with oneDNN's computation order
    varying from run to run, that is ~1e-5 of the outputs' scale (a wrong weight mapping is
    off by the scale itself)."""
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=2e-5 * np.abs(expected).max())


NETS = ["ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2", "ResNet152V2"]


def keras_applications(net: str, include_top: bool) -> keras.Model:
    first = keras.config.image_data_format() == "channels_first"
    return getattr(keras.applications, net)(
        weights=None, include_top=include_top, input_shape=(3, SIZE, SIZE) if first else (SIZE, SIZE, 3),
        classifier_activation=None,
    )


def random_keras_applications(net: str, include_top: bool, seed: int) -> keras.Model:
    """keras.applications model with random weights, BN statistics and conv biases."""
    rng = np.random.default_rng(seed)
    model = keras_applications(net, include_top)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.1, c), rng.normal(0, 0.1, c),
                               rng.uniform(0.5, 2, c)])
        elif isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and layer.use_bias:
            layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape))
    return model


def write_keras2_weights(model: keras.Model, path) -> None:
    """The layout of the published files (Keras 2 `save_weights` to HDF5): `layer_names`,
    and per layer `weight_names` such as `conv1_conv/kernel:0`."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        f.attrs["backend"], f.attrs["keras_version"] = b"tensorflow", b"2.2.4"
        for layer in model.layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{w.name}:0" for w in layer.weights]
            group.attrs["weight_names"] = [n.encode() for n in names]
            for n, w in zip(names, layer.weights):
                group.create_dataset(n, data=np.asarray(w))


