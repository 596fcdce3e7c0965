"""The paper's optimisation set-up in one place: SGD with momentum 0.9, weight decay 1e-4 on
the weights, the batch sizes, learning rates and training lengths of Sections 3.4 and 4.2
(each dataset's `config.Recipe`, its row of `training.datasets.DATASETS`). (He initialisation
and BN after every convolution are the builder's.)"""

from __future__ import annotations

import math

import keras

from keras_resnet.models.layers import all_layers
from keras_resnet.training.config import Recipe


def scaled_learning_rate(recipe: Recipe, batch_size: int) -> float:
    """The recipe's rate scaled linearly with the global batch (Goyal et al., 2017)."""
    return recipe.learning_rate * batch_size / recipe.batch_size


def total_iterations(recipe: Recipe, batch_size: int) -> int:
    """Iterations that show the model as many images as the paper's run."""
    return math.ceil(recipe.iterations * recipe.batch_size / batch_size)


def add_weight_decay(model: keras.Model, weight_decay: float) -> int:
    """L2 on every conv and dense kernel (not on BN or biases), added to the loss as
    `weight_decay / 2 * ||w||^2`, so its gradient `weight_decay * w` goes through the
    momentum as in Caffe and torch SGD (Keras' own `weight_decay=` is decoupled, ~10x weaker
    here). Returns the number of kernels decayed."""
    regularizer = keras.regularizers.L2(weight_decay / 2)
    kernels = [
        layer.kernel for layer in all_layers(model) if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))
    ]
    for kernel in kernels:
        kernel.regularizer = regularizer
    return len(kernels)


@keras.saving.register_keras_serializable(package="keras_resnet")
class ErrorRate(keras.metrics.SparseCategoricalAccuracy):
    """Top-1 error (1 - accuracy), the quantity the paper reports and schedules on."""

    def __init__(self, name: str = "error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def result(self):
        return 1.0 - super().result()


def compile_for_training(model: keras.Model, recipe: Recipe, learning_rate: float, jit_compile="auto") -> None:
    """SGD with the recipe's momentum, cross-entropy on the softmax output, top-1 error."""
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=recipe.momentum),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[ErrorRate()],
        jit_compile=jit_compile,
    )

