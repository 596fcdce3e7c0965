"""Bad training input is answered before any training starts: a ValueError (exit status 2
on the command line) naming the argument and what is accepted, and no run files written."""

import os

import pytest
from conftest import keras_resnet_main, run_python

from keras_resnet.training.config import DATASET_NAMES
from keras_resnet.training.run import TrainConfig, check_config, train


def _refused(tmp_path, **kwargs) -> str:
    with pytest.raises(ValueError) as error:
        check_config(TrainConfig(**{"output": str(tmp_path / "run"), **kwargs}))
    return str(error.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"model": "resnet51"}, ["`model`", "cifar_resnet"]),
    ({"model": "cifar_resnet21"}, ["`model`", "6n+2"]),
    ({"dataset": "mnist"}, ["`dataset`", "cifar10", "imagenet"]),
    ({"strategy": "horovod"}, ["`strategy`", "mirrored", "multi-worker"]),
    ({"schedule": "cosine"}, ["`schedule`", "plateau"]),
    ({"epochs": 0}, ["`epochs`"]),
    ({"batch_size": -8}, ["`batch_size`"]),
    ({"validation_fraction": 1.0}, ["`validation_fraction`", "[0, 1)"]),
    ({"step_epochs": 0}, ["`step_epochs` must be an integer >= 1", "step_epochs=0"]),
    ({"step_epochs": 2.5}, ["`step_epochs` must be an integer >= 1", "step_epochs=2.5"]),
    ({"patience": -1}, ["`patience` must be an integer >= 0", "patience=-1"]),
    ({"seed": -1}, ["`seed` must be an integer in [0, 2**32 - 1]", "seed=-1"]),
    ({"seed": 2**32}, ["`seed` must be an integer in [0, 2**32 - 1]", "seed=4294967296"]),
    ({"min_delta": float("nan")}, ["`min_delta` must be a finite number >= 0", "min_delta=nan"]),
    ({"min_delta": -0.1}, ["`min_delta` must be a finite number >= 0"]),
    ({"min_lr": -1e-5}, ["`min_lr` must be a finite number >= 0", "min_lr=-1e-05"]),
    ({"min_lr": float("inf")}, ["`min_lr` must be a finite number >= 0", "min_lr=inf"]),
    ({"learning_rate": float("nan")}, ["`learning_rate` must be a finite number > 0", "learning_rate=nan"]),
    ({"learning_rate": float("inf")}, ["`learning_rate` must be a finite number > 0", "learning_rate=inf"]),
    ({"learning_rate": 0.0}, ["`learning_rate` must be a finite number > 0", "learning_rate=0.0"]),
])
def test_bad_arguments(tmp_path, kwargs, words):
    message = _refused(tmp_path, **kwargs)
    assert all(w in message for w in words), message


def test_data_directory_without_the_expected_files(tmp_path):
    (tmp_path / "cifar").mkdir()
    (tmp_path / "cifar" / "data_batch_1").write_bytes(b"")
    message = _refused(tmp_path, data_dir=str(tmp_path / "cifar"))
    assert "data_batch_2" in message and "test_batch" in message
    message = _refused(tmp_path, dataset="imagenet", data_dir=str(tmp_path / "cifar"))
    assert "train" in message and "class" in message


@pytest.mark.parametrize("tf_config, words", [
    ("{not json", ["is not JSON"]),
    ("[1, 2]", ["must be a JSON object; received a list"]),
    ('{"task": {"type": "worker", "index": 0}}', ['needs "cluster"', "received None"]),
    ('{"cluster": {"worker": ["a:1"]}}', ['needs "task"', "one of ['worker']", "received None"]),
    ('{"cluster": {"worker": "a:1"}, "task": {"type": "worker", "index": 0}}', ['needs "cluster"']),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}', ['needs "task"', "'ps'"]),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}',
     ['"task" index must be an integer in [0, 1] for the 2 \'worker\' hosts; received index=2']),
    ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "0"}}', ["received index='0'"]),
])
def test_invalid_tf_config(tmp_path, monkeypatch, tf_config, words):
    """A cluster description TensorFlow would trip over later (or hang on) is named before
    anything is written, with what is wrong."""
    monkeypatch.setenv("TF_CONFIG", tf_config)
    message = _refused(tmp_path)
    assert message.startswith("the TF_CONFIG environment variable") and all(w in message for w in words), message
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("content", [b"[]", b'{"model": "cifar_resnet8", ', b"\xff\xfe{}", b'"a run"', b"[" * 100_000],
                         ids=["list", "damaged", "not UTF-8", "string", "nested too deep"])
def test_config_json_that_is_not_a_run(tmp_path, content):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_bytes(content)
    message = _refused(tmp_path)
    assert f"`output` file '{run / 'config.json'}'" in message and "Restore it, or choose another `output`" in message
    assert sorted(p.name for p in run.iterdir()) == ["config.json"] and (run / "config.json").read_bytes() == content


def test_folder_of_user_files_is_not_trained_into(tmp_path):
    """A non-empty directory without a run's config.json is the user's: refused, untouched.
    What a run leaves before its config.json (its lock, a killed writer's temporaries, an
    empty backup/) is its own and accepted."""
    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    for name in (".lock", f".tmp-123-{'ab' * 16}-log.csv", "backup/.tmp-9-ef012345-epoch-0.weights.h5"):
        (run / name).write_bytes(b"")
    check_config(TrainConfig(output=str(run)))
    (run / "notes.txt").write_text("the user's own")
    (run / "photos").mkdir()
    message = _refused(tmp_path)
    assert f"`output` directory '{run}' holds 2 files or folders ('notes.txt', 'photos') but no training run" in message
    assert (run / "notes.txt").read_text() == "the user's own"


def _files(directory) -> dict:
    """Every entry under `directory`, links as their targets' names, files with their bytes."""
    return {str(p.relative_to(directory)): os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else None
            for p in sorted(directory.rglob("*"))}


@pytest.mark.parametrize("contents, words", [
    ({"classes.json": '["cat", "dog"]'}, "holds 1 files or folders ('classes.json') but no training run"),
    ({".tmp-notes": "the user's", ".lock": "the user's"}, "holds 2 files or folders ('.lock', '.tmp-notes')"),
    ({".lock": "link"}, "holds 1 files or folders ('.lock')"),
    ({"config.json": '{"model": "cifar_resnet8"}'}, "is not the record of a run as `keras-resnet train` writes it: "
                                                    "it lacks ['dataset', "),
], ids=["classes.json", "tmp and lock", "lock a link", "another config.json"])
def test_a_folder_that_is_not_a_run_is_refused_untouched(shared, tmp_path, capsys, contents, words):
    """A run directory is one whose config.json a run wrote: the user's own files, named as a
    run's are (classes.json, config.json) or as its leftovers are (`.tmp-*`, `.lock`, or a link
    named so), make a folder that is refused before anything is written; not one is touched."""
    run, users = tmp_path / "run", tmp_path / "notes.txt"
    run.mkdir()
    users.write_text("the user's notes")
    for name, content in contents.items():
        if content == "link":
            (run / name).symlink_to(users)
        else:
            (run / name).write_text(content)
    before = _files(tmp_path)
    data = shared / "cifar-10-batches-py"
    result = keras_resnet_main(capsys, "train", "--model", "cifar_resnet8", "--data-dir", data, "--output", run,
                               "--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "16", "--no-plot")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    named = f"--output file '{run / 'config.json'}'" if "config.json" in contents else f"--output directory '{run}'"
    assert named in result.stderr, result.stderr
    assert words in result.stderr, result.stderr
    assert _files(tmp_path) == before


def test_unwritable_output(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    assert "`output`" in _refused(tmp_path, output=str(tmp_path / "file" / "run"))


def test_global_batch_not_divisible_by_replicas(shared, tmp_path):
    """Two replicas (MirroredStrategy over two logical CPUs, in its own process)."""
    out = run_python(f"""
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_resnet.training.run import TrainConfig, train
try:
    train(TrainConfig(model="cifar_resnet8", data_dir={str(shared / "cifar-10-batches-py")!r},
                      output={str(tmp_path / "run")!r}, batch_size=33, strategy="mirrored"))
except ValueError as e:
    print(e)
""")
    assert "`batch_size`" in out and "2 replicas" in out and "33" in out
    assert not (tmp_path / "run" / "log.csv").exists()


def test_dataset_names_are_the_tables():
    """`config.DATASET_NAMES` is spelled out (the command line parses with it before Keras loads):
    the datasets a run trains on and `evaluate` tests on, in that order."""
    from keras_resnet.evaluation.datasets import TESTS
    from keras_resnet.training.datasets import DATASETS

    assert DATASET_NAMES == tuple(DATASETS) == tuple(TESTS)


def test_a_run_that_never_started_leaves_nothing(shared, tmp_path):
    """A failure before the run's config.json (here a batch larger than the data) removes the
    lock and the directories the call created; a directory that was there stays, empty. A lock
    an earlier process created is not this one's to remove: it stays."""
    data = str(shared / "cifar-10-batches-py")
    existing, locked = tmp_path / "existing", tmp_path / "locked"
    existing.mkdir()
    locked.mkdir()
    (locked / ".lock").write_text("4242")
    for output in (tmp_path / "new" / "run", existing, locked):
        with pytest.raises(ValueError, match=r"`batch_size` 1000000 is larger than the \d+ training images"):
            train(TrainConfig(model="cifar_resnet8", data_dir=data, output=str(output), batch_size=10**6))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing", "locked"] and list(existing.iterdir()) == []
    assert [p.name for p in locked.iterdir()] == [".lock"]


def test_command_line_reports_before_training(shared, tmp_path, capsys):
    for args, words in [
        (["--model", "resnet51"], ["--model must be", "received --model 'resnet51'. Did you mean 'resnet50'"]),
        (["--model", "cifar_resnet20", "--strategy", "horovod"], ["--strategy", "invalid choice"]),
        (["--model", "cifar_resnet20", "--dataset", "svhn"], ["--dataset", "invalid choice"]),
        (["--model", "cifar_resnet20", "--data-dir", str(tmp_path)], ["data_batch_1"]),
    ]:
        result = keras_resnet_main(capsys, "train", *args, "--output", tmp_path / "run")
        assert result.returncode == 2 and all(w in result.stderr for w in words), result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "run" / "log.csv").exists()


def test_image_folders_with_other_classes_in_val_are_refused_before_anything_is_written(image_folder, tmp_path):
    """train/ and val/ must name the same classes: found while checking the arguments (by
    `check_config` and by `train`, which lists the folders once), before a run directory exists."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(image_folder, data)
    (data / "val" / "ship").rename(data / "val" / "boat")
    message = _refused(tmp_path, model="resnet18", dataset="imagenet", data_dir=str(data))
    assert "train/ and val/ must have the same class folders" in message
    with pytest.raises(ValueError, match="train/ and val/ must have the same class folders"):
        train(TrainConfig(model="resnet18", dataset="imagenet", data_dir=str(data), output=str(tmp_path / "run")))
    assert not (tmp_path / "run").exists()
