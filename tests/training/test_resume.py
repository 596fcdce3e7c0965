"""A training run killed with SIGKILL at random points, again and again, resumes each time at
its last finished epoch and ends with exactly the log and model of an uninterrupted run; the
finished run is then used through `keras-resnet evaluate` and `predict` on real CIFAR-10
images. `KERAS_RESNET_KILL_SEED` picks other kill points (docs/reliability.md)."""

import json
import os
import random
import signal
import subprocess
import time

import numpy as np
import pytest
from conftest import keras_resnet_exe, keras_resnet_main

from keras_resnet.evaluation.predict import load_trained
from keras_resnet.training.callbacks import read_log

EPOCHS, STEPS, BATCH = 10, 3, 32
KILLS = 6
SEED = int(os.environ.get("KERAS_RESNET_KILL_SEED", "2026"))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _train_command(data_dir, output):
    return [keras_resnet_exe(), "train", "--model", "cifar_resnet8", "--data-dir", str(data_dir),
            "--output", str(output),
            "--epochs", str(EPOCHS), "--steps-per-epoch", str(STEPS), "--batch-size", str(BATCH), "--no-plot"]


def _backup_epoch(output) -> int:
    metadata = output / "backup" / "training_metadata.json"
    return json.loads(metadata.read_text())["epoch"] if metadata.is_file() else 0


@pytest.fixture(scope="module")
def resumed_run(shared, tmp_path_factory):
    """An uninterrupted run, and the same run SIGKILLed KILLS times: each time once a random
    number of epochs is logged, plus a random fraction of an epoch (a step, the validation,
    a checkpoint being written), then run again to the end."""
    data_dir = shared / "cifar-10-batches-py"
    reference = tmp_path_factory.mktemp("uninterrupted")
    done = subprocess.run(_train_command(data_dir, reference), capture_output=True, text=True, env=ENV, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    epoch_seconds = max(row["seconds"] for row in read_log(reference / "log.csv")[1:])

    output = tmp_path_factory.mktemp("killed")
    rng = random.Random(SEED)
    kills = []
    for target in sorted(rng.sample(range(EPOCHS - 1), KILLS)):
        process = subprocess.Popen(_train_command(data_dir, output), stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, env=ENV)
        deadline = time.monotonic() + 300
        while len(read_log(output / "log.csv")) < target and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, epoch_seconds))
        assert process.poll() is None, "each kill must land before the run ends"
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills.append({"after_epochs_logged": target, "backup_epoch": _backup_epoch(output),
                      "log_rows": len(read_log(output / "log.csv"))})
    print(f"KERAS_RESNET_KILL_SEED={SEED}: kills {kills}")
    last = subprocess.run(_train_command(data_dir, output), capture_output=True, text=True, env=ENV, timeout=600)
    assert last.returncode == 0, last.stderr[-3000:]
    return output, reference, kills, last.stdout


@pytest.mark.slow
def test_killed_run_ends_as_the_uninterrupted_one(resumed_run):
    output, reference, kills, stdout = resumed_run
    assert len(kills) >= 5
    resumed_from = [k["backup_epoch"] for k in kills]
    assert resumed_from == sorted(resumed_from) and len(set(resumed_from)) >= 3, kills  # progress between kills
    epochs_run = [line for line in stdout.splitlines() if line.startswith("Epoch ")]
    assert epochs_run[0] == f"Epoch {kills[-1]['backup_epoch'] + 1}/{EPOCHS}", stdout
    rows, expected = read_log(output / "log.csv"), read_log(reference / "log.csv")
    assert [int(r["epoch"]) for r in rows] == list(range(EPOCHS))  # every finished epoch, once
    for row, want in zip(rows, expected, strict=True):  # the same batches, weights and optimizer state
        assert row["learning_rate"] == want["learning_rate"]
        for key in ("loss", "error", "val_loss", "val_error"):
            assert row[key] == pytest.approx(want[key], rel=1e-5), (row["epoch"], key)
    results, want = (json.loads((d / "results.json").read_text()) for d in (output, reference))
    assert results["iterations"] == EPOCHS * STEPS and results["test_error"] == pytest.approx(want["test_error"])
    x = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    final = load_trained(output / "final.keras")  # loadable, with safe_mode
    np.testing.assert_allclose(final.predict(x, verbose=0),
                               load_trained(reference / "final.keras").predict(x, verbose=0), atol=1e-5)
    assert not list(output.rglob(".tmp-*")), "no temporary file left behind"


@pytest.mark.slow
def test_rerunning_a_finished_run_changes_nothing(resumed_run, shared, capsys):
    output = resumed_run[0]
    before = (output / "log.csv").read_text()
    again = keras_resnet_main(capsys, *_train_command(shared / "cifar-10-batches-py", output)[1:])
    assert again.returncode == 0 and "Epoch " not in again.stdout
    assert again.stdout.startswith(f"{output} had already finished its {EPOCHS} epochs: nothing was trained"), again
    assert (output / "log.csv").read_text() == before


@pytest.mark.slow
def test_evaluate_command_matches_the_runs_test_error(resumed_run, shared, capsys):
    output = resumed_run[0]
    result = keras_resnet_main(capsys, "evaluate", output / "final.keras", "--data-dir", shared / "cifar-10-batches-py")
    assert result.returncode == 0, result.stderr[-2000:]
    fields = result.stdout.split()
    error = fields[fields.index("top1_error") + 1]  # a percentage, as the examples and `train` print errors
    expected = 100 * json.loads((output / "results.json").read_text())["test_error"]
    assert error.endswith("%") and float(error[:-1]) == pytest.approx(expected, abs=0.011)  # one image in 10,000


@pytest.mark.slow
def test_predict_command_on_png_files(resumed_run, cifar_test, tmp_path, capsys):
    import keras
    import tensorflow as tf

    output = resumed_run[0]
    images, _ = cifar_test
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"test{i}.png")
        paths[-1].write_bytes(tf.io.encode_png(images[i]).numpy())
    result = keras_resnet_main(capsys, "predict", output / "final.keras", *paths, "--top", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    names = json.loads((output / "classes.json").read_text())
    expected = keras.models.load_model(output / "final.keras").predict(images[:3].astype("float32"), verbose=0)
    for line, scores in zip(result.stdout.strip().splitlines(), expected):
        assert line.split()[1] == names[int(np.argmax(scores))]
        assert float(line.split()[2]) == pytest.approx(float(scores.max()), abs=1e-3)


@pytest.mark.slow
def test_predict_command_refuses_unreadable_images(resumed_run, cifar_test, tmp_path, capsys):
    import tensorflow as tf

    png = tf.io.encode_png(cifar_test[0][0]).numpy()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    (tmp_path / "notes.png").write_text("not an image")
    for name in ("cut.png", "notes.png"):
        result = keras_resnet_main(capsys, "predict", resumed_run[0] / "final.keras", tmp_path / name)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert f"image file '{tmp_path / name}' is not a readable JPEG or PNG image" in result.stderr


def test_predict_and_evaluate_a_model_id_with_pretrained_weights(shared, cifar_test, tmp_path, capsys):
    """`MODEL --weights NAME`, as export takes it: built with the weights' preprocessing, so raw
    images go in; real CIFAR test images get their labels, and the test set the README's 8.36%."""
    import tensorflow as tf

    from keras_resnet import cli
    from keras_resnet.data.cifar10 import CIFAR10_CLASSES

    images, labels = cifar_test
    paths = [tmp_path / f"test{i}.png" for i in range(6)]
    for path, image in zip(paths, images):
        path.write_bytes(tf.io.encode_png(image).numpy())
    assert cli.main(["predict", "cifar_resnet20", "--weights", "cifar10", *map(str, paths), "--top", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[:2] for line in lines] == [[str(p), CIFAR10_CLASSES[y]] for p, y in zip(paths, labels)]
    data = str(shared / "cifar-10-batches-py")
    assert cli.main(["evaluate", "cifar_resnet20", "--weights", "cifar10", "--data-dir", data]) == 0
    assert f"images {len(labels)}  top1_error 8.36%" in capsys.readouterr().out


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    """What every run file (log, models, backup, curves) and weights file is written through."""
    from keras_resnet.core.atomic import replacing

    target = tmp_path / "log.csv"
    target.write_text("finished epochs")
    with pytest.raises(OSError):
        with replacing(target) as tmp:
            tmp.write_text("half a row")
            raise OSError("disk full")
    assert target.read_text() == "finished epochs" and list(tmp_path.iterdir()) == [target]
