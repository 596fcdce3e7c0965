"""ResNet-50 training throughput with mixed precision and XLA, the way to train on a GPU:
`model.fit` on synthetic 224x224 batches already on the device, images/s per epoch after a
warm-up epoch (which includes XLA compilation). Runs unchanged with or without a GPU (on a
CPU, bfloat16; use a small --batch-size and --steps there, as a smoke run).

    python benchmarks/gpu_train.py [--batch-size 256] [--steps 50] [--epochs 3] [--no-xla] [--fp32]
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from harness import save

import keras_resnet as kr  # first: oneDNN switch
from keras_resnet.training import distribute


class EpochRate(keras.callbacks.Callback):
    def __init__(self, images_per_epoch: int):
        super().__init__()
        self.images, self.rates = images_per_epoch, []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.rates.append(self.images / (time.perf_counter() - self.start))
        print(f"epoch {epoch + 1}: {self.rates[-1]:.1f} images/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="the first is warm-up")
    parser.add_argument("--no-xla", action="store_true")
    parser.add_argument("--fp32", action="store_true", help="float32 instead of mixed precision")
    args = parser.parse_args()
    if args.epochs < 2 or args.steps < 1 or args.batch_size < 1:
        parser.error("--epochs must be >= 2 (the first is warm-up), --steps and --batch-size >= 1")

    policy = distribute.mixed_precision_policy(not args.fp32)
    x = tf.random.uniform((args.batch_size, 224, 224, 3), 0, 255)
    y = tf.random.uniform((args.batch_size,), 0, 1000, dtype=tf.int64)
    dataset = tf.data.Dataset.from_tensors((x, y)).repeat().prefetch(tf.data.AUTOTUNE)
    model = kr.ResNet50()
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy",
                  jit_compile=not args.no_xla)
    rate = EpochRate(args.steps * args.batch_size)
    model.fit(dataset, epochs=args.epochs, steps_per_epoch=args.steps, callbacks=[rate], verbose=0)
    median = statistics.median(rate.rates[1:])
    print(f"ResNet-50 training, {policy}, XLA {'off' if args.no_xla else 'on'}, batch {args.batch_size}: "
          f"{median:.1f} images/s (median of {len(rate.rates) - 1} epochs of {args.steps} steps)")
    device = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    save(f"gpu_train_{device}", {"policy": policy, "xla": not args.no_xla, "batch_size": args.batch_size,
                                 "images_per_s_per_epoch": rate.rates, "images_per_s": median}, benchmark="gpu_train")


if __name__ == "__main__":
    main()
