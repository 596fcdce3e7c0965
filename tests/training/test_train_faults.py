"""Faults during training lose nothing: a diverging loss stops the run with a clear message
and every file at its last good epoch; a full or read-only disk is reported before training
starts; a disk that fills up mid-run stops it with every file intact, and the run resumes
once there is room. The disks are real: a tmpfs mounted in a private mount namespace."""

import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from conftest import in_namespace, keras_resnet_exe, keras_resnet_main
from references import h5_datasets

from keras_resnet.evaluation.predict import load_trained
from keras_resnet.training.callbacks import read_log

EPOCHS, STEPS, BATCH = 8, 3, 32


def train_args(shared, output, *extra) -> list[str]:
    return ["train", "--model", "cifar_resnet8", "--data-dir", str(shared / "cifar-10-batches-py"), "--output",
            str(output), "--epochs", str(EPOCHS), "--steps-per-epoch", str(STEPS), "--batch-size", str(BATCH),
            "--no-plot", *extra]


def backup_state(output) -> tuple[int, list[np.ndarray]]:
    """The backup's epoch and its weight arrays (h5py, independent of Keras)."""
    metadata = json.loads((output / "backup" / "training_metadata.json").read_text())
    with h5py.File(output / "backup" / metadata["weights"]) as f:
        return metadata["epoch"], list(h5_datasets(f).values())


@pytest.mark.slow
def test_divergence_stops_the_run_and_keeps_the_last_good_epoch(shared, tmp_path, capsys):
    """Two good epochs, then the run resumed at a learning rate that overflows (its config.json
    rewritten to say so, as a resume may not change it): it stops at the first non-finite loss
    or weight; every file keeps epoch 2; a lower rate, allowed after a divergence and recorded,
    resumes from there."""
    output = tmp_path / "run"
    assert keras_resnet_main(capsys, *train_args(shared, output, "--epochs", "2")).returncode == 0
    rows, final = read_log(output / "log.csv"), (output / "final.keras").read_bytes()
    recorded = json.loads((output / "config.json").read_text())
    (output / "config.json").write_text(json.dumps({**recorded, "epochs": EPOCHS, "learning_rate": 1e5}))
    diverged = keras_resnet_main(capsys, *train_args(shared, output, "--learning-rate", "1e5"))
    assert diverged.returncode == 1 and "Traceback" not in diverged.stderr, diverged.stderr[-3000:]
    assert re.search(r"(the training loss became (nan|inf) in epoch 3, step \d|\d+ weights \(.+\) became "
                     r"NaN or infinite in epoch 3) \(iteration \d+, learning rate 100000\); training stopped",
                     diverged.stderr), diverged.stderr
    for words in ("backup/ (epoch 2)", "best.keras", "Lower --learning-rate"):
        assert words in diverged.stderr, diverged.stderr
    assert read_log(output / "log.csv") == rows and (output / "final.keras").read_bytes() == final
    epoch, arrays = backup_state(output)
    assert epoch == 2 and all(np.isfinite(a).all() for a in arrays if a.dtype.kind == "f")
    assert all(np.isfinite(np.asarray(w)).all() for w in load_trained(output / "best.keras").weights)
    assert not list(output.rglob(".tmp-*"))

    resumed = keras_resnet_main(capsys, *train_args(shared, output, "--learning-rate", "0.01"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Epoch 3/{EPOCHS}" in resumed.stdout and f"Epoch 2/{EPOCHS}" not in resumed.stdout
    after = read_log(output / "log.csv")
    assert [int(r["epoch"]) for r in after] == list(range(EPOCHS)) and after[:2] == rows
    assert json.loads((output / "config.json").read_text())["changes"] == [
        {"epoch": 2, "learning_rate": 0.01, "was": 1e5, "because": "training diverged"}]
    again = keras_resnet_main(capsys, *train_args(shared, output, "--learning-rate", "0.001"))  # no divergence: refused
    assert again.returncode == 2 and "holds a run with --learning-rate 0.01; received --learning-rate 0.001" in (
        again.stderr)


def cli(arguments: list[str]) -> str:
    """The keras-resnet command line as a shell string, for `in_namespace` scripts."""
    return " ".join(f"'{a}'" for a in [keras_resnet_exe(), *arguments])


@pytest.mark.parametrize("disk, refusal", [
    ("size=64m", r"has \d+ MiB free; this run needs at least 20\d MiB"),
    ("ro", r"is not writable: \[Errno 30\] Read-only file system"),
])
def test_full_or_read_only_disk_is_reported_before_training(shared, tmp_path, disk, refusal):
    mount = tmp_path / "disk"
    mount.mkdir()
    result = in_namespace(f"mount -t tmpfs -o {disk} tmpfs {mount} && {cli(train_args(shared, mount / 'run'))}; "
                          f"echo exit=$?; ls -A {mount}/run 2>/dev/null | wc -l")
    assert "exit=2" in result.stdout and re.search(refusal, result.stderr), result.stdout + result.stderr[-3000:]
    assert "--output directory" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout.strip().endswith("0") and "Epoch 1/" not in result.stdout  # nothing written, not one step


@pytest.mark.slow
def test_disk_filling_up_mid_run_loses_nothing(shared, tmp_path):
    """A disk just big enough to pass the check fills up after two epochs (another program's
    file, written while the run is stopped, so that its next write is the first to fail): the
    run stops with a clear error, the files hold the last finished epoch, and once the space is
    freed the same command resumes and finishes."""
    mount, run, epochs = tmp_path / "disk", tmp_path / "disk" / "run", 6  # 2 to fill after, 4 left to fail in
    mount.mkdir()
    script = f"""
mount -t tmpfs -o size=206m tmpfs {mount} || exit 99
{cli(train_args(shared, run, "--epochs", str(epochs)))} > {tmp_path}/first.out 2> {tmp_path}/first.err &
pid=$!
while [ "$(cat {run}/log.csv 2>/dev/null | wc -l)" -lt 3 ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done
kill -STOP $pid
dd if=/dev/zero of={mount}/filler bs=1M 2>/dev/null
kill -CONT $pid
wait $pid; echo first=$?
cp -a {run} {tmp_path}/after_full
rm {mount}/filler
{cli(train_args(shared, run, "--epochs", str(epochs)))} > {tmp_path}/second.out 2> {tmp_path}/second.err; echo second=$?
cp -a {run} {tmp_path}/final
"""
    result = in_namespace(script)
    first_err = (tmp_path / "first.err").read_text() if (tmp_path / "first.err").exists() else ""
    assert "first=1" in result.stdout, result.stdout + result.stderr + first_err[-3000:]
    assert "No space left on device" in first_err and "run the command again to resume" in first_err
    assert "Traceback" not in first_err, first_err[-3000:]
    rows = read_log(tmp_path / "after_full" / "log.csv")
    epoch, arrays = backup_state(tmp_path / "after_full")
    assert len(rows) >= 2 and [int(r["epoch"]) for r in rows] == list(range(len(rows)))
    assert epoch in (len(rows) - 1, len(rows)) and arrays  # the write that failed was the log's or the backup's
    assert not list((tmp_path / "after_full").rglob(".tmp-*"))
    assert "second=0" in result.stdout, (tmp_path / "second.err").read_text()[-3000:]
    final = read_log(tmp_path / "final" / "log.csv")
    assert [int(r["epoch"]) for r in final] == list(range(epochs)) and final[:epoch] == rows[:epoch]
    load_trained(tmp_path / "final" / "final.keras")


BACKUP_ON_A_FULL_DISK = """
import os, sys
import keras, numpy as np
from keras_resnet import CifarResNet
from keras_resnet.training.callbacks import Backup
disk = sys.argv[1]
model = CifarResNet(1, weights=None)
model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
model.fit(np.zeros((2, 32, 32, 3)), np.zeros(2), verbose=0)
backup = Backup(disk + "/backup")
backup.set_model(model)
for epoch, free in enumerate(map(int, sys.argv[2:]), 1):  # the file fails at its start, part-way, near its end
    with open(disk + "/filler", "wb") as f:
        f.write(bytes(os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize - free))
    backup._current_epoch = epoch
    try:
        backup._save_model()
    except OSError as e:
        print(free, "errno", e.errno, e.strerror, sorted(os.listdir(disk + "/backup")), flush=True)
    os.remove(disk + "/filler")
"""


def test_backup_on_a_full_disk_raises_one_clear_error(tmp_path):
    """h5py reports a write that fails while it frees an object only by printing "Exception
    ignored" (a traceback the user should never see, and a save that may look done): the backup
    raises one OSError naming the full disk, prints nothing, and leaves no file behind."""
    (tmp_path / "disk").mkdir()
    (tmp_path / "save.py").write_text(BACKUP_ON_A_FULL_DISK)
    free = ["0", "8192", "262144"]
    result = in_namespace(f'mount -t tmpfs -o size=2m tmpfs "$0" || exit 99; exec "{sys.executable}" '
                          f'{tmp_path / "save.py"} "$0" {" ".join(free)}', str(tmp_path / "disk"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [f"{n} errno 28 No space left on device []" for n in free], result.stdout
    assert "Exception ignored" not in result.stderr and "Traceback" not in result.stderr, result.stderr[-3000:]


TINY = dict(model="cifar_resnet8", epochs=2, steps_per_epoch=1, batch_size=16, plot=False)


def tiny_args(config, output, *extra) -> list[str]:
    """The `keras-resnet train` command of `config` (a TINY run) into `output`."""
    return ["train", "--model", config.model, "--data-dir", config.data_dir, "--output", str(output), "--epochs",
            str(config.epochs), "--steps-per-epoch", str(config.steps_per_epoch), "--batch-size",
            str(config.batch_size), "--no-plot", *extra]


def copied(run, tmp_path):
    """A copy of the run directory `run` to tamper with (links copied as links)."""
    shutil.copytree(run, tmp_path / "run", symlinks=True)
    return tmp_path / "run"


def edit_record(output, **changes) -> None:
    """The run's config.json with `changes`, as someone editing it by hand would leave it."""
    path = output / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}, indent=1))


def tree(directory) -> dict:
    """Every file under `directory` (but the lock) with its bytes: to show nothing was changed."""
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file() and p.name != ".lock"}


@pytest.fixture(scope="module")
def finished_run(shared, tmp_path_factory):
    """A real finished run (in this process) and a copy of its CIFAR-10 data at another path."""
    from keras_resnet.training.run import TrainConfig, train

    root = tmp_path_factory.mktemp("finished")
    moved = root / "moved-data"
    shutil.copytree(shared / "cifar-10-batches-py", moved)
    config = TrainConfig(**TINY, data_dir=str(shared / "cifar-10-batches-py"), output=str(root / "run"))
    train(config)
    return config, root / "run", moved


def other_data(shared, tmp_path) -> str:
    """CIFAR-10 batches where one training image differs by one pixel value."""
    other = tmp_path / "other-data"
    shutil.copytree(shared / "cifar-10-batches-py", other)
    batch = other / "data_batch_3"
    with open(batch, "rb") as f:
        content = pickle.load(f, encoding="bytes")
    content[b"data"] = content[b"data"].copy()
    content[b"data"][7, 100] ^= 1
    batch.chmod(0o644)
    with open(batch, "wb") as f:
        pickle.dump(content, f)
    return str(other)


@pytest.mark.parametrize("changed, recorded, received", [
    ({"batch_size": 32}, "batch_size=16, learning_rate=0.0125", "batch_size=32, learning_rate=0.025"),
    ({"learning_rate": 0.05}, "learning_rate=0.0125", "learning_rate=0.05"),
    ({"seed": 1}, "seed=0", "seed=1"),
    ({"validation_fraction": 0.2}, "validation_fraction=0.1", "validation_fraction=0.2"),
    ({"model": "cifar_resnet14"}, "model='cifar_resnet8'", "model='cifar_resnet14'"),
    ({"epochs": 3}, "epochs=2", "epochs=3"),
    ({"steps_per_epoch": 3}, "steps_per_epoch=1", "steps_per_epoch=3"),
    ({"augment": False}, "augment=True", "augment=False"),
    ({"schedule": "step"}, "schedule='cifar'", "schedule='step'"),
    ({"warmup": True}, "warmup=False", "warmup=True"),
    ({"data_dir": "other"}, "data='sha256:", "data='sha256:"),
], ids=["batch_size", "learning_rate", "seed", "validation_fraction", "model", "epochs", "steps_per_epoch", "augment",
        "schedule", "warmup", "data"])
def test_resume_with_another_config_is_refused(finished_run, shared, tmp_path, changed, recorded, received):
    """Re-running into a run's output resumes it, so what changes the result must be as
    recorded: each differing field is named with both values, and no file is touched."""
    from keras_resnet.training.run import TrainConfig, train

    config, run, _ = finished_run
    output = tmp_path / "run"
    shutil.copytree(run, output)
    before = tree(output)
    if changed.get("data_dir") == "other":
        changed = {"data_dir": other_data(shared, tmp_path)}
    with pytest.raises(ValueError) as error:
        train(TrainConfig(**{**vars(config), "output": str(output), **changed}))
    message = str(error.value)
    assert message.startswith(f"`output` '{output}' holds a run with {recorded}"), message
    assert f"; received {received}" in message
    assert message.endswith("Resume with the recorded values or choose another `output`.")
    assert tree(output) == before


def test_resume_accepts_what_does_not_change_the_result(finished_run, tmp_path):
    """The same data at another path, the paper's defaults spelled out, and the plot switched
    on: the same run, which resumes (here: finishes again at once)."""
    from keras_resnet.training.run import TrainConfig, train

    config, run, moved = finished_run
    output = tmp_path / "run"
    shutil.copytree(run, output)
    resumed = TrainConfig(**{**vars(config), "output": str(output), "data_dir": str(moved), "learning_rate": 0.0125,
                             "schedule": "cifar", "warmup": False, "plot": True})
    _, results = train(resumed)
    assert results["iterations"] == 2 and read_log(output / "log.csv") == read_log(run / "log.csv")
    assert json.loads((output / "config.json").read_text())["data_dir"] == str(moved)


def test_output_of_another_models_run_is_refused(finished_run, tmp_path, capsys):
    config, run, _ = finished_run
    output = copied(run, tmp_path)
    edit_record(output, model="cifar_resnet20")
    before = tree(output)
    result = keras_resnet_main(capsys, *tiny_args(config, output))
    assert result.returncode == 2, result.stderr
    assert ("holds a run with --model 'cifar_resnet20'; received --model 'cifar_resnet8'. Resume with the recorded "
            "values") in result.stderr and tree(output) == before


@pytest.mark.parametrize("removed, words", [
    ("backup", "log.csv records 2 finished epochs and backup/ holds none (training_metadata.json is missing)"),
    ("log.csv", "log.csv is missing and backup/ holds epoch 2"),
])
def test_a_run_with_missing_parts_is_refused_not_restarted(finished_run, tmp_path, capsys, removed, words):
    """A finished run whose backup/ is gone would train again from epoch 1 and rewrite its log:
    refused, naming what is missing and how to start afresh; every file is kept as it was."""
    config, run, _ = finished_run
    output = copied(run, tmp_path)
    if removed == "backup":
        shutil.rmtree(output / removed)
    else:
        (output / removed).unlink()
    before = tree(output)
    result = keras_resnet_main(capsys, *tiny_args(config, output))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert (f"--output directory '{output}' holds a run of 2 epochs whose files disagree: {words}. A run resumes only "
            "from its own files: restore them, or start afresh with another --output") in result.stderr, result.stderr
    assert tree(output) == before and "Epoch 1/" not in result.stdout


def _log_lines(output, edit) -> None:
    path = output / "log.csv"
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")


def _move_backup(output, epoch: int, named: int) -> None:
    """The backup's weights renamed to epoch `named`, its metadata saying `epoch`."""
    backup = output / "backup"
    (backup / "epoch-2.weights.h5").rename(backup / f"epoch-{named}.weights.h5")
    (backup / "training_metadata.json").write_text(json.dumps({"epoch": epoch, "weights": f"epoch-{named}.weights.h5"}))


COUNT_FAULTS = {
    "backup beyond the run": (lambda out: _move_backup(out, 7, 7), "log.csv records 2 finished epochs and backup/ "
                                                                     "holds epoch 7"),
    "log longer than the run": (lambda out: _log_lines(out, lambda lines: [*lines, "2" + lines[-1][1:]]),
                                "log.csv records 3 finished epochs and backup/ holds epoch 2"),
    "log skips an epoch": (lambda out: _log_lines(out, lambda lines: [*lines[:-1], "5" + lines[-1][1:]]),
                           "log.csv: row 2 is not the log of epoch 1"),
    "weights of another epoch": (lambda out: _move_backup(out, 2, 1), "names epoch 2 and 'epoch-1.weights.h5', not "
                                                                      "a backup of this directory"),
}


@pytest.mark.parametrize("fault", list(COUNT_FAULTS))
def test_counts_read_back_are_checked_against_the_run(finished_run, tmp_path, capsys, fault):
    """Every epoch and count a resume reads back must be one the run wrote: a backup of epoch 7
    in a 2-epoch run (which would be taken as finished), a log row beyond the run or out of turn,
    metadata naming another epoch's weights: refused, nothing changed."""
    config, run, _ = finished_run
    output = copied(run, tmp_path)
    tamper, words = COUNT_FAULTS[fault]
    tamper(output)
    before = tree(output)
    result = keras_resnet_main(capsys, *tiny_args(config, output))
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert tree(output) == before


@pytest.mark.parametrize("forged, words", [
    ({"diverged": {"epoch": 1, "learning_rate": 0.0125}},
     "records a divergence after epoch 1, but backup/ holds epoch 2"),
    ({"diverged": {"epoch": 2, "learning_rate": 10.0}}, "`diverged`={'epoch': 2, 'learning_rate': 10.0} is not one of "
                                                        "the run's 3 epochs and its learning rate 0.0125"),
    ({"diverged": {"epoch": "2", "learning_rate": 0.0125}}, "`diverged`={'epoch': '2'"),
    ({"changes": [{"epoch": 1, "learning_rate": 0.0125, "was": 0.001, "because": "training diverged"}]},
     "are not lower learning rates, each after a divergence, ending at the run's 0.0125"),
    # the record's values are named as the options that set them
    ({"learning_rate": "0.1"}, "--learning-rate must be a finite number > 0 or None; received --learning-rate '0.1'"),
    ({"epochs": 3.0}, "--epochs must be a positive integer or None; received --epochs 3.0"),
    ({"seed": True}, "--seed must be an integer in [0, 2**32 - 1]; received --seed True"),
    ({"warmup": None}, "--warmup None is not a value a run records"),
    ({"written_by": "another program"}, "`written_by` is 'another program', not 'keras-resnet train'"),
    ({"notes": "mine"}, "it has fields a run does not record: ['notes']"),
], ids=["divergence not at the backup", "divergence at another rate", "divergence epoch a string", "raised rate",
        "rate a string", "epochs a float", "seed a bool", "unresolved warmup", "another writer", "unknown field"])
def test_a_forged_record_is_refused(finished_run, tmp_path, capsys, forged, words):
    """config.json is trusted only as `train` writes it (here the run made 3 epochs long, 2 done):
    a divergence that did not happen as recorded would let a resume change the learning rate;
    a value of another type or an unknown field is not a run's. Refused, naming it; nothing changed."""
    config, run, _ = finished_run
    output = copied(run, tmp_path)
    edit_record(output, **{"epochs": 3, **forged})
    before = tree(output)
    result = keras_resnet_main(capsys, *tiny_args(config, output, "--epochs", "3"))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert (f"--output file '{output / 'config.json'}' " in result.stderr and words in result.stderr
            and "Restore it, or choose another --output." in result.stderr), result.stderr
    assert tree(output) == before


def test_after_a_divergence_only_a_lower_learning_rate_resumes(finished_run, tmp_path, capsys):
    """A run that diverged after epoch 2 (recorded as `train` records it) resumes at a lower rate
    only: a higher one is refused, and nothing is written."""
    config, run, _ = finished_run
    output = copied(run, tmp_path)
    edit_record(output, epochs=3, diverged={"epoch": 2, "learning_rate": 0.0125})
    before = tree(output)
    result = keras_resnet_main(capsys, *tiny_args(config, output, "--epochs", "3", "--learning-rate", "0.1"))
    assert result.returncode == 2, result.stderr[-3000:]
    assert ("holds a run with --learning-rate 0.0125; received --learning-rate 0.1. After its divergence, only a lower "
            "learning rate resumes it.") in result.stderr and tree(output) == before


@pytest.mark.parametrize("linked", ["backup/epoch-2.weights.h5", "backup/training_metadata.json", "backup", "log.csv",
                                    "config.json"])
def test_files_linked_out_of_the_run_are_refused(finished_run, tmp_path, capsys, linked):
    """A resume reads back only the run's own regular files: one replaced by a symbolic link to
    a file elsewhere (its own content, so only the link is wrong) is refused naming it."""
    config, run, _ = finished_run
    output = copied(run, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    (output / linked).rename(elsewhere)
    (output / linked).symlink_to(elsewhere)
    before = tree(output)
    result = keras_resnet_main(capsys, *tiny_args(config, output))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert f"{output / linked} is a symbolic link; a run reads back only" in result.stderr, result.stderr
    assert tree(output) == before and (output / linked).is_symlink()


def test_only_the_runs_own_temporaries_are_cleared(finished_run, tmp_path, capsys):
    """A resume clears what killed writers left (named by `atomic.temporary`) and nothing else:
    the user's `.tmp-notes`, in the run and in its backup/, are kept byte for byte."""
    config, run, _ = finished_run
    output = copied(run, tmp_path)
    users = [output / ".tmp-notes", output / "backup" / ".tmp-draft.h5"]
    for path in users:
        path.write_text("the user's")
    ours = [output / f".tmp-4242-{'0a' * 16}-log.csv", output / "backup" / ".tmp-4242-0123abcd-epoch-3.weights.h5"]
    for path in ours:
        path.write_text("half written")
    result = keras_resnet_main(capsys, *tiny_args(config, output))
    assert result.returncode == 0, result.stderr[-3000:]
    assert [p.read_text() for p in users] == ["the user's"] * 2 and not any(p.exists() for p in ours)


@pytest.mark.parametrize("lock", ["text", "symbolic link", "hard link"])
def test_a_lock_that_is_not_a_runs_is_refused_untouched(finished_run, tmp_path, capsys, lock):
    """The run's `.lock` is opened through no link and written only when it is a lock (a pid or
    nothing, one link): a user's file there, or a link to one, is refused and left as it is."""
    config, run, _ = finished_run
    output = copied(run, tmp_path)
    users = tmp_path / "notes.txt"
    users.write_text("the user's notes")
    path = output / ".lock"
    path.unlink()
    if lock == "text":
        path.write_text("the user's notes")
    elif lock == "symbolic link":
        path.symlink_to(users)
    else:
        os.link(users, path)
    result = keras_resnet_main(capsys, *tiny_args(config, output))
    assert result.returncode == 2, result.stderr[-3000:]
    assert f"--output directory '{output}' holds '.lock', which is not the lock of a training run (" in result.stderr
    assert users.read_text() == "the user's notes" and path.read_text() == "the user's notes"
    assert path.is_symlink() == (lock == "symbolic link")


@pytest.mark.parametrize("fault", ["external link", "path outside", "nested too deep", "not an object"])
def test_a_tampered_backup_is_refused_on_resume(finished_run, tmp_path, fault):
    """The backup a resume loads reads only its own file in its own directory: an HDF5 external
    link (to a 'secret' file), metadata naming a file elsewhere, nested too deep for the JSON
    parser or not an object is a ValueError naming it."""
    from keras_resnet.training.run import TrainConfig, train

    config, run, _ = finished_run
    output = tmp_path / "run"
    shutil.copytree(run, output)
    metadata = json.loads((output / "backup" / "training_metadata.json").read_text())
    if fault == "external link":
        with h5py.File(tmp_path / "secret.h5", "w") as f:
            f["secret"] = np.arange(4.0)
        with h5py.File(output / "backup" / metadata["weights"], "a") as f:
            name = next(iter(h5_datasets(f)))
            del f[name]
            f[name] = h5py.ExternalLink(str(tmp_path / "secret.h5"), "/secret")
    else:
        (output / "backup" / "training_metadata.json").write_text({
            "path outside": json.dumps({**metadata, "weights": "../log.csv"}),
            "nested too deep": "[" * 100_000, "not an object": "[2]"}[fault])
    before = tree(output)
    with pytest.raises(ValueError, match="external link|not a backup of this directory|not a backup's metadata"):
        train(TrainConfig(**{**vars(config), "output": str(output)}))
    after = tree(output)  # config.json is rewritten with the new `output`; nothing else changes
    assert ({k: v for k, v in after.items() if k != "config.json"}
            == {k: v for k, v in before.items() if k != "config.json"})


@pytest.mark.slow
def test_one_process_per_run_directory(shared, tmp_path):
    """While a `keras-resnet train` runs, a second training into its output is refused naming
    its pid, and nothing is written; once the first is SIGKILLed (the OS drops its lock), a
    third resumes the run and finishes it."""
    from keras_resnet.training.run import TrainConfig, train

    output = tmp_path / "run"
    first = subprocess.Popen([keras_resnet_exe(), *train_args(shared, output, "--epochs", "4", "--steps-per-epoch", "2",
                                                               "--batch-size", "16")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        deadline = time.monotonic() + 120
        while not read_log(output / "log.csv") and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        config = TrainConfig(**{**TINY, "epochs": 4, "steps_per_epoch": 2},
                             data_dir=str(shared / "cifar-10-batches-py"), output=str(output))
        with pytest.raises(ValueError, match=rf"^`output` directory '{output}' is in use by another training "
                                             rf"process \(pid {first.pid}\); wait for it to end"):
            train(config)
        assert first.poll() is None, first.stderr.read()[-3000:]  # the refusal came while the first ran
        first.kill()
        assert first.wait() == -signal.SIGKILL
    finally:
        first.kill()
    assert (output / ".lock").read_text() == str(first.pid)  # the refused process wrote nothing, not even its pid
    _, results = train(config)
    assert [int(r["epoch"]) for r in read_log(output / "log.csv")] == [0, 1, 2, 3]
    assert results["iterations"] == 8 and not list(output.rglob(".tmp-*"))
