"""Bad training input is answered before any training starts: a ValueError (exit status 2
on the command line) naming the argument and what is accepted, and no run files written."""

import pytest

from conftest import keras_resnet_cli, run_python
from keras_resnet.train import TrainConfig, check_config


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


def test_unwritable_output(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    assert "`output`" in _refused(tmp_path, output=str(tmp_path / "file" / "run"))


def test_global_batch_not_divisible_by_replicas(shared, tmp_path):
    """Two replicas (MirroredStrategy over two logical CPUs, in its own process)."""
    out = run_python(f"""
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from keras_resnet.train import TrainConfig, train
try:
    train(TrainConfig(model="cifar_resnet8", data_dir={str(shared / "cifar-10-batches-py")!r},
                      output={str(tmp_path / "run")!r}, batch_size=33, strategy="mirrored"))
except ValueError as e:
    print(e)
""")
    assert "`batch_size`" in out and "2 replicas" in out and "33" in out
    assert not (tmp_path / "run" / "log.csv").exists()


def test_command_line_reports_before_training(shared, tmp_path):
    for args, words in [
        (["--model", "resnet51"], ["`model`"]),
        (["--model", "cifar_resnet20", "--strategy", "horovod"], ["--strategy", "invalid choice"]),
        (["--model", "cifar_resnet20", "--dataset", "svhn"], ["--dataset", "invalid choice"]),
        (["--model", "cifar_resnet20", "--data-dir", str(tmp_path)], ["data_batch_1"]),
    ]:
        result = keras_resnet_cli("train", *args, "--output", str(tmp_path / "run"))
        assert result.returncode == 2 and all(w in result.stderr for w in words), result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "run" / "log.csv").exists()
