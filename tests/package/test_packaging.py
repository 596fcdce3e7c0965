"""Installed users get the weights: the package, its registry and files come from the
installed copy, and the sdist and the wheel carry weights/; the wheel's metadata is this
project's (keras3-resnet), and the unrelated old keras-resnet beside it is named at import."""

import os
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
from conftest import REPO

import keras_resnet
from keras_resnet.pretrained import download, registry


@pytest.mark.skipif(not os.environ.get("KERAS_RESNET_EXPECT_INSTALLED"), reason="run by scripts/test.sh")
def test_tests_run_against_the_installed_copy():
    package = Path(keras_resnet.__file__).parent
    assert "site-packages" in package.parts, package
    assert download.weights_dir() == package / "weights"
    assert len(registry.entries()) >= 4


def test_sdist_carries_weights(tmp_path):
    subprocess.run([sys.executable, "setup.py", "-q", "sdist", "--dist-dir", str(tmp_path)], cwd=REPO, check=True,
                   capture_output=True)
    (sdist,) = tmp_path.glob("*.tar.gz")
    names = {name.split("/", 1)[1] for name in tarfile.open(sdist).getnames() if "/" in name}
    for entry in registry.entries():
        if entry.file.url is None:
            assert f"weights/{entry.file.name}" in names
            assert f"weights/{entry.license_file}" in names
    assert {"weights/registry.json", "weights/timm_tags.json", "weights/imagenet_class_index.json", "setup.py",
            "pyproject.toml", "README.md", "LICENSE", ".ci/run", "SECURITY.md", "CHANGELOG.md", "CONTRIBUTING.md",
            "docs/reliability.md"} <= names


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built as `pip wheel --no-deps .` builds it (without build isolation: offline, fast)."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(REPO)], check=True, capture_output=True)
    (built,) = out.glob("*.whl")
    return built


def test_wheel_carries_weights_and_metadata(wheel):
    files = set(zipfile.ZipFile(wheel).namelist())
    modules = {f"keras_resnet/{path.relative_to(REPO / 'keras_resnet').as_posix()}"
               for path in (REPO / "keras_resnet").rglob("*.py")}  # every subpackage, listed in pyproject.toml
    assert {"keras_resnet/cli/__init__.py", "keras_resnet/core/architectures.py"} <= modules <= files
    assert {"keras_resnet/weights/registry.json", "keras_resnet/weights/timm_tags.json",
            "keras_resnet/weights/imagenet_class_index.json"} <= files
    for entry in registry.entries():
        if entry.file.url is None:
            assert f"keras_resnet/weights/{entry.file.name}" in files
            assert f"keras_resnet/weights/{entry.license_file}" in files
    assert not any(name.startswith(("tests/", "weights/")) for name in files)
    dist_info = f"keras3_resnet-{keras_resnet.__version__}.dist-info"
    meta = Parser().parsestr(zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode())
    assert meta["Name"] == "keras3-resnet"
    assert (meta["Version"], meta["Requires-Python"]) == (keras_resnet.__version__, ">=3.10")
    assert meta["License-Expression"] == "MIT" and meta["Summary"] and meta.get_all("Classifier")
    extras = {"tensorflow", "tensorflow-cpu", "torch", "jax", "train", "export", "test", "hub"}
    assert set(meta.get_all("Provides-Extra")) == extras
    assert "keras>=3.14" in meta.get_all("Requires-Dist")
    entry_points = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "keras-resnet = keras_resnet.cli:main" in entry_points


def old_keras_resnet(site: Path) -> None:
    """The unrelated keras-resnet 0.2.0's dist-info as pip writes it into `site`."""
    dist_info = site / "keras_resnet-0.2.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: keras-resnet\nVersion: 0.2.0\nSummary: UNKNOWN\n"
                                        "Home-page: https://github.com/broadinstitute/keras-resnet\nLicense: MIT\n")
    (dist_info / "INSTALLER").write_text("pip\n")
    (dist_info / "top_level.txt").write_text("keras_resnet\n")
    (dist_info / "RECORD").write_text("".join(f"{name},,\n" for name in (
        "keras_resnet/__init__.py", "keras_resnet/layers/__init__.py", "keras_resnet-0.2.0.dist-info/METADATA",
        "keras_resnet-0.2.0.dist-info/RECORD")))


def import_from(*path: Path, code: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter with `path` first on sys.path, as where pip installed."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.pathsep.join(map(str, path))}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=environment)


def test_the_installed_wheel_works_and_refuses_the_old_keras_resnet_beside_it(wheel, tmp_path):
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    elsewhere.mkdir()
    old_keras_resnet(elsewhere)  # on sys.path but not in our folder: it shares no files, so no conflict
    works = import_from(site, elsewhere, code="import keras_resnet; from keras_resnet.pretrained import download; "
                        "print(keras_resnet.__file__); print(download.weights_dir())")
    assert works.returncode == 0, works.stderr[-3000:]
    assert works.stdout.split() == [str(site / "keras_resnet" / "__init__.py"), str(site / "keras_resnet" / "weights")]

    old_keras_resnet(site)  # installed into the same folder: the two overwrite each other's keras_resnet/
    refused = import_from(site, code="import keras_resnet")
    assert refused.returncode == 1
    error = refused.stderr.strip().splitlines()
    assert error[-3].startswith("ImportError: keras_resnet: the package keras-resnet 0.2.0 is installed in the same "
                                f"place as this one ({site / 'keras_resnet'}).")
    assert "unrelated project" in error[-3] and "distributed as keras3-resnet" in error[-3]
    assert [line.split(maxsplit=1)[1] for line in error[-2:]] == [
        "-m pip uninstall -y keras-resnet", f"-m pip install --force-reinstall --no-deps '{wheel}'"]  # its source
    assert all(os.path.samefile(line.split()[0], sys.executable) for line in error[-2:])  # this interpreter
