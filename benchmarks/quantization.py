"""int8 against float for the shipped CIFAR-10 nets (ResNet-20/32/44/56), in TFLite and ONNX:
top-1 accuracy on the 1,017 real test images in ../shared (the Keras model's; the float exports
match it, verified) and the int8 file's, their top-1 agreement, file sizes, and batch-1 latency
and batch-32 throughput of the float and int8 files in the same runtime, in one process,
alternating rounds (harness.py). Both files are written by `export_model` (BN folded; int8
calibrated on 256 images of the training batches), so what is timed is what users get.

    python benchmarks/quantization.py [--repeats 7] [--shared ../shared] [--depths 20 32 44 56]

The goals of issue 17: accuracy drop <= 0.5 points, size <= 0.3x, int8 batch-1 >= 1.5x faster.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from harness import Case, alternate, save, summarise

import keras_resnet as kr
from keras_resnet.deploy.export import export_model
from keras_resnet.deploy.folding import fold_batchnorm
from keras_resnet.deploy.quantize import calibration_images, labelled_images

FORMATS = ("tflite", "onnx")
CPU_FEATURES = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8")
SAMPLE_SECONDS = 0.3  # each timed sample repeats its call about this long
GOALS = {"max_accuracy_drop": 0.5, "max_size_ratio": 0.3, "min_batch1_speedup": 1.5}


def cpu_features() -> list[str]:
    flags = next((line.split(":", 1)[1].split() for line in open("/proc/cpuinfo") if line.startswith("flags")), [])
    return [f for f in CPU_FEATURES if f in flags]


def runner(format: str, path: Path, batch: np.ndarray, threads: int):
    """A call running `batch` through the file in its runtime, set up once (as a server would)."""
    if format == "tflite":
        import tensorflow as tf

        with warnings.catch_warnings():  # its deprecation notice: LiteRT, not installed here, is its successor
            warnings.simplefilter("ignore")
            interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=threads)
        (inputs,), (outputs,) = interpreter.get_input_details(), interpreter.get_output_details()
        interpreter.resize_tensor_input(inputs["index"], batch.shape)
        interpreter.allocate_tensors()

        def run():
            interpreter.set_tensor(inputs["index"], batch)
            interpreter.invoke()
            return interpreter.get_tensor(outputs["index"])

        return run
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda: session.run(None, {name: batch})


def case(name: str, step, images: int) -> Case:
    """A case repeating `step` for about SAMPLE_SECONDS per sample (timed once after a warm-up call)."""
    step()
    start = time.perf_counter()
    step()
    return Case(name, step, images, calls=max(1, round(SAMPLE_SECONDS / (time.perf_counter() - start))))


def measure(depth: int, shared: Path, repeats: int, threads: int, work: Path) -> dict:
    data = shared / "data" / "cifar-10-batches-py"
    model = getattr(kr, f"CifarResNet{depth}")(weights="cifar10")
    shape = model.input_shape[1:]
    calibration = calibration_images(data, shape)
    test, labels = labelled_images(data, shape, 1017)
    images = np.concatenate(list(test.batches()))  # held whole: the timed batches are its slices
    rows, cases = {}, []
    for format in FORMATS:
        floating, int8 = work / f"resnet{depth}_float.{format}", work / f"resnet{depth}_int8.{format}"
        export_model(fold_batchnorm(model), floating, format, images[:100])
        check = export_model(model, int8, format, images, quantize="int8", calibration=calibration, labels=labels)
        rows[format] = {k: check[k] for k in ("images", "calibration_images", "keras_accuracy", "int8_accuracy",
                                              "accuracy_drop", "top1_agreement", "float_bytes", "int8_bytes")}
        rows[format]["size_ratio"] = check["int8_bytes"] / check["float_bytes"]
        for batch in (1, 32):
            for kind, path in (("float", floating), ("int8", int8)):
                cases.append(case(f"{format} {kind} b{batch}", runner(format, path, images[:batch], threads), batch))
    summary = summarise(alternate(cases, repeats=repeats), [
        (f"{f} int8 b{b}", f"{f} float b{b}") for f in FORMATS for b in (1, 32)])
    for format, row in rows.items():
        rate = summary["images_per_s"]
        row["batch1_latency_ms"] = {k: 1000 / rate[f"{format} {k} b1"] for k in ("float", "int8")}
        row["batch32_images_per_s"] = {k: rate[f"{format} {k} b32"] for k in ("float", "int8")}
        row["batch1_speedup"] = summary["ratios"][f"{format} int8 b1 / {format} float b1"]
        row["batch32_speedup"] = summary["ratios"][f"{format} int8 b32 / {format} float b32"]
        row["goals_met"] = {
            "accuracy_drop": row["accuracy_drop"] <= GOALS["max_accuracy_drop"],
            "size": row["size_ratio"] <= GOALS["max_size_ratio"],
            "batch1_speedup": row["batch1_speedup"]["median"] >= GOALS["min_batch1_speedup"],
        }
        print(f"resnet{depth} {format:>6}: accuracy {row['keras_accuracy']:.2%} -> {row['int8_accuracy']:.2%}, "
              f"agreement {row['top1_agreement']:.1%}, size {row['size_ratio']:.3f}x, batch 1 "
              f"{row['batch1_latency_ms']['float']:.3f} -> {row['batch1_latency_ms']['int8']:.3f} ms "
              f"({row['batch1_speedup']['median']:.2f}x), batch 32 {row['batch32_speedup']['median']:.2f}x")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (default %(default)s)")
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    parser.add_argument("--depths", type=int, nargs="+", default=[20, 32, 44, 56], choices=[20, 32, 44, 56])
    args = parser.parse_args()
    threads = len(os.sched_getaffinity(0))  # the cores this process may use (taskset), for every runtime
    with tempfile.TemporaryDirectory() as work:
        results = {f"resnet{d}": measure(d, Path(args.shared), args.repeats, threads, Path(work)) for d in args.depths}
    save("quantization", {"cpu_features": cpu_features(), "threads": threads, "runs": args.repeats, "goals": GOALS,
                          "models": results})


if __name__ == "__main__":
    main()
