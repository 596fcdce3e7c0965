import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import keras_resnet

SHARED = Path(os.environ.get("KERAS_RESNET_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"


def pytest_report_header(config):
    return f"keras_resnet from {Path(keras_resnet.__file__).parent}"


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared/data not found at {SHARED} (set KERAS_RESNET_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def cifar_test(shared):
    from keras_resnet.data import load_cifar10

    return load_cifar10(shared / "cifar-10-batches-py", "test")


class RunsCode:
    """A pickle payload: unpickling it runs `touch <marker>`, so a test sees whether a loader ran it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def run_python(code: str, **env) -> str:
    """Run code in a fresh interpreter (another Keras backend, a clean process); an `env`
    value of None removes that variable."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
        env={k: v for k, v in environment.items() if v is not None},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


NAMESPACE = ["unshare", "--user", "--map-root-user", "--mount"]


def in_namespace(script: str, *args: str, **env) -> subprocess.CompletedProcess:
    """`script` (sh, with `args` as $0...) as root of a new user and mount namespace, where it
    mounts its own small, full or read-only tmpfs (root ignores file modes, not mounts)."""
    if shutil.which("unshare") is None or subprocess.run([*NAMESPACE, "true"]).returncode != 0:
        pytest.skip("needs `unshare` with user namespaces, to mount a small or read-only disk")
    return subprocess.run([*NAMESPACE, "sh", "-c", script, *args], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env})


def keras_resnet_exe() -> str:
    """The installed `keras-resnet` console script."""
    return shutil.which("keras-resnet") or str(Path(sys.executable).parent / "keras-resnet")


def keras_resnet_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([keras_resnet_exe(), *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


@pytest.fixture(scope="session")
def image_folder(cifar_test, tmp_path_factory):
    """A tiny ImageNet-style tree of real CIFAR images upscaled to 300x400 (JPEG and PNG)."""
    import numpy as np
    import tensorflow as tf

    root = tmp_path_factory.mktemp("folders")
    images, labels = cifar_test
    for split, start in (("train", 0), ("val", 100)):
        for label, name in ((3, "cat"), (8, "ship")):
            (root / split / name).mkdir(parents=True)
            for k, i in enumerate(np.flatnonzero(labels == label)[start // 10:start // 10 + 3]):
                big = tf.cast(tf.image.resize(images[i], (300, 400)), tf.uint8)
                encoded = tf.io.encode_png(big) if k % 2 else tf.io.encode_jpeg(big)
                (root / split / name / f"{i}.{'png' if k % 2 else 'jpg'}").write_bytes(encoded.numpy())
    return root
