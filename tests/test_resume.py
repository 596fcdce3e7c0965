"""A training run killed with SIGKILL resumes at its last finished epoch (BackupAndRestore),
its log holding every finished epoch once; the finished run is then used through
`keras-resnet evaluate` and `predict` on real CIFAR-10 images."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import keras_resnet_cli
from keras_resnet.callbacks import read_log
from keras_resnet.schedules import step_decay

EPOCHS, STEPS, BATCH = 8, 4, 32


def _train_command(data_dir, output):
    exe = shutil.which("keras-resnet") or str(Path(sys.executable).parent / "keras-resnet")
    return [exe, "train", "--model", "cifar_resnet8", "--data-dir", str(data_dir), "--output", str(output),
            "--epochs", str(EPOCHS), "--steps-per-epoch", str(STEPS), "--batch-size", str(BATCH), "--no-plot"]


@pytest.fixture(scope="module")
def resumed_run(shared, tmp_path_factory):
    """Start a run, SIGKILL it once two epochs are logged, run the same command again."""
    output = tmp_path_factory.mktemp("run")
    command = _train_command(shared / "cifar-10-batches-py", output)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300
    while len(read_log(output / "log.csv")) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_rows = read_log(output / "log.csv")
    backup = json.loads((output / "backup" / "training_metadata.json").read_text())
    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    return output, killed_rows, backup, second.stdout


def test_killed_run_resumes_at_its_last_finished_epoch(resumed_run):
    output, killed_rows, backup, stdout = resumed_run
    assert 1 <= backup["epoch"] < EPOCHS, "the kill must land mid-training"
    epochs_run = [line for line in stdout.splitlines() if line.startswith("Epoch ")]
    assert epochs_run[0] == f"Epoch {backup['epoch'] + 1}/{EPOCHS}" and len(epochs_run) == EPOCHS - backup["epoch"]
    rows = read_log(output / "log.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(EPOCHS))  # every finished epoch, once
    assert rows[: backup["epoch"]] == killed_rows[: backup["epoch"]]  # nothing finished was lost or redone
    # The schedule continues from the restored iteration count (lr of each epoch's last step).
    base = 0.1 * BATCH / 128
    lr = step_decay(base, (EPOCHS * STEPS // 2, EPOCHS * STEPS * 3 // 4))
    assert [r["learning_rate"] for r in rows] == pytest.approx([lr(STEPS * (e + 1) - 1) for e in range(EPOCHS)], rel=1e-6)
    results = json.loads((output / "results.json").read_text())
    assert results["iterations"] == EPOCHS * STEPS
    assert not list(output.rglob(".tmp-*")), "no temporary file left behind"


def test_rerunning_a_finished_run_changes_nothing(resumed_run, shared):
    output = resumed_run[0]
    before = (output / "log.csv").read_text()
    again = subprocess.run(_train_command(shared / "cifar-10-batches-py", output), capture_output=True, text=True,
                           env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=600)
    assert again.returncode == 0 and "Epoch " not in again.stdout
    assert (output / "log.csv").read_text() == before


def test_evaluate_command_matches_the_runs_test_error(resumed_run, shared):
    output = resumed_run[0]
    result = keras_resnet_cli("evaluate", str(output / "final.keras"), "--data-dir", str(shared / "cifar-10-batches-py"))
    assert result.returncode == 0, result.stderr[-2000:]
    fields = result.stdout.split()
    error = float(fields[fields.index("top1_error") + 1])
    assert error == pytest.approx(json.loads((output / "results.json").read_text())["test_error"], abs=1e-4)


def test_predict_command_on_png_files(resumed_run, cifar_test, tmp_path):
    import keras
    import tensorflow as tf

    output = resumed_run[0]
    images, _ = cifar_test
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"test{i}.png")
        paths[-1].write_bytes(tf.io.encode_png(images[i]).numpy())
    result = keras_resnet_cli("predict", str(output / "final.keras"), *map(str, paths), "--top", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    names = json.loads((output / "classes.json").read_text())
    expected = keras.models.load_model(output / "final.keras").predict(images[:3].astype("float32"), verbose=0)
    for line, scores in zip(result.stdout.strip().splitlines(), expected):
        assert line.split()[1] == names[int(np.argmax(scores))]
        assert float(line.split()[2]) == pytest.approx(float(scores.max()), abs=1e-3)


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    """What every run file (log, models, backup, curves) and weights file is written through."""
    from keras_resnet.atomic import replacing

    target = tmp_path / "log.csv"
    target.write_text("finished epochs")
    with pytest.raises(OSError):
        with replacing(target) as tmp:
            tmp.write_text("half a row")
            raise OSError("disk full")
    assert target.read_text() == "finished epochs" and list(tmp_path.iterdir()) == [target]
