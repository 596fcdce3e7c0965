"""One training run with `model.fit`, as in the paper, on one device or a `tf.distribute`
strategy: every argument is checked before anything is built, and the run writes into its
output directory `log.csv`, `curves.png`, `best.keras`, `final.keras`, `results.json`,
`classes.json` and `backup/`, from which a killed run resumes at its last finished epoch."""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from keras_resnet.distribute import STRATEGIES, worker_directory
from keras_resnet.registry import parse_model_id
from keras_resnet.training import RECIPES, Recipe, recipe_for
from keras_resnet.validation import check_choice

DATASETS = tuple(RECIPES)
SCHEDULES = ("cifar", "plateau", "step")
MIN_FREE_BYTES = 200 * 2**20


@dataclass
class TrainConfig:
    """A run; None means the paper's value for the dataset (see `training.RECIPES`)."""

    model: str = "cifar_resnet20"
    dataset: str = "cifar10"
    data_dir: str | None = None  # CIFAR: python batches (None: download); ImageNet: DIR/train, DIR/val
    output: str = "runs/cifar_resnet20"
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


def check_config(config: TrainConfig) -> Recipe:
    """Every argument, the data directory and the output directory, before any training."""
    recipe = recipe_for(config.dataset)
    parse_model_id(config.model)
    check_choice("schedule", config.schedule, (None, *SCHEDULES))
    check_choice("strategy", config.strategy, STRATEGIES)
    for name in ("epochs", "batch_size", "steps_per_epoch"):
        value = getattr(config, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"`{name}` must be a positive integer or None; received {name}={value!r}.")
    if config.learning_rate is not None and not config.learning_rate > 0:
        raise ValueError(f"`learning_rate` must be positive; received learning_rate={config.learning_rate!r}.")
    if config.dataset == "cifar10":
        from keras_resnet.data import check_cifar10_dir, check_validation_fraction

        check_validation_fraction(config.validation_fraction)
        if config.data_dir is not None:
            check_cifar10_dir(config.data_dir)
    else:
        from keras_resnet.folders import list_images

        if config.data_dir is None:
            raise ValueError("dataset='imagenet' needs `data_dir` with train/ and val/ class folders.")
        for split in ("train", "val"):
            list_images(Path(config.data_dir) / split)
    _check_output(Path(config.output))
    _check_same_run(config)
    return recipe


def _check_output(output: Path, need: int = MIN_FREE_BYTES) -> None:
    """Writable, with `need` bytes free: found out before training, not at the first checkpoint."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe = output / f".probe-{os.getpid()}"
        probe.write_bytes(b"0")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"`output` directory {str(output)!r} is not writable: {e}.") from e
    free = shutil.disk_usage(output).free
    if free < need:
        raise ValueError(f"`output` directory {str(output)!r} has {free / 2**20:.0f} MiB free; this run needs "
                         f"at least {math.ceil(need / 2**20)} MiB for its checkpoints.")


def _check_same_run(config: TrainConfig) -> None:
    """Re-running resumes, so an output directory holding another model's or dataset's run is refused."""
    earlier = Path(config.output) / "config.json"
    if not earlier.is_file():
        return
    run = json.loads(earlier.read_text())
    for name in ("model", "dataset"):
        if run.get(name) != getattr(config, name):
            raise ValueError(
                f"`output` directory {config.output!r} holds a run of {name}={run.get(name)!r}, which re-running "
                f"would resume; received {name}={getattr(config, name)!r}. Choose another `output`."
            )


def checkpoint_bytes(model) -> int:
    """Disk a run's checkpoints can take at once: the weights (float32) 8 times over, as two
    backups of weights and momentum, and best.keras and final.keras each with its replacement."""
    return 8 * 4 * model.count_params()


def train(config: TrainConfig):
    """Train as configured; returns (model, results). Re-running the same config resumes."""
    recipe = check_config(config)
    import keras

    from keras_resnet import distribute
    from keras_resnet.builders import build_resnet
    from keras_resnet.atomic import remove_temporaries, write_text
    from keras_resnet.callbacks import Backup, BestModel, RunLog, StopOnNonFinite, save_model
    from keras_resnet.preprocessing import PixelMean
    from keras_resnet.training import add_weight_decay, compile_for_training, scaled_learning_rate, total_iterations

    strategy = distribute.make_strategy(config.strategy)
    batch_size = config.batch_size or recipe.batch_size
    distribute.check_global_batch(batch_size, strategy.num_replicas_in_sync)
    output = Path(config.output)
    worker = worker_directory()
    if worker is not None:  # other workers train too, but keep their files to themselves
        output = output / worker
        _check_output(output)
    remove_temporaries(output, output / "backup")
    distribute.mixed_precision_policy(config.mixed_precision)
    keras.utils.set_random_seed(config.seed)

    data = _load_data(config, batch_size)
    steps = config.steps_per_epoch or data["train_size"] // batch_size
    if steps < 1:
        raise ValueError(f"`batch_size` {batch_size} is larger than the {data['train_size']} training images.")
    learning_rate = config.learning_rate or scaled_learning_rate(recipe, batch_size)
    iterations = total_iterations(recipe, batch_size) if config.epochs is None else config.epochs * steps
    epochs = config.epochs or math.ceil(iterations / steps)
    arch, residual = parse_model_id(config.model)

    with strategy.scope():
        mean = data["mean"]
        model = build_resnet(
            arch,
            residual=residual,
            classes=len(data["class_names"]),
            input_shape=mean.shape,
            include_preprocessing=PixelMean(mean.shape, mean, name="pixel_mean"),
        )
        add_weight_decay(model, recipe.weight_decay)
        if strategy.num_replicas_in_sync > 1:
            distribute.synchronize_batchnorm(model)
        compile_for_training(model, recipe, learning_rate)
    _check_output(output, MIN_FREE_BYTES + checkpoint_bytes(model))

    write_text(output / "classes.json", json.dumps(list(data["class_names"]), indent=1))
    write_text(output / "config.json", json.dumps(asdict(config), indent=1))
    callbacks = [
        StopOnNonFinite(output),
        _schedule(config, recipe, learning_rate, iterations, epochs, arch.depth),
        RunLog(output, batch_size, plot=config.plot),
        BestModel(output),
        Backup(output / "backup"),
    ]
    # the stream from where the last backup left it, so a resumed run sees the same batches
    start = Backup.finished_epochs(output / "backup") * steps * batch_size
    model.fit(
        data["train"](start),
        epochs=epochs,
        steps_per_epoch=steps,
        validation_data=data["validation"],
        callbacks=callbacks,
        verbose=1 if sys.stdout.isatty() else 2,  # progress bar on a terminal, a line per epoch in logs
        shuffle=False,  # the pipeline shuffles
    )
    save_model(model, output / "final.keras")
    loss, error = model.evaluate(data["test"], verbose=0)
    results = {"model": config.model, "dataset": config.dataset, "test_error": float(error),
               "test_loss": float(loss), "epochs": epochs, "steps_per_epoch": steps, "batch_size": batch_size,
               "learning_rate": learning_rate, "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations))}
    write_text(output / "results.json", json.dumps(results, indent=1))
    return model, results


def _schedule(config: TrainConfig, recipe: Recipe, learning_rate: float, iterations: int, epochs: int, depth: int):
    import keras

    from keras_resnet import schedules

    name = config.schedule or recipe.schedule
    if name == "cifar":
        warmup = config.warmup if config.warmup is not None else (
            recipe.schedule == "cifar" and depth >= recipe.warmup_min_depth
        )
        return schedules.IterationSchedule(
            schedules.step_decay(learning_rate, schedules.cifar_milestones(iterations)),
            warmup_lr=recipe.warmup_lr * learning_rate / recipe.learning_rate if warmup else None,
            warmup_until_error=recipe.warmup_until_error,
            stop_at=iterations,
        )
    if name == "step":
        return keras.callbacks.LearningRateScheduler(
            schedules.step_decay(learning_rate, schedules.every(config.step_epochs, epochs))
        )
    return schedules.plateau(config.patience, config.min_delta, config.min_lr)


def _load_data(config: TrainConfig, batch_size: int) -> dict:
    """Datasets of (uint8/float 0-255 images, labels), the training one as a function of the
    image it starts at; the training mean image, class names."""
    if config.dataset == "cifar10":
        from keras_resnet import data

        splits = data.cifar10(config.data_dir, config.validation_fraction)
        train_images, train_labels = splits.train
        validation = splits.validation if len(splits.validation[0]) else splits.test
        return {
            "train": lambda start: data.pipeline(train_images, train_labels, batch_size, training=True,
                                                 augment=config.augment, seed=config.seed, start=start),
            "validation": data.pipeline(*validation, batch_size, training=False),
            "test": data.pipeline(*splits.test, batch_size, training=False),
            "train_size": len(train_images),
            "mean": data.pixel_mean(train_images),
            "class_names": data.CIFAR10_CLASSES,
        }
    from keras_resnet import folders

    paths, labels, class_names = folders.list_images(Path(config.data_dir) / "train")
    val_paths, val_labels, val_names = folders.list_images(Path(config.data_dir) / "val")
    if val_names != class_names:
        raise ValueError(f"`data_dir` {config.data_dir!r}: train/ and val/ must have the same class folders.")
    validation = folders.pipeline(val_paths, val_labels, batch_size, training=False)
    return {
        "train": lambda start: folders.pipeline(paths, labels, batch_size, training=True, seed=config.seed, start=start),
        "validation": validation,
        "test": validation,  # ImageNet's test labels are not public; the paper reports val
        "train_size": len(paths),
        "mean": folders.mean_image(paths, seed=config.seed),
        "class_names": class_names,
    }
