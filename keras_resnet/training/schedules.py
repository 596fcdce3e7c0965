"""The paper's learning-rate schedules, as Keras callbacks.

CIFAR-10 (Section 4.2): 0.1, divided by 10 at 32k and 48k iterations, stop at 64k; the
110-layer net first warms up at 0.01 until the training error is below 80%. ImageNet
(Section 3.4): 0.1, divided by 10 when the validation error plateaus; re-implementations
mostly divide every 30 epochs instead. Milestones fall mid-epoch, so the CIFAR schedule is
applied per iteration; per-epoch schedules go through `keras.callbacks.LearningRateScheduler`.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import keras

CIFAR_MILESTONES = (0.5, 0.75)  # 32k and 48k of the 64k iterations
DECAY = 0.1


@dataclass(frozen=True)
class StepDecay:
    """`t -> base_lr * factor ** (milestones passed)`; `t` counts iterations or epochs.

    For epochs, pass it to `keras.callbacks.LearningRateScheduler`; for iterations, to
    `IterationSchedule`. Milestone m takes effect at step m (0-based), as in Caffe's multistep.
    """

    base_lr: float
    milestones: tuple[int, ...]
    factor: float = DECAY

    def __call__(self, t: int, lr: float | None = None) -> float:
        return float(self.base_lr * self.factor ** bisect.bisect_right(self.milestones, t))


def step_decay(base_lr: float, milestones: Sequence[int], factor: float = DECAY) -> StepDecay:
    """The `StepDecay` of `milestones` in any order."""
    return StepDecay(base_lr, tuple(sorted(int(m) for m in milestones)), factor)


def crowded_epochs(milestones: Sequence[int], steps_per_epoch: int, total: int) -> dict[int, tuple[int, ...]]:
    """{epoch (1-based): its milestones} for each epoch in which two or more of the milestones
    below `total` iterations take effect: the rates between them end no epoch, so no per-epoch
    log shows them (a CIFAR schedule shortened to 1 or 2 epochs)."""
    by_epoch: dict[int, list[int]] = {}
    for m in milestones:
        if 0 < m < total:
            by_epoch.setdefault(m // steps_per_epoch + 1, []).append(m)
    return {epoch: tuple(ms) for epoch, ms in by_epoch.items() if len(ms) > 1}


def cifar_milestones(total_iterations: int) -> tuple[int, ...]:
    """The paper's CIFAR milestones scaled to a run: (32000, 48000) for 64000 iterations."""
    return tuple(round(total_iterations * f) for f in CIFAR_MILESTONES)


def every(period: int, total: int) -> tuple[int, ...]:
    """Milestones every `period` steps below `total`: the common ImageNet form (period=30 epochs)."""
    return tuple(range(period, total, period))


class IterationSchedule(keras.callbacks.Callback):
    """Per-iteration `LearningRateScheduler`: before each step, lr = `schedule(iteration)`.

    The iteration is the optimizer's own counter, which `BackupAndRestore` restores, so a
    resumed run continues the schedule exactly; with `stop_at`, training stops after that
    iteration (the paper's 64k), mid-epoch if need be. With `warmup_lr`, the rate is `warmup_lr`
    until the running training error of the epoch (`logs["error"]`) first falls below
    `warmup_until_error` (the paper's 110-layer warm-up). On resume the warm-up re-checks the
    restored model, which ends it after one step if the model was already past it.
    """

    def __init__(
        self,
        schedule: Callable[[int], float],
        warmup_lr: float | None = None,
        warmup_until_error: float = 0.8,
        stop_at: int | None = None,
    ):
        super().__init__()
        self.schedule = schedule
        self.stop_at = stop_at
        self.warmup_lr = warmup_lr
        self.warmup_until_error = warmup_until_error
        self.warming_up = warmup_lr is not None

    def on_train_begin(self, logs=None):
        """With `fit`'s output on, say so when the run is too short for its milestones (see `crowded_epochs`)."""
        steps, epochs = self.params.get("steps"), self.params.get("epochs")
        if not (self.params.get("verbose") and steps and epochs and isinstance(self.schedule, StepDecay)):
            return
        total = min(steps * epochs, self.stop_at or steps * epochs)
        for epoch, milestones in crowded_epochs(self.schedule.milestones, steps, total).items():
            print(f"note: the learning rate is divided at iterations {' and '.join(map(str, milestones))}, within "
                  f"epoch {epoch} of {epochs} ({steps} steps each): the rates between last less than an epoch and "
                  "no log row shows them; more epochs give each rate an epoch of its own.", flush=True)

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        iteration = int(keras.ops.convert_to_numpy(optimizer.iterations))
        optimizer.learning_rate = self.warmup_lr if self.warming_up else self.schedule(iteration)

    def on_train_batch_end(self, batch, logs=None):
        iteration = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        if self.stop_at is not None and iteration >= self.stop_at:
            self.model.stop_training = True
        if self.warming_up and logs and "error" in logs and float(logs["error"]) < self.warmup_until_error:
            self.warming_up = False


def plateau(patience: int = 5, min_delta: float = 1e-3, min_lr: float = 1e-5) -> keras.callbacks.ReduceLROnPlateau:
    """The paper's ImageNet rule: divide by 10 when the validation error stops improving by
    `min_delta` for `patience` epochs, down to `min_lr`."""
    return keras.callbacks.ReduceLROnPlateau(
        monitor="val_error", mode="min", factor=DECAY, patience=patience, min_delta=min_delta, min_lr=min_lr
    )
