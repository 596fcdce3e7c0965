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


def run_python(code: str, **env) -> str:
    """Run code in a fresh interpreter (another Keras backend, a clean process)."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def keras_resnet_cli(*args) -> subprocess.CompletedProcess:
    """The installed `keras-resnet` console script."""
    exe = shutil.which("keras-resnet") or str(Path(sys.executable).parent / "keras-resnet")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
