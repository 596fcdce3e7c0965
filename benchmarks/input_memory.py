"""Memory that image files cost, as the commands read them (issue 26): the peak resident memory
above a baseline, in a fresh process per case, for photos and large PNGs given to `predict`,
`explain`, `export --images` and `--calibration`, and for a sparse 2 GiB PNG (refused). The
export cases run the whole export (`export_model` to ONNX; int8 for `--calibration`, verified on
8 seeded random images) of a small model at 224 x 224, so that what grows is the images' share.

    python benchmarks/input_memory.py [--runs 1]

The baseline is the process with the model built (cifar_resnet20, weights cifar10) and one
32 x 32 PNG taken through the same path; the peak (VmHWM, reset through /proc/self/clear_refs,
so Linux only) is then read after the case. The files are made here: a 12-megapixel JPEG of
smooth colours (a camera photo's size, 2.9 MB), PNGs of one colour (a few hundred KB).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

from harness import save

MIB = 2**20
BOUND_MIB = 300  # the goal: at most this above the baseline for any file of a few KB to a few MB
# (name, command path, file, number of files): the file names one of `make_files`'
CASES = [
    ("predict, 1 photo 4000x3000", "predict", "photo.jpg", 1),
    ("predict, 4 photos", "predict", "photo.jpg", 4),
    ("predict, 40 photos", "predict", "photo.jpg", 40),
    ("predict, PNG 9400x9400", "predict", "9400.png", 1),
    ("predict, PNG 9459x9459 (MAX_PIXELS)", "predict", "9459.png", 1),
    ("explain, PNG 9400x9400", "explain", "9400.png", 1),
    ("export --images, 100 photos at 224x224 (--count default)", "verification", "photo.jpg", 100),
    ("export --images, 1000 photos at 224x224 (--quantize's)", "verification", "photo.jpg", 1000),
    ("export --calibration, 256 photos at 224x224", "calibration", "photo.jpg", 256),
    ("any command, sparse 2 GiB PNG (refused)", "refused", "sparse.png", 1),
]
# run in the child: `paths` (the case's files) and `small` (a 32 x 32 PNG) are set before it
CHILD = """
import tempfile
from pathlib import Path
import keras
from keras_resnet.deploy.artefacts import verification_images
from keras_resnet.deploy.export import export_model
from keras_resnet.deploy.quantize import calibration_images
from keras_resnet.evaluation.predict import classifier, model_inputs
from keras_resnet.explain.pictures import write_explanations

def status(field):
    line = next(x for x in Path('/proc/self/status').read_text().splitlines() if x.startswith(field + ':'))
    return int(line.split()[1]) * 1024

def refused(files):
    try:
        next(model_inputs(model, files))
    except ValueError:
        return
    raise AssertionError('not refused')

def export(files, quantize=None):
    folder, shape = Path(files[0]).parent, (224, 224, 3)
    output = folder.parent / 'export.onnx'  # in the benchmark's temporary folder
    if quantize is None:
        return export_model(small_model, output, 'onnx', verification_images(folder, shape, len(files)))
    return export_model(small_model, output, 'onnx', verification_images(None, shape, 8), quantize=quantize,
                        calibration=calibration_images(folder, shape, len(files)), min_agreement=0)

model = classifier('cifar_resnet20', 'cifar10')
names = [str(i) for i in range(10)]
inputs = keras.Input((224, 224, 3))  # pooled to 28 x 28 at once: activations small beside the images
features = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(8, 3)(keras.layers.AveragePooling2D(8)(inputs)))
small_model = keras.Model(inputs, keras.layers.Dense(10, activation='softmax')(features))
run = {
    'predict': lambda files: [model.predict_on_batch(image[None]) for image in model_inputs(model, files)],
    'explain': lambda files: write_explanations(model, model_inputs(model, files), files, names, tempfile.mkdtemp()),
    'verification': export,
    'calibration': lambda files: export(files, 'int8'),
    'refused': refused,
}
run['predict' if case == 'refused' else case]([small])  # the baseline: the same path on a 32 x 32 PNG
Path('/proc/self/clear_refs').write_text('5')  # VmHWM back to VmRSS
base = status('VmRSS')
run[case](paths)
print((status('VmHWM') - base) / 2**20)
"""


def solid_png(side: int, colour: tuple = (200, 30, 60)) -> bytes:
    """A valid RGB PNG of side x side pixels of one colour."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    row, compressor = b"\0" + bytes(colour) * side, zlib.compressobj(9)
    pixels = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    ihdr = side.to_bytes(4, "big") * 2 + bytes((8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def make_files(root: Path) -> None:
    """The cases' files under `root`: each in its own folder, copies as hard links."""
    import numpy as np
    import tensorflow as tf

    coarse = np.random.default_rng(0).uniform(0, 255, (300, 400, 3))
    photo = tf.cast(tf.image.resize(coarse, (3000, 4000)), tf.uint8)
    files = {"photo.jpg": tf.io.encode_jpeg(photo, quality=90).numpy(), "9400.png": solid_png(9400),
             "9459.png": solid_png(9459), "small.png": solid_png(32), "sparse.png": solid_png(32)}
    for name, encoded in files.items():
        (root / name).mkdir()
        (root / name / name).write_bytes(encoded)
    with open(root / "sparse.png" / "sparse.png", "r+b") as f:
        f.truncate(2 << 30)


def case_paths(root: Path, file: str, count: int) -> list[str]:
    """`count` names of `file` in a folder of their own (hard links)."""
    folder = root / f"{file}-{count}"
    if not folder.exists():
        folder.mkdir()
        for i in range(count):
            os.link(root / file / file, folder / f"{i}{Path(file).suffix}")
    return sorted(str(p) for p in folder.iterdir())


def peak(case: str, paths: list[str], small: str) -> float:
    """The case's peak above its baseline, in MiB, in a fresh process."""
    code = f"case, paths, small = {case!r}, {paths!r}, {small!r}\n" + CHILD
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if result.returncode:
        raise RuntimeError(result.stderr[-3000:])
    return float(result.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1, help="fresh processes per case; the largest peak is kept")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_files(root)
        small = str(root / "small.png" / "small.png")
        print(f"| case | file size | files | peak above baseline (MiB, max of {args.runs} processes) |")
        print("|---|---:|---:|---:|")
        for name, case, file, count in CASES:
            paths = case_paths(root, file, count)
            mib = max(peak(case, paths, small) for _ in range(args.runs))
            size = os.path.getsize(paths[0])
            rows.append({"case": name, "file_bytes": size, "files": count, "peak_above_baseline_mib": mib})
            print(f"| {name} | {size / MIB:.2f} MiB | {count} | {mib:.1f} |", flush=True)
    worst = max(row["peak_above_baseline_mib"] for row in rows)
    save("input_memory", {"processes_per_case": args.runs, "bound_mib": BOUND_MIB, "cases": rows})
    print(f"largest peak above the baseline: {worst:.1f} MiB (bound {BOUND_MIB} MiB): "
          f"{'met' if worst <= BOUND_MIB else 'NOT met'}")
    sys.exit(0 if worst <= BOUND_MIB else 1)


if __name__ == "__main__":
    main()
