"""What a training run writes, such that a kill at any point (SIGKILL included) loses no
finished epoch and leaves no half-written file (every file goes through `atomic.replacing`).
Order in `fit`'s callback list: `StopOnNonFinite` first (a diverged step writes nothing),
then `RunLog`, `BestModel`, `Backup`, so an epoch's log row exists before the backup that
lets the run skip that epoch."""

from __future__ import annotations

import csv
import json
import math
import os
import stat
import time
from pathlib import Path

import h5py
import keras
import numpy as np

from keras_resnet.core.atomic import no_follow, replacing, write_bytes, write_text
from keras_resnet.core.keras_internals import weights_file_bytes
from keras_resnet.models.layers import graph_depth
from keras_resnet.pretrained.formats import check_stored_inside
from keras_resnet.training.plots import plot_error_curves

LOG_FIELDS = ("epoch", "learning_rate", "loss", "error", "val_loss", "val_error", "images_per_second", "seconds")


def run_file(path: Path) -> bool:
    """Whether a file that a resume reads back exists (False: missing) as the run wrote it: a
    regular file, not a symbolic link (to a file outside the run) nor a FIFO (which would never
    end); anything else is a ValueError naming it."""
    try:
        mode = path.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    if not stat.S_ISREG(mode):
        what = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
        raise ValueError(f"{path} is {what}; a run reads back only the regular files it wrote itself. Restore it, "
                         "or choose another `output`.")
    return True


def read_log(path: str | os.PathLike) -> list[dict]:
    """The rows of a run's `log.csv`, numbers as floats (missing values as NaN); a value that is
    not a number is a ValueError naming the file."""
    if not run_file(Path(path)):
        return []
    try:
        with open(path, newline="", opener=no_follow) as f:
            return [{k: float(v) if v not in ("", None) else math.nan for k, v in row.items()}
                    for row in csv.DictReader(f)]
    except (ValueError, TypeError, csv.Error) as e:  # UnicodeDecodeError is a ValueError
        raise ValueError(f"{path} is not a run's log: {e}. Restore it, or choose another `output`.") from None


def logged_epochs(path: str | os.PathLike) -> int:
    """How many epochs a run's `log.csv` records, checked: the columns `RunLog` writes and a
    row for each epoch from 0 in turn, so that a count read back is one the run wrote."""
    rows = read_log(path)
    for i, row in enumerate(rows):
        if tuple(row) != LOG_FIELDS or row["epoch"] != i:
            raise ValueError(f"{path}: row {i + 1} is not the log of epoch {i} (columns {list(LOG_FIELDS)}); not a "
                             "run's log. Restore it, or choose another `output`.")
    return len(rows)


def _write_log(path: Path, rows: list[dict]) -> None:
    with replacing(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, LOG_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


class RunLog(keras.callbacks.Callback):
    """`log.csv`, one row per finished epoch: the learning rate of its last step, training
    loss and error, validation loss and error, training images/s; then `curves.png`.
    `epoch` counts from 0, as Keras' `CSVLogger` and `fit(initial_epoch=)` do: row 0 is the
    console's "Epoch 1/E" (`curves.png` plots finished epochs, 1 to E).

    A resumed run drops rows of epochs it redoes (a kill between the row and the backup leaves
    one) as it writes the first row of its own, so every finished epoch appears exactly once,
    and the log is never shorter than the backup."""

    def __init__(self, output: str | os.PathLike, global_batch_size: int, plot: bool = True):
        super().__init__()
        self.path = Path(output) / "log.csv"
        self.curves = Path(output) / "curves.png"
        self.global_batch_size = global_batch_size
        self.plot = plot
        self._rows: list[dict] | None = None

    def on_epoch_begin(self, epoch, logs=None):
        if self._rows is None:  # first epoch of this process: the resume point
            self._rows = [row for row in read_log(self.path) if row["epoch"] < epoch]
        self._start, self._end, self._steps = time.perf_counter(), None, 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1
        self._end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        seconds = (self._end or time.perf_counter()) - self._start
        row = {
            "epoch": epoch,
            "learning_rate": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
            **{k: float(logs[k]) for k in LOG_FIELDS if k in logs},
            "images_per_second": self._steps * self.global_batch_size / seconds if seconds > 0 else math.nan,
            "seconds": seconds,
        }
        self._rows.append(row)
        _write_log(self.path, self._rows)
        if self.plot:
            plot_error_curves({self.model.name: {"": self._rows}}, self.curves)


class TrainingDiverged(RuntimeError):
    """The training loss or the weights became NaN or infinite; the run's files keep its last good epoch."""


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop by raising at the first step whose loss is NaN or infinite, or at the end of an
    epoch whose weights (BN statistics included) are, so that neither `RunLog`, `BestModel`
    nor `Backup` writes anything of that epoch. (Keras' `TerminateOnNaN` lets the epoch end
    run, which would back up the diverged weights and resume from them.) First in `fit`'s
    callback list."""

    def __init__(self, output: str | os.PathLike):
        super().__init__()
        self.output = Path(output)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._stop(f"the training loss became {float(loss)} in epoch {self._epoch + 1}, step {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        bad = [w.path for w in self.model.weights if not np.isfinite(keras.ops.convert_to_numpy(w)).all()]
        if bad:
            self._stop(f"{len(bad)} weights ({', '.join(bad[:2])}{', ...' if len(bad) > 2 else ''}) became NaN "
                       f"or infinite in epoch {epoch + 1}")

    def _stop(self, what: str):
        optimizer = self.model.optimizer
        raise TrainingDiverged(
            f"{what} (iteration {int(keras.ops.convert_to_numpy(optimizer.iterations))}, learning rate "
            f"{float(keras.ops.convert_to_numpy(optimizer.learning_rate)):g}); training stopped. {self.output} "
            f"keeps the last good state: backup/ (epoch {Backup.finished_epochs(self.output / 'backup')}), "
            "best.keras and log.csv. Lower `learning_rate` (or check the data) and train again to resume from "
            "there."
        )


class BestModel(keras.callbacks.Callback):
    """`best.keras`: the model of the lowest `monitor` so far; the best value survives a
    resume because it is read back from the run's log."""

    def __init__(self, output: str | os.PathLike, monitor: str = "val_error"):
        super().__init__()
        self.path = Path(output) / "best.keras"
        self.log = Path(output) / "log.csv"
        self.monitor = monitor
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        if self.best is None:
            earlier = [row[self.monitor] for row in read_log(self.log) if row["epoch"] < epoch]
            self.best = min((v for v in earlier if not math.isnan(v)), default=math.inf)
        value = (logs or {}).get(self.monitor)
        if value is not None and float(value) < self.best:
            self.best = float(value)
            save_model(self.model, self.path)


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """`model.save`, atomically (the file at `path` is always a complete model), of the network
    alone: without the training compile (its `ErrorRate` metric would need keras_resnet to load;
    the optimizer state is in the run's backup), so the file loads with Keras alone."""
    network = keras.Model(model.inputs, model.outputs, name=model.name)
    with replacing(path) as tmp, graph_depth():
        network.save(tmp)


class Backup(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` (epoch frequency), made atomic: each epoch's weights
    (with the optimizer state, iterations and learning rate) go to their own file, then one
    rename of the metadata switches to it. Keras' own writes the weights in place and the
    epoch after, so a kill in between resumes from a wrong or corrupt state. Kept after
    training by default, so re-running a finished command does nothing."""

    def __init__(self, backup_dir: str | os.PathLike, delete_checkpoint: bool = False):
        super().__init__(str(backup_dir), save_freq="epoch", delete_checkpoint=delete_checkpoint)
        self.metadata = Path(backup_dir) / "training_metadata.json"

    def _save_model(self):
        directory = self.metadata.parent
        directory.mkdir(parents=True, exist_ok=True)
        weights = directory / f"epoch-{self._current_epoch}.weights.h5"
        write_bytes(weights, weights_file_bytes(self.model))
        write_text(self.metadata, json.dumps({"epoch": self._current_epoch, "weights": weights.name}))
        for old in directory.glob("epoch-*.weights.h5"):
            if old != weights:
                old.unlink()

    @staticmethod
    def finished_epochs(backup_dir: str | os.PathLike) -> int:
        """Epochs a resumed run skips: those of the last backup in `backup_dir` (0: none)."""
        state = _backup_state(Path(backup_dir) / "training_metadata.json")
        return state[0] if state else 0

    def _load_model(self):
        state = _backup_state(self.metadata)
        if state is None:
            return
        epoch, weights = state
        # read nothing from outside the file (SECURITY.md), nor another file put at its name since
        with open(weights, "rb", opener=no_follow) as raw, h5py.File(raw, "r") as f:
            check_stored_inside(f, str(weights), os.fstat(raw.fileno()).st_size)
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(weights)
        self.model._initial_epoch = epoch  # how Keras' BackupAndRestore tells `fit`


def _backup_state(metadata: Path) -> tuple[int, Path] | None:
    """(epoch, weights file) of the backup `metadata` describes, None without one. The file is
    the run's, but may be damaged or tampered with: only its own `epoch-N.weights.h5` (N its
    epoch), a regular file in the backup directory itself (no link), is named, else a
    ValueError naming it. Whether N fits the run is `run._check_progress`'s to check."""
    if metadata.parent.is_symlink():
        raise ValueError(f"{metadata.parent} is a symbolic link; a run reads back only its own backup. Restore it, "
                         "or choose another `output`.")
    if not run_file(metadata):
        return None
    try:
        with open(metadata, "rb", opener=no_follow) as f:
            state = json.loads(f.read().decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ValueError(f"{metadata} is not a backup's metadata ({type(e).__name__}); restore or remove it.") from None
    epoch, name = (state.get("epoch"), state.get("weights")) if isinstance(state, dict) else (None, None)
    weights = metadata.parent / str(name)
    if not (type(epoch) is int and epoch >= 0 and name == f"epoch-{epoch}.weights.h5" and run_file(weights)):
        raise ValueError(f"{metadata} names epoch {epoch!r} and {name!r}, not a backup of this directory; restore or "
                         "remove it.")
    return epoch, weights
