"""Where the time goes on the torch and JAX backends (BENCHMARKS.md, "Keras backends"): the
profiles behind the per-backend choices and the upstream report.

- torch: `torch.profiler`'s operators by their own CPU time, for one `predict_on_batch` of
  ResNet-50 (batch 32, channels last) with Keras' own layer calls (a `clone_model` copy) and with
  the kernels keras_resnet attaches (`core.torch_kernels`).
- xla: one 3x3 convolution of each CIFAR ResNet stage (batch 128), forward, input gradient and
  kernel gradient, compiled by XLA (JAX) and by TensorFlow (its CPU kernels, oneDNN): ms each.

Each part runs in a fresh process of its backend.

    python benchmarks/backend_profiles.py [--repeats 20]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

CONVS = [(128, 32, 32, 16), (128, 16, 16, 32), (128, 8, 8, 64)]  # batch, height, width, channels in = out


def torch_profile() -> dict:
    import keras
    import numpy as np
    import torch
    from torch.profiler import ProfilerActivity, profile

    import keras_resnet as kr

    torch.set_num_threads(os.cpu_count())
    ours = kr.ResNet50(weights=None)
    x = np.random.default_rng(0).uniform(-1, 1, (32, 224, 224, 3)).astype("float32")
    found = {}
    for name, model in (("Keras' layer calls", keras.models.clone_model(ours)), ("keras_resnet's kernels", ours)):
        for _ in range(3):
            model.predict_on_batch(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            model.predict_on_batch(x)
        events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
        total = sum(e.self_cpu_time_total for e in events)
        found[name] = {"total_ms": total / 1e3, "top": [
            {"op": e.key, "calls": e.count, "self_ms": e.self_cpu_time_total / 1e3,
             "share": e.self_cpu_time_total / total} for e in events[:8]]}
    return found


def xla_convolutions(repeats: int) -> dict:
    """ms per call of each convolution and its two gradients, on this process's backend."""
    import keras
    import numpy as np

    backend, found = keras.backend.backend(), {}
    for b, h, w, c in CONVS:
        x, k, g = (np.ones(s, "float32") for s in ((b, h, w, c), (3, 3, c, c), (b, h, w, c)))
        if backend == "jax":
            import jax

            def conv(x, k):
                return jax.lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))

            calls = {"forward": jax.jit(conv),
                     "input gradient": jax.jit(lambda x, k, g: jax.vjp(conv, x, k)[1](g)[0]),
                     "kernel gradient": jax.jit(lambda x, k, g: jax.vjp(conv, x, k)[1](g)[1])}
            done = jax.block_until_ready
            x, k, g = map(jax.device_put, (x, k, g))
        else:
            import tensorflow as tf

            calls = {"forward": tf.function(lambda x, k: tf.nn.conv2d(x, k, 1, "SAME")),
                     "input gradient": tf.function(lambda x, k, g: tf.raw_ops.Conv2DBackpropInput(
                         input_sizes=tf.shape(x), filter=k, out_backprop=g, strides=[1, 1, 1, 1], padding="SAME")),
                     "kernel gradient": tf.function(lambda x, k, g: tf.raw_ops.Conv2DBackpropFilter(
                         input=x, filter_sizes=tf.shape(k), out_backprop=g, strides=[1, 1, 1, 1], padding="SAME"))}
            done = np.asarray
            x, k, g = map(tf.constant, (x, k, g))
        for name, call in calls.items():
            args = (x, k) if name == "forward" else (x, k, g)
            for _ in range(3):
                done(call(*args))
            start = time.perf_counter()
            for _ in range(repeats):
                out = call(*args)
            done(out)
            found[f"{h}x{w}x{c}, {name}"] = (time.perf_counter() - start) / repeats * 1e3
    return found


def run(part: str, backend: str, repeats: int) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, __file__, "--child", part, str(repeats)], env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"{part} on {backend} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        part, repeats = sys.argv[2], int(sys.argv[3])
        return print(json.dumps(torch_profile() if part == "torch" else xla_convolutions(repeats)))
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per convolution (default %(default)s)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1; received {args.repeats}")
    from harness import save

    torch_part = run("torch", "torch", args.repeats)
    for name, profile in torch_part.items():
        print(f"torch, ResNet-50 predict_on_batch b32, {name}: {profile['total_ms']:.0f} ms of operators")
        for row in profile["top"]:
            print(f"  {row['op']:<34} {row['calls']:4d} calls {row['self_ms']:8.1f} ms {row['share']:6.1%}")
    convolutions = {backend: run("xla", backend, args.repeats) for backend in ("jax", "tensorflow")}
    for case in convolutions["jax"]:
        jax_ms, tf_ms = convolutions["jax"][case], convolutions["tensorflow"][case]
        print(f"3x3 convolution {case:<32} XLA {jax_ms:7.2f} ms  TensorFlow {tf_ms:7.2f} ms  {jax_ms / tf_ms:5.2f}x")
    save("backend_profiles", {"torch": torch_part, "convolutions_ms": convolutions, "repeats": args.repeats})


if __name__ == "__main__":
    main()
