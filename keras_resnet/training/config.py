"""What a training run is: `TrainConfig`, the choices the command line offers for it and the
check of its values, and each dataset's `Recipe`; free of Keras and TensorFlow so that
`keras-resnet` parses and checks its arguments before they load."""

from __future__ import annotations

import math
from dataclasses import dataclass

from keras_resnet.core.architectures import parse_model_id
from keras_resnet.core.arguments import check_choice, is_integer

DATASET_NAMES = ("cifar10", "imagenet")  # the keys of `training.datasets.DATASETS`
SCHEDULES = ("cifar", "plateau", "step")
STRATEGIES = ("default", "mirrored", "multi-worker", "tpu")  # see `training.distribute.make_strategy`


def default_output(model: str) -> str:
    """The run directory of `model` when none is given."""
    return f"runs/{model}"


@dataclass
class TrainConfig:
    """A run; None means the paper's value for the dataset (see `training.datasets.DATASETS`)."""

    model: str = "cifar_resnet20"
    dataset: str = "cifar10"
    data_dir: str | None = None  # CIFAR: python batches (None: download); ImageNet: DIR/train, DIR/val
    output: str = default_output("cifar_resnet20")
    epochs: int | None = None  # None: the paper's length (64k CIFAR / 600k ImageNet iterations)
    batch_size: int | None = None  # global, over all replicas
    learning_rate: float | None = None  # None: the paper's, scaled linearly with the batch
    schedule: str | None = None  # "cifar", "plateau" or "step" (every `step_epochs`)
    step_epochs: int = 30
    patience: int = 5
    min_delta: float = 1e-3
    min_lr: float = 1e-5
    warmup: bool | None = None  # None: the paper's (CIFAR nets of 110 layers and more)
    validation_fraction: float = 0.1  # CIFAR 45k/5k; 0: train on all, validate on test
    steps_per_epoch: int | None = None
    augment: bool = True
    strategy: str = "default"
    mixed_precision: bool = False
    seed: int = 0
    plot: bool = True


def check_values(config: TrainConfig) -> None:
    """Each value's type and range, reading no file: of the arguments, and of a run's record."""
    parse_model_id(config.model)
    check_choice("schedule", config.schedule, (None, *SCHEDULES))
    check_choice("strategy", config.strategy, STRATEGIES)
    for name in ("epochs", "batch_size", "steps_per_epoch"):
        value = getattr(config, name)
        if value is not None and not is_count(value, 1):
            raise ValueError(f"`{name}` must be a positive integer or None; received {name}={value!r}.")
    if not is_count(config.seed, 0) or config.seed >= 2**32:  # what keras.utils.set_random_seed takes
        raise ValueError(f"`seed` must be an integer in [0, 2**32 - 1]; received seed={config.seed!r}.")
    for name, least in (("step_epochs", 1), ("patience", 0)):
        if not is_count(getattr(config, name), least):
            raise ValueError(f"`{name}` must be an integer >= {least}; received {name}={getattr(config, name)!r}.")
    for name in ("min_delta", "min_lr"):
        if not is_number(getattr(config, name)) or getattr(config, name) < 0:
            raise ValueError(f"`{name}` must be a finite number >= 0; received {name}={getattr(config, name)!r}.")
    if config.learning_rate is not None and not (is_number(config.learning_rate) and config.learning_rate > 0):
        raise ValueError(f"`learning_rate` must be a finite number > 0 or None; received "
                         f"learning_rate={config.learning_rate!r}.")


def is_count(value, least: int) -> bool:
    """An integer >= `least` that config.json records as such: a Python int, not numpy's."""
    return is_integer(value) and isinstance(value, int) and value >= least


def is_number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


@dataclass(frozen=True)
class Recipe:
    """One dataset's training recipe (its row of `training.datasets.DATASETS`); `iterations`
    is the length at `batch_size`."""

    batch_size: int
    learning_rate: float
    iterations: int
    schedule: str  # "cifar": /10 at 1/2 and 3/4 of the run; "plateau": /10 when val error stalls
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_lr: float = 0.01  # 110-layer CIFAR net: until the training error is below 80%
    warmup_until_error: float = 0.8
    warmup_min_depth: int = 110
