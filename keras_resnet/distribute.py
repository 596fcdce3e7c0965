"""Scale-out on TensorFlow's engine: the `tf.distribute` strategy by name, the global batch
check, synchronised BatchNorm and the mixed-precision policy."""

from __future__ import annotations

import json
import os

import keras

from keras_resnet.layers import all_layers
from keras_resnet.validation import check_choice

STRATEGIES = ("default", "mirrored", "multi-worker", "tpu")


def make_strategy(name: str, tpu: str | None = None):
    """"default": one device; "mirrored": all local GPUs, else all logical CPUs; "multi-worker":
    the cluster in `TF_CONFIG`; "tpu": the TPU at `tpu` (default: the local one)."""
    check_choice("strategy", name, STRATEGIES)
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
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


def worker_directory() -> str | None:
    """None for the process that writes the run's files (the chief in TF_CONFIG, else worker
    0, or no cluster at all); "worker-N" for the others, which keep their files apart."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task")
    if not task:
        return None
    chief = ("chief", 0) if "chief" in config.get("cluster", {}) else ("worker", 0)
    index = int(task.get("index", 0))
    return None if (task.get("type"), index) == chief else f"{task.get('type')}-{index}"


def check_global_batch(batch_size: int, replicas: int) -> int:
    """The batch size (a positive integer, see `train.check_config`) is global: each of the
    `replicas` gets an equal share."""
    if batch_size % replicas:
        raise ValueError(
            f"`batch_size` is global and must be divisible by the {replicas} replicas of the strategy; "
            f"received batch_size={batch_size} (try {batch_size - batch_size % replicas or replicas})."
        )
    return batch_size // replicas


def synchronize_batchnorm(model: keras.Model) -> int:
    """BN statistics over the global batch (all replicas), so that training on N replicas is
    the same computation as on one device with the same global batch."""
    bns = [layer for layer in all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in bns:
        layer.synchronized = True
    return len(bns)


def mixed_precision_policy(enabled: bool) -> str:
    """Set and return the global policy: float16 compute on GPU, bfloat16 on CPU/TPU (the
    classifier stays float32, see the builder); "float32" when not `enabled`."""
    import tensorflow as tf

    policy = "float32"
    if enabled:
        policy = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    return policy
