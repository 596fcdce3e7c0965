"""One short training run under a strategy, for test_distributed.py (a process per run:
two strategies in one process collide), under the Keras backend of KERAS_BACKEND (JAX:
"mirrored" is keras.distribution over the devices XLA_FLAGS gives). Prints the per-replica
weight spread as JSON and saves the final weights to OUTPUT/weights-<worker>.npz."""

import json
import os
import sys

import numpy as np

strategy, data_dir, output = sys.argv[1:4]
if strategy == "mirrored" and os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
    # two logical CPU devices: two replicas on this machine
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from keras_resnet.training.run import TrainConfig, train  # noqa: E402

model, _ = train(TrainConfig(model="cifar_resnet8", data_dir=data_dir, output=output, epochs=2, steps_per_epoch=3,
                             batch_size=16, augment=False, strategy=strategy, plot=False))


def replica_values(variable) -> list[np.ndarray]:
    """A variable's copy on each replica: tf.distribute's mirrored values, or a JAX array's
    shards (each device's), else the one value."""
    value = variable.value
    if hasattr(value, "addressable_shards"):
        return [np.asarray(shard.data) for shard in value.addressable_shards]
    return [keras.ops.convert_to_numpy(v) for v in getattr(value, "values", None) or [value]]


spread = 0.0
for variable in model.weights:
    values = replica_values(variable)
    spread = max([spread] + [float(np.abs(v - values[0]).max()) for v in values])
worker = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {}).get("index", 0)
np.savez(os.path.join(output, f"weights-{worker}.npz"), *[keras.ops.convert_to_numpy(v) for v in model.weights])
print(json.dumps({"replicas": len(replica_values(model.weights[0])), "spread": spread}))
