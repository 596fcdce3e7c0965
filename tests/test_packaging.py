"""Installed users get the weights: the package, its registry and files come from the
installed copy, and the sdist carries weights/."""

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import keras_resnet
from keras_resnet import registry

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not os.environ.get("KERAS_RESNET_EXPECT_INSTALLED"), reason="run by scripts/test.sh")
def test_tests_run_against_the_installed_copy():
    package = Path(keras_resnet.__file__).parent
    assert "site-packages" in package.parts, package
    assert registry.weights_dir() == package / "weights"
    assert len(registry.registry()) >= 4


def test_sdist_carries_weights(tmp_path):
    subprocess.run([sys.executable, "setup.py", "-q", "sdist", "--dist-dir", str(tmp_path)], cwd=REPO, check=True,
                   capture_output=True)
    (sdist,) = tmp_path.glob("*.tar.gz")
    names = {name.split("/", 1)[1] for name in tarfile.open(sdist).getnames() if "/" in name}
    for entry in registry.registry():
        if entry["file"]["url"] is None:
            assert f"weights/{entry['file']['name']}" in names
            assert f"weights/{entry['license_file']}" in names
    assert {"weights/registry.json", "weights/imagenet_class_index.json", "setup.py", "README.md", "LICENSE", ".ci/run",
            "SECURITY.md", "RELIABILITY.md"} <= names
