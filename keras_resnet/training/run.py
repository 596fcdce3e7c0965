"""One training run with `model.fit`, as in the paper, on one device or a `tf.distribute`
strategy: every argument is checked before anything is built, and the run writes into its
output directory `log.csv`, `curves.png`, `best.keras`, `final.keras`, `results.json`,
`classes.json` and `backup/`, from which a killed run resumes at its last finished epoch."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, fields, replace
from pathlib import Path

import keras

from keras_resnet.core.architectures import parse_model_id
from keras_resnet.core.arguments import check_choice
from keras_resnet.core.atomic import (
    CAN_LOCK,
    NO_FOLLOW,
    NotALock,
    is_lock,
    is_own_temporary,
    no_follow,
    remove_temporaries,
    same_file,
    take_lock,
    temporary,
    write_text,
)
from keras_resnet.data.cifar10 import check_validation_fraction
from keras_resnet.models.builder import build_resnet
from keras_resnet.models.preprocessing import pixel_mean
from keras_resnet.training import distribute, schedules
from keras_resnet.training.callbacks import (
    Backup,
    BestModel,
    RunLog,
    StopOnNonFinite,
    TrainingDiverged,
    logged_epochs,
    run_file,
    save_model,
)
from keras_resnet.training.config import DATASET_NAMES, Recipe, TrainConfig, check_values, is_count, is_number
from keras_resnet.training.datasets import (
    Dataset,
    ImageFolders,
    TrainingData,
    check_arguments,
    in_image_data_format,
)
from keras_resnet.training.recipe import (
    add_weight_decay,
    compile_for_training,
    scaled_learning_rate,
    total_iterations,
)

MIN_FREE_BYTES = 200 * 2**20
LOCK = ".lock"  # held (flock) by the one process training into the directory
# fields of TrainConfig that do not change what is trained, so a resume may change them; the
# data is compared by content (`data` in config.json), not by its path
FREE_ON_RESUME = ("output", "plot", "strategy", "data_dir")
MARK_KEY, MARK = "written_by", "keras-resnet train"  # in every config.json a run writes (0.2.0's lack it)
HISTORY = ("changes", "diverged")  # what a run records beyond its config: see `_check_history`
_RESOLVED = ("epochs", "batch_size", "learning_rate", "schedule", "warmup", "steps_per_epoch")  # never None there
_KINDS = {**dict.fromkeys(("model", "dataset", "output", "strategy", "data"), str),
          **dict.fromkeys(("warmup", "augment", "mixed_precision", "plot"), bool)}


def check_config(config: TrainConfig) -> Recipe:
    """Every argument, the data directory and the output directory, before any training."""
    chosen, _ = _check_arguments(config)
    output = run_directory(config)
    _earlier_run(output)  # before the check below writes into it
    _check_output(output)
    return chosen.recipe


def _check_arguments(config: TrainConfig) -> tuple[Dataset, ImageFolders | None]:
    """The dataset, and what its scan found (image folders' listing), once per run."""
    chosen = check_arguments(config)
    return chosen, chosen.scan(config)


def run_directory(config: TrainConfig) -> Path:
    """Where this process writes: `output`, or for a cluster's non-chief worker its own
    sub-directory `output/worker-N` (see `distribute.worker_directory`)."""
    worker = distribute.worker_directory()
    return Path(config.output) / worker if worker is not None else Path(config.output)


def _check_output(output: Path, need: int = MIN_FREE_BYTES) -> None:
    """Writable, with `need` bytes free: found out before training, not at the first checkpoint."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe = temporary(output / "probe")  # cleared by `remove_temporaries` if a kill leaves it
        probe.write_bytes(b"0")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"`output` directory {str(output)!r} is not writable: {e}.") from e
    free = shutil.disk_usage(output).free
    if free < need:
        raise ValueError(f"`output` directory {str(output)!r} has {free / 2**20:.0f} MiB free; this run needs "
                         f"at least {math.ceil(need / 2**20)} MiB for its checkpoints.")


@contextmanager
def holding(output: Path) -> Iterator[Callable[[], None]]:
    """One process per run directory: an exclusive `flock` on OUTPUT/.lock for the duration,
    which the OS drops when the process ends, SIGKILL included. Another holder is a ValueError
    naming its pid. Yields the function that removes the lock, which does so only where this
    process created the file (`_remove_unstarted`). Without `fcntl` (Windows) there is no lock."""
    if not CAN_LOCK:
        yield lambda: None
        return
    path = output / LOCK
    descriptor, created = _take_lock(path)

    def remove() -> None:  # while still held: a process that opened it meanwhile finds it gone
        if created and same_file(descriptor, path):
            path.unlink()

    try:
        yield remove
    finally:
        os.close(descriptor)  # releases the lock


def _take_lock(path: Path) -> tuple[int, bool]:
    """`atomic.take_lock` of the run's lock, refused at once while another process trains."""
    def refuse(descriptor: int, holder: str) -> None:
        raise ValueError(f"`output` directory {str(path.parent)!r} is in use by another training process "
                         f"(pid {holder}); wait for it to end, or choose another `output`.")

    try:
        return take_lock(path, refuse)
    except NotALock as e:
        why = f"which is not the lock of a training run ({e.why}); it is left as it is"
        raise ValueError(f"`output` directory {str(path.parent)!r} holds {path.name!r}, {why}. Remove it, or choose "
                         "another `output`.") from None


def _check_is_a_run(output: Path) -> dict | None:
    """The record (config.json) of the run in `output`, checked (`_check_record`); None for a new
    run. A directory holding files but no run is refused, so that training writes over nothing
    of the user's; what a run leaves before its config.json (the lock, temporaries, other
    workers' directories) is its own. Safe while another process trains (files are replaced whole)."""
    path = output / "config.json"
    if not run_file(path):
        foreign = sorted(p.name for p in output.iterdir() if not _is_leftover(p)) if output.is_dir() else []
        if foreign:
            raise ValueError(
                f"`output` directory {str(output)!r} holds {len(foreign)} files or folders "
                f"({', '.join(map(repr, foreign[:3]))}{', ...' if len(foreign) > 3 else ''}) but no training run "
                "(no config.json); choose a new or empty directory, so that nothing in it is overwritten."
            )
        return None
    try:
        with open(path, "rb", opener=no_follow) as f:
            run = json.loads(f.read().decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as e:  # RecursionError: nested too deep
        raise ValueError(f"`output` file {str(path)!r} is not the JSON of a run ({e}). Restore it, or choose another "
                         "`output`.") from None
    if not isinstance(run, dict):
        raise ValueError(f"`output` file {str(path)!r} must hold a JSON object (a run's config); received a "
                         f"{type(run).__name__}. Restore it, or choose another `output`.")
    _check_record(path, run)
    return run


def _earlier_run(output: Path) -> dict | None:
    """The checked record of the run in `output` (None: a new run), once what a resume reads
    back agrees with it (`_check_progress`): read while holding the run's lock."""
    run = _check_is_a_run(output)
    if run is not None:
        _check_progress(output, run)
    return run


def _is_leftover(path: Path) -> bool:
    """Whether `path`, in a directory without config.json, is what a run leaves before writing
    it: its lock, killed writers' temporaries (`atomic.temporary`), a backup/ of those alone, or
    a cluster worker's directory (`distribute.worker_directory`; that worker checks it). Not
    the classes.json written after config.json, nor a link."""
    if path.is_symlink():
        return False
    if path.name == LOCK:
        return path.is_file() and _is_own_lock(path)
    if path.name == "backup" and path.is_dir():
        return all(is_own_temporary(p) for p in path.iterdir())
    return is_own_temporary(path) or (re.fullmatch(r"worker-\d+", path.name) is not None and path.is_dir())


def _is_own_lock(path: Path) -> bool:
    try:
        descriptor = os.open(path, os.O_RDONLY | NO_FOLLOW)
    except OSError:
        return False
    try:
        return is_lock(descriptor)
    finally:
        os.close(descriptor)


def _check_record(path: Path, run: dict) -> None:
    """A config.json is trusted only as `train` writes it: every field of `TrainConfig` (those
    the recipe resolves set), the data's fingerprint and the run's history, each of the type and
    range a run records. A user's file, or one edited to another run, is refused naming what."""
    names = [f.name for f in fields(TrainConfig)]
    try:
        missing = [k for k in (*names, "data") if k not in run]
        unknown = sorted(set(run) - {*names, "data", MARK_KEY, *HISTORY})
        problems = [f"`{MARK_KEY}` is {run.get(MARK_KEY)!r}, not {MARK!r}"] if run.get(MARK_KEY, MARK) != MARK else []
        problems += [f"it lacks {missing}"] if missing else []
        problems += [f"it has fields a run does not record: {unknown}"] if unknown else []
        if problems:
            raise ValueError("; ".join(problems) + ".")
        wrong = [k for k, kind in _KINDS.items() if not isinstance(run[k], kind)]
        wrong += [k for k in _RESOLVED if run[k] is None and k not in wrong]
        wrong += [] if run["data_dir"] is None or isinstance(run["data_dir"], str) else ["data_dir"]
        if wrong:
            raise ValueError(f"{', '.join(f'{k}={run[k]!r}' for k in wrong)} is not a value a run records.")
        check_choice("dataset", run["dataset"], DATASET_NAMES)
        check_validation_fraction(run["validation_fraction"])
        check_values(TrainConfig(**{k: run[k] for k in names}))
        _check_history(run)
    except ValueError as e:
        raise ValueError(f"`output` file {str(path)!r} is not the record of a run as `keras-resnet train` writes "
                         f"it: {e} Restore it, or choose another `output`.") from None


def _check_history(run: dict) -> None:
    """A divergence and the learning rates chosen after each, as `_fit` and `_check_same_run`
    record them: a divergence at the run's rate in one of its epochs; each change a lower rate
    than the one before it, because training diverged, ending at the run's rate. (A forged one
    would let a resume change the rate, see `_check_same_run`.)"""
    epochs, rate = run["epochs"], run["learning_rate"]
    diverged = run.get("diverged")
    if "diverged" in run and not (isinstance(diverged, dict) and set(diverged) == {"epoch", "learning_rate"}
            and is_count(diverged["epoch"], 0) and diverged["epoch"] < epochs and diverged["learning_rate"] == rate):
        raise ValueError(f"`diverged`={diverged!r} is not one of the run's {epochs} epochs and its learning rate "
                         f"{rate!r}.")
    changes = run.get("changes", [])
    keys = {"epoch", "learning_rate", "was", "because"}
    if not (isinstance(changes, list) and all(isinstance(c, dict) and set(c) == keys for c in changes)):
        raise ValueError(f"`changes`={changes!r} is not a list of changes of learning rate ({sorted(keys)}).")
    rates = [c["was"] for c in changes[:1]] + [c["learning_rate"] for c in changes] or [rate]
    if not (all(is_number(r) and r > 0 for r in rates) and all(b < a for a, b in zip(rates, rates[1:]))
            and rates[-1] == rate and all(c["was"] == r for c, r in zip(changes, rates))
            and all(c["because"] == "training diverged" and is_count(c["epoch"], 0) and c["epoch"] < epochs
                    for c in changes)):
        raise ValueError(f"`changes`={changes!r} are not lower learning rates, each after a divergence, ending "
                         f"at the run's {rate!r}.")


def _check_progress(output: Path, run: dict) -> None:
    """What a resume reads back agrees with the record: the backup's epoch is one of the run's,
    log.csv has a row for each epoch up to it (and one for the next, which a kill between the
    two writes leaves), and a divergence happened at it. Otherwise the run would start over (a
    lost backup) or end (an epoch beyond the run's) without a word: refused, naming what is off."""
    epochs, backup = run["epochs"], Backup.finished_epochs(output / "backup")
    log = output / "log.csv"
    rows = logged_epochs(log)
    if backup > epochs or rows > epochs or rows not in (backup, backup + 1):
        logged = f"log.csv records {rows} finished epoch{'s' * (rows != 1)}" if run_file(log) else "log.csv is missing"
        held = f"backup/ holds epoch {backup}" if backup else "backup/ holds none (training_metadata.json is missing)"
        raise ValueError(
            f"`output` directory {str(output)!r} holds a run of {epochs} epochs whose files disagree: {logged} and "
            f"{held}. A run resumes only from its own files: restore them, or start afresh with another `output` "
            "(or once this one is removed)."
        )
    if "diverged" in run and run["diverged"]["epoch"] != backup:
        raise ValueError(f"`output` file {str(output / 'config.json')!r} records a divergence after epoch "
                         f"{run['diverged']['epoch']}, but backup/ holds epoch {backup}. Restore it, or choose another "
                         "`output`.")


def _check_same_run(output: Path, earlier: dict | None, record: dict) -> dict:
    """Resuming continues the recorded run: every field that changes what is trained must be
    as recorded (a field an older run recorded as None, the paper's value, is taken as equal).
    After a divergence, the learning rate alone may be lowered (the way to go on); the change is
    recorded. Returns the record to write."""
    if earlier is None:
        return record
    compared = [f.name for f in fields(TrainConfig) if f.name not in FREE_ON_RESUME] + ["data"]
    differ = [k for k in compared if earlier.get(k) is not None and earlier[k] != record[k]]
    changes = list(earlier.get("changes", []))
    diverged = "diverged" in earlier and differ == ["learning_rate"]
    if diverged and record["learning_rate"] < earlier["learning_rate"]:
        changes.append({"epoch": earlier["diverged"]["epoch"], "learning_rate": record["learning_rate"],
                        "was": earlier["learning_rate"], "because": "training diverged"})
        differ = []
    if differ:
        def listed(values: dict) -> str:
            return ", ".join(f"{k}={values[k]!r}" for k in differ)

        lower = " After its divergence, only a lower learning rate resumes it." if diverged else ""
        raise ValueError(
            f"`output` {str(output)!r} holds a run with {listed(earlier)}; received {listed(record)}.{lower} Resume "
            "with the recorded values or choose another `output`."
        )
    return {**record, "changes": changes} if changes else record


def checkpoint_bytes(model) -> int:
    """Disk a run's checkpoints can take at once: the weights (float32) 8 times over, as two
    backups of weights and momentum, and best.keras and final.keras each with its replacement."""
    return 8 * 4 * model.count_params()


def train(config: TrainConfig):
    """Train as configured; returns (model, results). Re-running the same config resumes; one
    process at a time per output directory."""
    chosen, listing = _check_arguments(config)
    output = run_directory(config)
    _check_is_a_run(output)  # before anything is written into it; the run itself is read once locked
    created = [p for p in (output, *output.parents) if not p.exists()]
    _check_output(output)
    with holding(output) as remove_lock:
        try:
            return _train(config, chosen, listing, output, _earlier_run(output))
        except BaseException:
            if not os.path.lexists(output / "config.json"):  # the run never started: leave nothing behind
                _remove_unstarted(remove_lock, created)
            raise


def _remove_unstarted(remove_lock: Callable[[], None], created: list[Path]) -> None:
    """The lock, if this process created it, and the directories this call created (deepest
    first), each only if empty: removing never touches a file that is not the run's own."""
    remove_lock()
    for directory in created:
        with suppress(OSError):  # not empty: kept, and so are the directories above it
            directory.rmdir()


def _train(config: TrainConfig, chosen: Dataset, listing: ImageFolders | None, output: Path, earlier: dict | None):
    """The checked run: its data and resolved values (recorded in config.json, or compared with
    those an earlier run recorded), then the model, fitted, saved and tested."""
    recipe = chosen.recipe
    strategy = distribute.make_strategy(config.strategy)
    batch_size = config.batch_size or recipe.batch_size
    distribute.check_global_batch(batch_size, strategy.num_replicas_in_sync)
    keras.utils.set_random_seed(config.seed)

    data = in_image_data_format(chosen.load(config, batch_size, listing))
    data = replace(data, validation=distribute.whole_replica_batches(data.validation, batch_size, strategy),
                   test=distribute.whole_replica_batches(data.test, batch_size, strategy))
    record, iterations = _resolve(config, recipe, data, batch_size)
    record = _check_same_run(output, earlier, record)
    remove_temporaries(output, output / "backup")
    distribute.mixed_precision_policy(config.mixed_precision)

    resumed_from = Backup.finished_epochs(output / "backup") if earlier is not None else 0
    model = _compiled_model(config.model, recipe, data, strategy, record["learning_rate"])
    _check_output(output, MIN_FREE_BYTES + checkpoint_bytes(model))

    write_text(output / "config.json", json.dumps(record, indent=1))  # first: it makes the directory a run
    write_text(output / "classes.json", json.dumps(list(data.class_names), indent=1))
    with distribute.fitting(strategy):  # keras.distribution (JAX) distributes the batches of `fit` in scope
        _fit(model, data, output, record, recipe, iterations)
        save_model(model, output / "final.keras")
        loss, error = model.evaluate(data.test, verbose=0)
    results = {"model": config.model, "dataset": config.dataset, "test_error": float(error),
               "test_loss": float(loss), "epochs": record["epochs"], "steps_per_epoch": record["steps_per_epoch"],
               "batch_size": batch_size, "learning_rate": record["learning_rate"],
               "iterations": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
               "resumed_from_epoch": resumed_from}  # == epochs: the run had finished, and was only tested again
    write_text(output / "results.json", json.dumps(results, indent=1))
    return model, results


def _resolve(config: TrainConfig, recipe: Recipe, data: TrainingData, batch_size: int) -> tuple[dict, int]:
    """The run's record (config.json: the config with the recipe's values for what it leaves
    None) and its total iterations."""
    steps = config.steps_per_epoch or data.train_size // batch_size
    if steps < 1:
        raise ValueError(f"`batch_size` {batch_size} is larger than the {data.train_size} training images.")
    learning_rate = config.learning_rate or scaled_learning_rate(recipe, batch_size)
    iterations = total_iterations(recipe, batch_size) if config.epochs is None else config.epochs * steps
    epochs = config.epochs or math.ceil(iterations / steps)
    arch, _ = parse_model_id(config.model)
    warmup = config.warmup if config.warmup is not None else (
        recipe.schedule == "cifar" and arch.depth >= recipe.warmup_min_depth
    )
    record = {MARK_KEY: MARK, **asdict(config), "epochs": epochs, "batch_size": batch_size,
              "learning_rate": learning_rate, "schedule": config.schedule or recipe.schedule, "warmup": warmup,
              "steps_per_epoch": steps, "data": data.fingerprint}
    return record, iterations


def _compiled_model(model_id: str, recipe: Recipe, data: TrainingData, strategy, learning_rate: float) -> keras.Model:
    """The network for `data` (its classes, input shape and pixel mean), with the recipe's
    weight decay and optimizer, built in the strategy's scope."""
    arch, residual = parse_model_id(model_id)
    with strategy.scope():
        mean = data.mean
        model = build_resnet(
            arch,
            residual=residual,
            classes=len(data.class_names),
            input_shape=mean.shape,
            include_preprocessing=pixel_mean(mean),
        )
        add_weight_decay(model, recipe.weight_decay)
        if strategy.num_replicas_in_sync > 1:
            distribute.synchronize_batchnorm(model)
        compile_for_training(model, recipe, learning_rate)
    return model


def _fit(model: keras.Model, data: TrainingData, output: Path, record: dict, recipe: Recipe, iterations: int) -> None:
    """`model.fit` of the recorded run, from its last backup; a divergence is recorded in
    config.json (a resume may then lower the learning rate, see `_check_same_run`)."""
    steps, batch_size, learning_rate = record["steps_per_epoch"], record["batch_size"], record["learning_rate"]
    callbacks = [
        StopOnNonFinite(output),
        _schedule(record, recipe, learning_rate, iterations, record["epochs"]),
        RunLog(output, batch_size, plot=record["plot"]),
        BestModel(output),
        Backup(output / "backup"),
    ]
    # the stream from where the last backup left it, so a resumed run sees the same batches
    start = Backup.finished_epochs(output / "backup") * steps * batch_size
    try:
        model.fit(
            data.train(start),
            epochs=record["epochs"],
            steps_per_epoch=steps,
            validation_data=data.validation,
            callbacks=callbacks,
            verbose=1 if sys.stdout.isatty() else 2,  # progress bar on a terminal, a line per epoch in logs
            shuffle=False,  # the pipeline shuffles
        )
    except TrainingDiverged:
        diverged = {"epoch": Backup.finished_epochs(output / "backup"), "learning_rate": learning_rate}
        write_text(output / "config.json", json.dumps({**record, "diverged": diverged}, indent=1))
        raise


def _schedule(record: dict, recipe: Recipe, learning_rate: float, iterations: int, epochs: int):
    """The learning-rate schedule of the recorded run (`record`: config.json, values resolved)."""
    if record["schedule"] == "cifar":
        return schedules.IterationSchedule(
            schedules.step_decay(learning_rate, schedules.cifar_milestones(iterations)),
            warmup_lr=recipe.warmup_lr * learning_rate / recipe.learning_rate if record["warmup"] else None,
            warmup_until_error=recipe.warmup_until_error,
            stop_at=iterations,
        )
    if record["schedule"] == "step":
        return keras.callbacks.LearningRateScheduler(
            schedules.step_decay(learning_rate, schedules.every(record["step_epochs"], epochs))
        )
    return schedules.plateau(record["patience"], record["min_delta"], record["min_lr"])
