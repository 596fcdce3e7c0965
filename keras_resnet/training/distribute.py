"""Scale-out on an existing engine: on TensorFlow the `tf.distribute` strategy by name, on JAX
`keras.distribution.DataParallel` ("mirrored": every local device), on torch one device; the
global batch check, synchronised BatchNorm and the mixed-precision policy. TensorFlow is
imported where used: the package imports under Keras' other backends too."""

from __future__ import annotations

import json
import os
from contextlib import nullcontext
from typing import Any

import keras

from keras_resnet.core.arguments import check_choice
from keras_resnet.training.config import STRATEGIES
from keras_resnet.training.finetune import set_batchnorm


class OneDevice:
    """The default strategy of the backends without tf.distribute: `scope()` does nothing."""

    num_replicas_in_sync = 1

    def scope(self):
        return nullcontext()


class KerasDistribution:
    """A `keras.distribution` (JAX) with the two names of tf.distribute's strategies that
    `train` uses; it is active (`scope`) while the model is built, trained and evaluated."""

    def __init__(self, distribution: Any, replicas: int):
        self.distribution, self.num_replicas_in_sync = distribution, replicas

    def scope(self):
        return self.distribution.scope()


def whole_replica_batches(dataset: Any, batch_size: int, strategy) -> Any:
    """`dataset` (of batches) for evaluation under `strategy`: under a keras.distribution each
    batch must split evenly over the devices, so the last, partial batch loses its last
    (size mod devices) images (none for CIFAR-10 on 2 devices); tf.distribute and one device
    take any batch, unchanged."""
    if not isinstance(strategy, KerasDistribution):
        return dataset
    return dataset.rebatch(strategy.num_replicas_in_sync, drop_remainder=True).rebatch(batch_size)


def fitting(strategy):
    """The context `fit` and `evaluate` run in: a keras.distribution's scope (tf.distribute's
    model remembers its strategy; one device needs none)."""
    return strategy.scope() if isinstance(strategy, KerasDistribution) else nullcontext()


def make_strategy(name: str, tpu: str | None = None):
    """"default": one device; "mirrored": all local GPUs, else all logical CPUs (on JAX, all
    local devices through keras.distribution.DataParallel); "multi-worker": the cluster in
    `TF_CONFIG`; "tpu": the TPU at `tpu` (default: the local one). Torch: "default" only."""
    check_choice("strategy", name, STRATEGIES)
    backend = keras.backend.backend()
    if backend != "tensorflow":
        if name == "default":
            return OneDevice()
        if name == "mirrored" and backend == "jax":
            devices = keras.distribution.list_devices()
            return KerasDistribution(keras.distribution.DataParallel(devices=devices), len(devices))
        accepted = ["default", "mirrored"] if backend == "jax" else ["default"]
        raise ValueError(
            f"`strategy` must be one of {accepted} under the {backend} backend (strategy={name!r} is "
            "tf.distribute's: set KERAS_BACKEND=tensorflow); received strategy={name!r}."
        )
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi-worker":
        if not tf_config():
            raise ValueError(
                "strategy='multi-worker' needs the cluster in the TF_CONFIG environment variable "
                '(e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}).'
            )
        return _reduce_as_keras_expects(tf.distribute.MultiWorkerMirroredStrategy())
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as e:
        raise ValueError(f"strategy='tpu': no TPU found at {tpu or 'the local machine'!r} ({e}).") from e
    return tf.distribute.TPUStrategy(resolver)


def _reduce_as_keras_expects(strategy):
    """Keras 3's `fit` under MultiWorkerMirroredStrategy (keras-team/keras#20585) calls
    `strategy.reduce` on a whole (x, y) batch and with `axis=0` on scalar logs; the strategy
    accepts neither. Reduce tensor by tensor, over replicas only for scalars."""
    import tensorflow as tf

    reduce = strategy.reduce

    def reduce_each(op, value, axis=None):
        def one(v):
            scalar = strategy.experimental_local_results(v)[0].shape.rank == 0
            return reduce(op, v, axis=None if scalar else axis)

        return tf.nest.map_structure(one, value)

    strategy.reduce = reduce_each
    return strategy


def tf_config() -> dict:
    """The cluster in the TF_CONFIG environment variable ({} when unset), checked: a JSON object
    with "cluster" ({job type: ["host:port", ...]}) and "task" ({"type": a job of the cluster,
    "index": an index into it}); anything else is a ValueError saying what is wrong, before
    TensorFlow would fail on it later, less clearly."""
    text = os.environ.get("TF_CONFIG") or ""
    if not text.strip():
        return {}
    example = '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}'

    def refuse(problem: str) -> ValueError:
        return ValueError(f"the TF_CONFIG environment variable {problem}; expected e.g. {example}.")

    try:
        config = json.loads(text)
    except ValueError as e:
        raise refuse(f"is not JSON ({e})") from None
    if not isinstance(config, dict):
        raise refuse(f"must be a JSON object; received a {type(config).__name__}")
    cluster, task = config.get("cluster"), config.get("task")
    if not isinstance(cluster, dict) or not cluster or not all(
        isinstance(hosts, list) and hosts and all(isinstance(h, str) for h in hosts) for hosts in cluster.values()
    ):
        raise refuse(f'needs "cluster": an object of job types, each a non-empty list of "host:port"; '
                     f"received {cluster!r}")
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise refuse(f'needs "task": {{"type": one of {sorted(cluster)}, "index": N}}; received {task!r}')
    index, hosts = task.get("index", 0), cluster[task["type"]]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(hosts):
        raise refuse(f'"task" index must be an integer in [0, {len(hosts) - 1}] for the {len(hosts)} '
                     f'{task["type"]!r} hosts; received index={index!r}')
    return config


def worker_directory() -> str | None:
    """None for the process that writes the run's files (the chief in TF_CONFIG, else worker
    0, or no cluster at all); "worker-N" for the others, which keep their files apart."""
    config = tf_config()
    if not config:
        return None
    task = config["task"]
    chief = ("chief", 0) if "chief" in config["cluster"] else ("worker", 0)
    index = task.get("index", 0)
    return None if (task["type"], index) == chief else f"{task['type']}-{index}"


def check_global_batch(batch_size: int, replicas: int) -> int:
    """The batch size (a positive integer, see `run.check_config`) is global: each of the
    `replicas` gets an equal share."""
    if batch_size % replicas:
        raise ValueError(
            f"`batch_size` is global and must be divisible by the {replicas} replicas of the strategy; "
            f"received batch_size={batch_size} (try {batch_size - batch_size % replicas or replicas})."
        )
    return batch_size // replicas


def synchronize_batchnorm(model: keras.Model) -> int:
    """BN statistics over the global batch (all replicas), so that training on N replicas is
    the same computation as on one device with the same global batch. tf.distribute needs
    the flag; under keras.distribution (JAX) the batch is one sharded array, whose moments
    are already global."""
    return set_batchnorm(model, synchronized=True) if keras.backend.backend() == "tensorflow" else 0


def mixed_precision_policy(enabled: bool) -> str:
    """Set and return the global policy: float16 compute on GPU, bfloat16 on CPU/TPU (the
    classifier stays float32, see the builder); "float32" when not `enabled`."""
    import tensorflow as tf

    policy = "float32"
    if enabled:
        policy = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy
