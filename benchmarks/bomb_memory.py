"""Memory that does not grow with the input (issue 26): each hostile file of kilobytes, used as
a user would (`keras-resnet predict m.keras img.png`, or CIFAR-10 read from `--data-dir`), in
a fresh process; its peak resident memory above the baseline of the same process having
predicted with a legitimate CIFAR .keras, and whether it was refused.

    python benchmarks/bomb_memory.py

First, the activations the package's own nets hold at once per image
(`formats.peak_activations`, the figure `ACTIVATION_BUDGET` is set against). One run: each
case is one fresh process (peak RSS, `ru_maxrss`, only grows). The bound the issue sets is
300 MiB above the baseline for every file of a few KB to a few MB.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from harness import save

BOUND_MIB = 300
CHILD = """
import json, resource, sys
import numpy as np, tensorflow as tf
from keras_resnet.data.cifar10 import load_cifar10
from keras_resnet.evaluation.predict import predict_files
legit, image, case, how = sys.argv[1:5]
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
predict_files(legit, [image])
base = peak()
try:
    predict_files(case, [image]) if how == "predict" else load_cifar10(case, "test")
    refusal = None
except ValueError as e:
    refusal = str(e)
print(json.dumps({"above_mib": peak() - base, "refusal": refusal}))
"""


def _classifier(path: Path, inputs, features) -> None:
    import keras

    keras.Model(inputs, keras.layers.Dense(10)(keras.layers.GlobalAveragePooling2D()(features))).save(path)


def _npz_bomb(path: Path) -> None:
    """Dense(10)'s config, and an npz of one .npy declaring 2**26 float32, deflated zeros."""
    import keras
    import numpy as np

    inputs = keras.Input((1,))
    keras.Model(inputs, keras.layers.Dense(10)(inputs)).save(path.with_name("small.keras"))
    npz = io.BytesIO()
    with zipfile.ZipFile(npz, "w", zipfile.ZIP_DEFLATED) as z, z.open("layers/dense.npy", "w") as member:
        np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False, "shape": (1 << 26,)})
        for _ in range(256):
            member.write(bytes(1 << 20))
    with zipfile.ZipFile(path.with_name("small.keras")) as small, zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", small.read("config.json"))
        z.writestr("model.weights.npz", npz.getvalue())


def build(directory: Path) -> dict[str, tuple[Path, str]]:
    """The cases: {name: (file or directory, how it is used)}."""
    import keras

    import keras_resnet as kr
    from keras_resnet.models.preprocessing import CentreCrop

    cases = {}

    def model(name: str, shape, layer) -> None:
        inputs = keras.Input(shape)
        _classifier(directory / f"{name}.keras", inputs, layer(inputs))
        cases[name] = (directory / f"{name}.keras", "predict")

    kr.CifarResNet(3).save(directory / "legit.keras")
    cases["legit CifarResNet-20 .keras"] = (directory / "legit.keras", "predict")
    model("UpSampling2D(512) of 16x16", (16, 16, 3), keras.layers.UpSampling2D(512))
    model("8192x8192 input, Conv2D(8)", (8192, 8192, 3), keras.layers.Conv2D(8, 3))
    model("CentreCrop(size=12000)", (None, None, 3), lambda x: keras.layers.Conv2D(8, 3)(CentreCrop(size=12000)(x)))
    model("UpSampling2D(200), accepted", (16, 16, 3), keras.layers.UpSampling2D(200))  # 123 MB at once: the budget
    _npz_bomb(directory / "npz.keras")
    cases["model.weights.npz, 2**26 float32"] = (directory / "npz.keras", "predict")
    (directory / "cifar").mkdir()
    with open(directory / "cifar" / "test_batch", "wb") as f:
        f.truncate(2 << 30)  # sparse: no disk
    cases["sparse 2 GiB test_batch"] = (directory / "cifar", "cifar")
    return cases


LEGIT = ("resnet50", "resnet152", "resnet152v2", "resnext101_32x8d", "wide_resnet101_2", "cifar_resnet110",
         "cifar_resnet1202")


def legit_activations() -> list[dict]:
    """Per image, at each net's input size: the most bytes of activations live at once, and where."""
    from keras_resnet.core.keras_internals import unallocated
    from keras_resnet.models.builder import build_by_id
    from keras_resnet.pretrained.formats import peak_activations

    rows = []
    for model_id in LEGIT:
        with unallocated():
            model = build_by_id(model_id, weights=None)
            found = peak_activations(model)
        rows.append({"model": model_id, "input": list(model.input_shape[1:]), "peak_mib": 4 * found.peak / 2**20,
                     "layer": found.layer})
        print(f"{model_id:20} {str(model.input_shape[1:]):16} {rows[-1]['peak_mib']:6.1f} MiB at once ({found.layer})")
    return rows


def main() -> None:
    import numpy as np
    import tensorflow as tf

    legit = legit_activations()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        cases = build(directory)
        image = directory / "cat.png"
        image.write_bytes(tf.io.encode_png(np.full((32, 32, 3), 128, np.uint8)).numpy())
        for name, (path, how) in cases.items():
            argv = [str(cases["legit CifarResNet-20 .keras"][0]), str(image), str(path), how]
            out = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, check=True,
                                 env={"TF_CPP_MIN_LOG_LEVEL": "3", **os.environ})
            got = json.loads(out.stdout.splitlines()[-1])
            size = path.stat().st_size if path.is_file() else (path / "test_batch").stat().st_size
            rows.append({"case": name, "bytes": size, **got})
            print(f"{name:36} {size:>14,} bytes  +{got['above_mib']:6.1f} MiB  "
                  f"{'refused: ' + got['refusal'][-150:] if got['refusal'] else 'accepted'}")
    worst = max(row["above_mib"] for row in rows)
    print(f"largest peak above the baseline: {worst:.1f} MiB (bound {BOUND_MIB} MiB)")
    save("bomb_memory", {"runs": 1, "bound_mib": BOUND_MIB, "legit_activations": legit, "cases": rows})
    sys.exit(worst >= BOUND_MIB)


if __name__ == "__main__":
    main()
