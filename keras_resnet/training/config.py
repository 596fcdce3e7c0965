"""What a training run is: `TrainConfig` and the choices the command line offers for it, free
of Keras and TensorFlow so that `keras-resnet` parses its arguments before they load."""

from __future__ import annotations

from dataclasses import dataclass

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
