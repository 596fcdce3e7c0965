"""Faults during training lose nothing: a diverging loss stops the run with a clear message
and every file at its last good epoch; a full or read-only disk is reported before training
starts; a disk that fills up mid-run stops it with every file intact, and the run resumes
once there is room. The disks are real: a tmpfs mounted in a private mount namespace."""

import json
import re
import shutil
import subprocess

import h5py
import numpy as np
import pytest

from conftest import keras_resnet_cli, keras_resnet_exe
from keras_resnet.callbacks import read_log
from keras_resnet.predict import load_trained

EPOCHS, STEPS, BATCH = 8, 3, 32
NAMESPACE = ["unshare", "--user", "--map-root-user", "--mount"]


def train_args(shared, output, *extra) -> list[str]:
    return ["train", "--model", "cifar_resnet8", "--data-dir", str(shared / "cifar-10-batches-py"), "--output",
            str(output), "--epochs", str(EPOCHS), "--steps-per-epoch", str(STEPS), "--batch-size", str(BATCH),
            "--no-plot", *extra]


def backup_state(output) -> tuple[int, list[np.ndarray]]:
    """The backup's epoch and its weight arrays (h5py, independent of Keras)."""
    metadata = json.loads((output / "backup" / "training_metadata.json").read_text())
    arrays = []
    with h5py.File(output / "backup" / metadata["weights"]) as f:
        f.visititems(lambda name, item: arrays.append(np.asarray(item)) if isinstance(item, h5py.Dataset) else None)
    return metadata["epoch"], arrays


def test_divergence_stops_the_run_and_keeps_the_last_good_epoch(shared, tmp_path):
    """Two good epochs, then the same run resumed with a learning rate that overflows: it
    stops at the first non-finite loss or weight; every file keeps epoch 2; a lower rate
    resumes from there."""
    output = tmp_path / "run"
    assert keras_resnet_cli(*train_args(shared, output, "--epochs", "2")).returncode == 0
    rows, final = read_log(output / "log.csv"), (output / "final.keras").read_bytes()
    diverged = keras_resnet_cli(*train_args(shared, output, "--learning-rate", "1e5"))
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

    resumed = keras_resnet_cli(*train_args(shared, output, "--learning-rate", "0.01"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Epoch 3/{EPOCHS}" in resumed.stdout and f"Epoch 2/{EPOCHS}" not in resumed.stdout
    after = read_log(output / "log.csv")
    assert [int(r["epoch"]) for r in after] == list(range(EPOCHS)) and after[:2] == rows


def in_namespace(script: str) -> subprocess.CompletedProcess:
    """`script` (sh) as root of a new user and mount namespace, where it mounts its own tmpfs."""
    if shutil.which("unshare") is None or subprocess.run([*NAMESPACE, "true"]).returncode != 0:
        pytest.skip("needs `unshare` with user namespaces, to mount a small or read-only disk")
    return subprocess.run([*NAMESPACE, "sh", "-c", script], capture_output=True, text=True, timeout=900)


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
    assert "`output` directory" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout.strip().endswith("0") and "Epoch 1/" not in result.stdout  # nothing written, not one step


def test_disk_filling_up_mid_run_loses_nothing(shared, tmp_path):
    """A disk just big enough to pass the check fills up after two epochs (another program's
    file): the run stops with a clear error, the files hold the last finished epoch, and once
    the space is freed the same command resumes and finishes."""
    mount, run = tmp_path / "disk", tmp_path / "disk" / "run"
    mount.mkdir()
    script = f"""
mount -t tmpfs -o size=206m tmpfs {mount} || exit 99
{cli(train_args(shared, run, "--epochs", "30"))} > {tmp_path}/first.out 2> {tmp_path}/first.err &
pid=$!
while [ "$(cat {run}/log.csv 2>/dev/null | wc -l)" -lt 3 ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done
dd if=/dev/zero of={mount}/filler bs=1M 2>/dev/null
wait $pid; echo first=$?
cp -a {run} {tmp_path}/after_full
rm {mount}/filler
{cli(train_args(shared, run, "--epochs", "30"))} > {tmp_path}/second.out 2> {tmp_path}/second.err; echo second=$?
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
    assert [int(r["epoch"]) for r in final] == list(range(30)) and final[:epoch] == rows[:epoch]
    load_trained(tmp_path / "final" / "final.keras")


def test_output_of_another_models_run_is_refused(shared, tmp_path):
    output = tmp_path / "run"
    output.mkdir()
    (output / "config.json").write_text(json.dumps({"model": "cifar_resnet20", "dataset": "cifar10"}))
    result = keras_resnet_cli(*train_args(shared, output))
    assert result.returncode == 2 and "holds a run of model='cifar_resnet20'" in result.stderr, result.stderr
    assert "received model='cifar_resnet8'" in result.stderr and not (output / "log.csv").exists()
