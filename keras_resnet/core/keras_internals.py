"""Every use of Keras beyond its public API, in one place, so that a Keras release that changes
one fails here (tests/core/test_keras_internals.py) and not deep inside a build or a load.

- `fuse_batchnorm` replaces the `call` of stock BatchNormalization instances with one on
  TensorFlow's FusedBatchNormV3, reading the layer's attributes (gamma, beta, moving_mean,
  moving_variance, momentum, epsilon, center, scale, renorm, synchronized, axis).
- `unallocated` reads and restores Keras' global list of variables whose initialisation a
  `StatelessScope` deferred (`keras.src.backend.common.global_state`).
- `graph_steps` runs a model's graph symbolically (`keras.src.ops.function.Function`'s
  `_run_through_graph`, and a Sequential's `_functional`), layer by layer into nested models.
- `weights_file_bytes` makes `model.save_weights`' file in memory (`keras.src.saving.saving_lib`:
  `H5IOStore` on an `io.BytesIO`, `_save_state`), which `save_weights` offers only on a path.
- `resize` is the backend's image resize (`keras.src.backend.image.resize`), which takes a size
  known only when the graph runs (TensorFlow tensors); `keras.ops.image.resize` compares the size
  with 0 in Python first, which a graph tensor refuses.
"""

from __future__ import annotations

import io
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import keras
from keras import tree
from keras.src import backend
from keras.src.backend.common import global_state
from keras.src.ops.function import Function
from keras.src.saving import saving_lib

UNINITIALIZED = "uninitialized_variables"  # Keras' global_state key for deferred variables
BATCHNORM_ATTRIBUTES = ("gamma", "beta", "moving_mean", "moving_variance", "momentum", "epsilon", "center",
                        "scale", "renorm", "synchronized", "axis", "trainable", "compute_dtype")


def fuse_batchnorm(layer: keras.layers.BatchNormalization) -> None:
    """Train this stock BatchNormalization instance with TensorFlow's fused kernel (`_fused_call`);
    its class, config and saved file stay stock."""
    layer.call = types.MethodType(_fused_call, layer)


def _fused_call(self, inputs, training=None, mask=None):
    """keras' BatchNormalization (same weights, update rule and outputs up to round-off) in
    training, on TensorFlow's FusedBatchNormV3.

    Keras 3 computes training-mode BN as separate moment and element-wise ops (and their
    gradients); the fused kernel is one pass each way (BENCHMARKS.md: CifarResNet(3) and
    ResNet-50 training). Inference keeps keras' own per-channel affine: oneDNN's fused
    inference kernels are 10x slower at batch 1 on our CPUs. Masks, renorm, synchronised BN,
    inputs that are not 4-D channels-last, and GPUs (cuDNN refuses epsilon < 1.001e-5; XLA
    fuses there anyway) take keras' own path.
    """
    if not _fusable(self, inputs, training, mask):
        return keras.layers.BatchNormalization.call(self, inputs, training=training, mask=mask)
    import tensorflow as tf

    x = tf.cast(inputs, "float32")  # as keras: BN statistics in float32 under mixed precision
    channels = x.shape[-1]
    y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
        x=x,
        scale=self.gamma if self.scale else tf.ones([channels]),
        offset=self.beta if self.center else tf.zeros([channels]),
        mean=tf.zeros([0]),
        variance=tf.zeros([0]),
        epsilon=self.epsilon,
        data_format="NHWC",
        is_training=True,
    )
    # the kernel returns the unbiased batch variance; keras averages the biased one
    count = tf.cast(tf.size(x) // channels, "float32")
    variance = variance * (count - 1.0) / count
    self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
    self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
    return tf.cast(y, self.compute_dtype)


def _fusable(layer, inputs, training, mask) -> bool:
    if not (training and layer.trainable) or keras.backend.backend() != "tensorflow":
        return False
    if mask is not None or layer.renorm or layer.synchronized or len(inputs.shape) != 4 or layer.axis not in (-1, 3):
        return False
    import tensorflow as tf

    return not tf.config.list_logical_devices("GPU")


@contextmanager
def unallocated() -> Iterator[None]:
    """Models built here have their variables' shapes but no memory: Keras defers initialising
    variables made in a `StatelessScope`. They leave its list at the end, or the next scope to
    initialise variables would allocate them."""
    pending = list(global_state.get_global_attribute(UNINITIALIZED) or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute(UNINITIALIZED, pending)


@dataclass(frozen=True)
class Step:
    """One layer run on symbolic tensors: the tensors it reads and those it makes."""

    name: str
    inputs: tuple[keras.KerasTensor, ...]
    outputs: tuple[keras.KerasTensor, ...]


def graph_steps(model: keras.Model, inputs: list[keras.KerasTensor]) -> tuple[list[Step], list[keras.KerasTensor]]:
    """The layers `model` runs on symbolic `inputs`, in the order Keras runs them, those inside
    nested models included, and the model's outputs; computed from shapes alone
    (`compute_output_spec`): no tensor or variable is allocated, so a model that would take
    gigabytes is sized in milliseconds."""
    steps: list[Step] = []

    def spec(op):
        graph = getattr(op, "_functional", None) or op  # a built Sequential runs its functional graph

        def run(*args, **kwargs):
            if isinstance(graph, Function):
                return graph._run_through_graph(args[0], operation_fn=spec)
            if isinstance(op, keras.Sequential):  # not built: its layers one after another
                outputs = args[0]
                for layer in op.layers:
                    outputs = spec(layer)(outputs)
                return outputs
            outputs = op.compute_output_spec(*args, **kwargs)
            steps.append(Step(op.name, _tensors((args, kwargs)), _tensors(outputs)))
            return outputs

        return run

    outputs = spec(model)(inputs if len(inputs) > 1 else inputs[0])
    return steps, list(_tensors(outputs))


def _tensors(structure) -> tuple[keras.KerasTensor, ...]:
    return tuple(x for x in tree.flatten(structure) if isinstance(x, keras.KerasTensor))


def weights_file_bytes(model: keras.Model) -> bytes:
    """The bytes of the `.weights.h5` file `model.save_weights` writes (weights and optimizer
    state), made in memory. h5py writing to a disk that fills up fails in ways Python cannot
    catch (tracebacks printed from object destructors, a crash at exit); a plain write of bytes
    fails with one OSError."""
    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="", visited_saveables=set())
    store.h5_file.close()  # the store's own close() would close `buffer` too
    return buffer.getvalue()


def resize(images, size: tuple, *, interpolation: str, antialias: bool, data_format: str):
    """`keras.ops.image.resize` of a batch of images to `size`, whose sides may be tensors of a
    TensorFlow graph (an image size known only at run time)."""
    return backend.image.resize(images, size, interpolation=interpolation, antialias=antialias,
                                data_format=data_format)
