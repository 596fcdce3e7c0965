"""The paper's learning-rate schedules: as functions, and as applied by real `fit` runs
(read back from the run's log.csv)."""

import math

import pytest

from keras_resnet.training import schedules
from keras_resnet.training.callbacks import read_log
from keras_resnet.training.datasets import DATASETS
from keras_resnet.training.recipe import scaled_learning_rate, total_iterations


def test_cifar_schedule_is_the_papers():
    """0.1, /10 at 32k and 48k iterations, 64k in all (Section 4.2)."""
    recipe = DATASETS["cifar10"].recipe
    iterations = total_iterations(recipe, 128)
    assert iterations == 64_000
    assert schedules.cifar_milestones(iterations) == (32_000, 48_000)
    lr = schedules.step_decay(scaled_learning_rate(recipe, 128), schedules.cifar_milestones(iterations))
    assert [lr(t) for t in (0, 31_999, 32_000, 47_999, 48_000, 63_999)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_batch_scaling_keeps_the_images_seen():
    """Global batch 512: lr 0.4 (linear scaling), a quarter of the iterations; ImageNet 600k at 256."""
    recipe = DATASETS["cifar10"].recipe
    assert scaled_learning_rate(recipe, 512) == pytest.approx(0.4)
    assert total_iterations(recipe, 512) * 512 == 64_000 * 128
    assert total_iterations(DATASETS["imagenet"].recipe, 256) == 600_000


def test_imagenet_step_form_divides_every_30_epochs():
    lr = schedules.step_decay(0.1, schedules.every(30, 90))
    assert [lr(e) for e in (0, 29, 30, 59, 60, 89)] == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def _expected(rows, base, milestones, warmup_lr=None, until=0.8):
    """lr of each single-step epoch: the warm-up rate until an earlier step's error < until."""
    expected, warming = [], warmup_lr is not None
    for row in rows:
        t = int(row["epoch"])
        expected.append(warmup_lr if warming else base * 0.1 ** sum(t >= m for m in milestones))
        warming = warming and not row["error"] < until
    return expected


@pytest.mark.slow
def test_applied_cifar_schedule_with_warmup(shared, tmp_path):
    """A real run, one step per epoch, so each log row holds the rate of exactly one step:
    milestones at 1/2 and 3/4 of the 16 iterations, and the 110-layer warm-up (lr/10 until the
    training error is below 80%) switched on for a small net."""
    from keras_resnet.training.run import TrainConfig, train

    config = TrainConfig(model="cifar_resnet8", data_dir=str(shared / "cifar-10-batches-py"), output=str(tmp_path),
                         epochs=16, steps_per_epoch=1, batch_size=64, learning_rate=0.1, warmup=True, plot=False)
    _, results = train(config)
    rows = read_log(tmp_path / "log.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(16)) and results["iterations"] == 16
    applied = [r["learning_rate"] for r in rows]
    assert applied == pytest.approx(_expected(rows, 0.1, (8, 12), warmup_lr=0.01), rel=1e-6)
    assert applied[0] == pytest.approx(0.01) and max(applied[:8]) == pytest.approx(0.1), "warm-up must start and end"


@pytest.mark.slow
def test_applied_step_and_plateau_schedules(shared, tmp_path):
    """The per-epoch forms: /10 every 2 epochs, and /10 after `patience` epochs without a
    validation improvement (Keras' ReduceLROnPlateau, monitored on val_error)."""
    from keras_resnet.training.run import TrainConfig, train

    common = dict(model="cifar_resnet8", data_dir=str(shared / "cifar-10-batches-py"), epochs=6, steps_per_epoch=1,
                  batch_size=32, learning_rate=0.1, plot=False)
    train(TrainConfig(**common, output=str(tmp_path / "step"), schedule="step", step_epochs=2))
    assert [r["learning_rate"] for r in read_log(tmp_path / "step" / "log.csv")] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rel=1e-6)

    train(TrainConfig(**common, output=str(tmp_path / "plateau"), schedule="plateau", patience=1, min_delta=0.5))
    rows = read_log(tmp_path / "plateau" / "log.csv")
    lr, best, wait = 0.1, math.inf, 0  # Keras' rule, replayed on the logged validation errors
    for row in rows:
        assert row["learning_rate"] == pytest.approx(lr, rel=1e-6)
        if row["val_error"] < best - 0.5:
            best, wait = row["val_error"], 0
        else:
            wait += 1
            if wait >= 1:
                lr, wait = max(lr * 0.1, 1e-5), 0
    assert rows[-1]["learning_rate"] < 0.1


def test_crowded_epochs_are_those_of_a_cifar_schedule_shortened_below_3_epochs():
    """Milestones at 1/2 and 3/4 of 10-step epochs: 1 or 2 epochs put both in the last epoch,
    3 epochs or more give each its own."""
    assert schedules.crowded_epochs(schedules.cifar_milestones(10), 10, 10) == {1: (5, 8)}
    assert schedules.crowded_epochs(schedules.cifar_milestones(20), 10, 20) == {2: (10, 15)}
    assert schedules.crowded_epochs(schedules.cifar_milestones(30), 10, 30) == {}
    assert schedules.crowded_epochs((5, 8), 10, 6) == {}, "a milestone past the run's end never applies"


def _fit_with_cifar_schedule(epochs: int, steps: int) -> list[float]:
    """A real `fit` of a tiny model under the CIFAR schedule; the rate of each step."""
    import keras
    import numpy as np

    rates = []
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: rates.append(float(model.optimizer.learning_rate.numpy())))
    iterations = epochs * steps
    schedule = schedules.IterationSchedule(schedules.step_decay(0.1, schedules.cifar_milestones(iterations)),
                                           stop_at=iterations)
    model.fit(np.ones((4 * steps, 2)), np.ones(4 * steps), batch_size=4, epochs=epochs, verbose=2,
              callbacks=[schedule, record])
    return rates


def test_a_run_too_short_for_its_schedule_says_so_and_keeps_the_schedule(capsys):
    """2 epochs of 4 steps: /10 at iterations 4 and 6, both in epoch 2, so the 0.01 phase ends
    no epoch: a note says so, and the rates stay the paper's shape. 3 epochs: no note."""
    assert _fit_with_cifar_schedule(2, 4) == pytest.approx([0.1] * 4 + [0.01] * 2 + [0.001] * 2)
    out = capsys.readouterr().out
    assert "note: the learning rate is divided at iterations 4 and 6, within epoch 2 of 2 (4 steps each)" in out
    _fit_with_cifar_schedule(3, 4)
    assert "note:" not in capsys.readouterr().out
