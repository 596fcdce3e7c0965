"""One short training run under a strategy, for test_distributed.py (a process per run:
two strategies in one process collide). Prints the per-replica weight spread as JSON and
saves the final weights to OUTPUT/weights-<worker>.npz."""

import json
import os
import sys

import numpy as np

strategy, data_dir, output = sys.argv[1:4]
if strategy == "mirrored":  # two logical CPU devices: two replicas on this machine
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from keras_resnet.training.run import TrainConfig, train  # noqa: E402

model, _ = train(TrainConfig(model="cifar_resnet8", data_dir=data_dir, output=output, epochs=2, steps_per_epoch=3,
                             batch_size=16, augment=False, strategy=strategy, plot=False))
spread = 0.0
for variable in model.weights:
    values = [v.numpy() for v in getattr(variable.value, "values", [variable.value])]
    spread = max([spread] + [float(np.abs(v - values[0]).max()) for v in values])
worker = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {}).get("index", 0)
np.savez(os.path.join(output, f"weights-{worker}.npz"), *[v.numpy() for v in model.weights])
print(json.dumps({"replicas": len(getattr(model.weights[0].value, "values", [0])), "spread": spread}))
