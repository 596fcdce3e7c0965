"""The private Keras APIs the package relies on, all in `core.keras_internals`, still behave
as it assumes: a Keras release that changes one fails here, naming it, and not deep inside a
build, a conversion or a training step."""

import keras
import pytest

from keras_resnet.core import keras_internals

CHANGED = f"Keras {keras.__version__} changed a private API that keras_resnet.core.keras_internals uses"


def test_stateless_scope_defers_variables_to_the_global_list_that_unallocated_restores():
    global_state = keras_internals.global_state
    before = list(global_state.get_global_attribute(keras_internals.UNINITIALIZED) or [])
    with keras.StatelessScope(initialize_variables=False):
        keras.layers.Dense(3).build((None, 4))
        pending = global_state.get_global_attribute(keras_internals.UNINITIALIZED) or []
        assert len(pending) == len(before) + 2, f"{CHANGED}: deferred variables are no longer listed there"
    with keras_internals.unallocated():
        layer = keras.layers.Dense(10**5)
        layer.build((None, 10**4))  # 4 GB if allocated
        assert tuple(layer.kernel.shape) == (10**4, 10**5)
    after = global_state.get_global_attribute(keras_internals.UNINITIALIZED) or []
    assert len(after) == len(before) + 2  # the Dense(3) above, left by a plain StatelessScope
    global_state.set_global_attribute(keras_internals.UNINITIALIZED, before)


def test_graph_steps_walks_nested_models_at_the_shapes_given():
    """Layers of a Sequential (built and not) and of a functional model nested in a functional
    model, in order, at the input shape given rather than the declared one (None)."""
    inner_input = keras.Input((None, None, 8))
    inner = keras.Model(inner_input, keras.layers.Conv2D(4, 1, name="inner_conv")(inner_input))
    built = keras.Sequential([keras.Input((None, None, 3)), keras.layers.UpSampling2D(2, name="up")])
    lazy = keras.Sequential([keras.layers.Conv2D(8, 1, name="lazy_conv")])
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D(name="pool")(inner(lazy(built(inputs)))))
    steps, outputs = keras_internals.graph_steps(model, [keras.KerasTensor((1, 10, 10, 3))])
    assert [(s.name, tuple(s.outputs[0].shape)) for s in steps] == [
        ("up", (1, 20, 20, 3)), ("lazy_conv", (1, 20, 20, 8)), ("inner_conv", (1, 20, 20, 4)), ("pool", (1, 4))
    ], f"{CHANGED}: Function._run_through_graph"
    assert steps[1].inputs[0] is steps[0].outputs[0] and outputs[0] is steps[-1].outputs[0]


def test_batchnorm_has_what_the_fused_call_reads():
    layer = keras.layers.BatchNormalization()
    layer.build((None, 4, 4, 3))
    missing = [name for name in keras_internals.BATCHNORM_ATTRIBUTES if not hasattr(layer, name)]
    assert not missing, f"{CHANGED}: BatchNormalization lacks {missing}"
    keras_internals.fuse_batchnorm(layer)
    assert layer.call.__func__ is keras_internals._fused_call
    x = keras.random.normal((2, 4, 4, 3), seed=0)
    stock = keras.layers.BatchNormalization()
    stock.build((None, 4, 4, 3))
    assert keras.ops.convert_to_numpy(layer(x, training=True)) == pytest.approx(
        keras.ops.convert_to_numpy(stock(x, training=True)), abs=1e-5)


def test_weights_file_bytes_are_the_file_save_weights_writes(tmp_path):
    import h5py
    import numpy as np
    from references import h5_datasets

    def datasets(path) -> dict:
        with h5py.File(path) as f:
            return h5_datasets(f)

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.BatchNormalization()])
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), verbose=0)
    model.save_weights(tmp_path / "keras.weights.h5")
    (tmp_path / "ours.weights.h5").write_bytes(keras_internals.weights_file_bytes(model))
    ours, theirs = datasets(tmp_path / "ours.weights.h5"), datasets(tmp_path / "keras.weights.h5")
    assert sorted(ours) == sorted(theirs) and any("optimizer" in name for name in ours), f"{CHANGED}: saving_lib"
    assert all(np.array_equal(ours[name], theirs[name]) for name in ours)
    clone = keras.models.clone_model(model)
    clone.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="mse")
    clone.optimizer.build(clone.trainable_variables)
    clone.load_weights(tmp_path / "ours.weights.h5")
    assert int(clone.optimizer.iterations) == 1
    assert all(np.array_equal(a, b) for a, b in zip(clone.get_weights(), model.get_weights()))


def test_resize_takes_a_size_known_only_when_the_graph_runs():
    """CentreCrop(resize_first=True) resizes to a size computed from the images' own; in a
    TensorFlow graph that size is a tensor, which `keras.ops.image.resize` refuses."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("graph tensors as sizes are TensorFlow's")
    import numpy as np
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec((1, None, None, 3))])
    def halve(images):
        shape = tf.shape(images)
        return keras_internals.resize(images, (shape[1] // 2, shape[2] // 2), interpolation="bilinear",
                                      antialias=True, data_format="channels_last")

    halved = halve(tf.ones((1, 8, 6, 3)))
    assert tuple(halved.shape) == (1, 4, 3, 3), f"{CHANGED}: backend.image.resize"
    np.testing.assert_allclose(halved.numpy(), 1.0, rtol=1e-6)
