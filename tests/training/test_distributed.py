"""tf.distribute: two replicas (MirroredStrategy over two logical CPUs) and two worker
processes (MultiWorkerMirroredStrategy on 127.0.0.1), and on JAX keras.distribution's
DataParallel over two host devices, train the same steps as one device: same weights on
every replica and worker, same loss, within float tolerance."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_resnet.training.callbacks import read_log

SCRIPT = str(Path(__file__).with_name("distributed_run.py"))


def _start(strategy, data_dir, output, **env):
    return subprocess.Popen([sys.executable, SCRIPT, strategy, str(data_dir), str(output)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env})


def _finish(process) -> dict:
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def single_device(shared, tmp_path_factory):
    output = tmp_path_factory.mktemp("one_device")
    _finish(_start("default", shared / "cifar-10-batches-py", output))
    return output


def _assert_same_run(output, worker_output, single_device):
    ours, reference = np.load(output / "weights-0.npz"), np.load(single_device / "weights-0.npz")
    assert max(np.abs(ours[k] - reference[k]).max() / (1 + np.abs(reference[k]).max()) for k in reference.files) < 1e-4
    for mine, theirs in zip(read_log(worker_output / "log.csv"), read_log(single_device / "log.csv")):
        assert mine["loss"] == pytest.approx(theirs["loss"], rel=1e-5)
        assert mine["learning_rate"] == pytest.approx(theirs["learning_rate"], rel=1e-6)


@pytest.mark.slow
def test_mirrored_two_replicas_equal_one_device(shared, tmp_path, single_device):
    result = _finish(_start("mirrored", shared / "cifar-10-batches-py", tmp_path))
    assert result["replicas"] == 2 and result["spread"] == 0.0
    _assert_same_run(tmp_path, tmp_path, single_device)


@pytest.mark.backends
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="runs in the JAX session (scripts/test.sh)")
@pytest.mark.slow
def test_jax_data_parallel_two_devices_equal_one_device(shared, tmp_path):
    """`strategy="mirrored"` under JAX: keras.distribution.DataParallel over the two devices
    XLA_FLAGS makes of the CPU, against one JAX device (both runs in their own processes)."""
    one, two = tmp_path / "one", tmp_path / "two"
    single = _finish(_start("default", shared / "cifar-10-batches-py", one, KERAS_BACKEND="jax"))
    assert single["replicas"] == 1
    result = _finish(_start("mirrored", shared / "cifar-10-batches-py", two, KERAS_BACKEND="jax",
                            XLA_FLAGS="--xla_force_host_platform_device_count=2"))
    assert result["replicas"] == 2 and result["spread"] == 0.0
    _assert_same_run(two, two, one)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_two_processes_equal_one_device(shared, tmp_path, single_device):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = [
        _start("multi-worker", shared / "cifar-10-batches-py", tmp_path,
               TF_CONFIG=json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}))
        for i in range(2)
    ]
    for p in processes:
        _finish(p)
    worker1 = np.load(tmp_path / "weights-1.npz")
    chief = np.load(tmp_path / "weights-0.npz")
    assert all(np.array_equal(chief[k], worker1[k]) for k in chief.files)
    assert (tmp_path / "worker-1" / "log.csv").is_file()  # other workers keep their files apart
    _assert_same_run(tmp_path, tmp_path, single_device)


@pytest.mark.slow
def test_mixed_precision_keeps_the_classifier_in_float32(shared, tmp_path):
    """bfloat16 on CPU (float16 on GPU) for the body, float32 softmax; in its own process
    because the dtype policy is global."""
    from conftest import run_python

    out = run_python(f"""
import json, math
from keras_resnet.training.run import TrainConfig, train
model, results = train(TrainConfig(model="cifar_resnet8", data_dir={str(shared / "cifar-10-batches-py")!r},
                       output={str(tmp_path)!r}, epochs=1, steps_per_epoch=2, batch_size=16, mixed_precision=True))
print(json.dumps({{"conv": model.get_layer("conv1_conv").compute_dtype,
                  "head": model.get_layer("predictions").compute_dtype,
                  "output": str(model.output.dtype), "loss": results["test_loss"]}}))
""")
    result = json.loads(out.strip().splitlines()[-1])
    assert result["conv"] == "bfloat16" and result["head"] == "float32" and result["output"] == "float32"
    assert np.isfinite(result["loss"])
