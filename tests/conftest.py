import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_resnet

# the source tree (examples/, README.md, docs/); the package under test is the installed copy
REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KERAS_RESNET_SHARED", REPO.parent / "shared")) / "data"


def pytest_report_header(config):
    return f"keras_resnet from {Path(keras_resnet.__file__).parent}"


# The timing list: tests (an id, or a function with all its parameters) that took > ~10 s, and
# module fixtures that cost as much (a full training run: every test using one is slow), measured
# with `pytest --durations` one file at a time, then on `-m "not slow"`, on the 2-core CPU machine
# (while other jobs ran). `bash scripts/test.sh -m "not slow"` leaves them out;
# CI runs everything.
SLOW_TESTS = (
    "test_examples.py::test_cifar10_example_learns",
    "test_examples.py::test_imagenet_example_trains_and_tests_by_the_papers_three_methods",
    "test_examples.py::test_finetune_example_finds_the_shared_data_from_any_directory_and_shows_progress",
    "test_cli.py::test_file_names_that_are_not_utf8",
    "test_cli.py::test_table_prints_paper_table_1",
    "test_cli.py::test_ctrl_c_says_how_to_resume_and_the_run_resumes",
    "test_export.py::test_export_command",
    "test_explain.py::test_explain_command",
    "test_export.py::test_export_command_from_a_keras_file",
    "test_export.py::test_unconvertible_layer_is_reported",
    "test_export.py::test_full_or_read_only_disk_is_reported_as_such",
    "test_quantize.py::test_int8_tflite_is_smaller_full_integer_and_within_budget",
    "test_quantize.py::test_export_command_int8_onnx",
    "test_train_faults.py::test_divergence_stops_the_run_and_keeps_the_last_good_epoch",
    "test_train_faults.py::test_disk_filling_up_mid_run_loses_nothing",
    "test_train_faults.py::test_one_process_per_run_directory",
    "test_train_errors.py::test_command_line_reports_before_training",
    "test_architectures.py::test_cifar_parameters[CifarResNet1202]",
    "test_keras_applications.py::test_published_layout_gives_keras_applications_outputs",
    "test_weight_faults.py::test_keras_files_that_would_run_code_are_refused",
    "test_serialization.py::test_same_outputs_on_torch_backend",
    "test_schedules.py::test_applied_cifar_schedule_with_warmup",
    "test_schedules.py::test_applied_step_and_plateau_schedules",
    "test_family.py::test_table_lists_the_family_beside_its_references",
    "test_family.py::test_preact_cifar_nets_have_the_papers_size",
    "test_family.py::test_train_a_family_model",
    "test_family.py::test_same_outputs_on_torch_backend",
)
SLOW_FIXTURES = ("resumed_run", "single_device")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes > ~10 s (the timing list in conftest.py); -m 'not slow' skips them")


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(config, items):
    """Mark the timing list; a SLOW_TESTS entry that its collected module lacks is stale."""
    modules = {}
    for item in items:
        modules[item.nodeid.split("::")[0]] = item.module
        if {item.nodeid, item.nodeid.split("[")[0]} & set(SLOW_TESTS) or set(SLOW_FIXTURES) & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)
    stale = [test for test in SLOW_TESTS if test.split("::")[0] in modules
             and not hasattr(modules[test.split("::")[0]], test.split("::")[1].split("[")[0])]
    if stale:
        raise pytest.UsageError(f"tests/conftest.py SLOW_TESTS names tests that do not exist: {stale}; update it")


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared/data not found at {SHARED} (set KERAS_RESNET_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def cifar_test(shared):
    from keras_resnet.data.cifar10 import load_cifar10

    return load_cifar10(shared / "cifar-10-batches-py", "test")


class RunsCode:
    """A pickle payload: unpickling it runs `touch <marker>`, so a test sees whether a loader ran it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def image_data_format():
    """Set keras.config's image data format for one test (call it with the format), restored
    after it, as keras.applications' own tests do."""
    before = keras.config.image_data_format()
    yield keras.config.set_image_data_format
    keras.config.set_image_data_format(before)


def to_format(images: np.ndarray) -> np.ndarray:
    """Channels-last images (a batch) in keras.config's data format."""
    return images.transpose(0, 3, 1, 2) if keras.config.image_data_format() == "channels_first" else images


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


def randomise_batchnorm(model, seed: int = 0, spread: float = 0.2):
    """`model` with BN moving statistics and affine parameters far from their initial 0/1, so
    that folding, a wrong mapping or a missed BN shows in the outputs."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, n), rng.normal(0, spread, n), rng.normal(0, spread, n),
                               rng.uniform(0.5, 2.0, n)])
    return model


def torch_state_dict(model, deep_stem: bool = False, avg_down: bool = False) -> dict[str, np.ndarray]:
    """`model`'s weights under torchvision's state-dict names and axis orders (timm's for
    ResNet-D: `deep_stem` conv1.0/.1/.3/.4/.6 + bn1, and `avg_down` downsample.1/.2 after the
    pool), spelled out here from their module names, as a PyTorch file would hold them."""
    deep = {"conv1_1_conv": "conv1.0", "conv1_1_bn": "conv1.1", "conv1_2_conv": "conv1.3", "conv1_2_bn": "conv1.4",
            "conv1_3_conv": "conv1.6", "conv1_3_bn": "bn1"}
    stem = deep if deep_stem else {"conv1_conv": "conv1", "conv1_bn": "bn1"}
    state = {}
    for layer in model.layers:
        if not layer.weights:
            continue
        name = {**stem, "predictions": "fc"}.get(layer.name)
        if name is None:  # conv{s}_block{b}_{i}_{conv|bn}: layer{s-1}.{b-1}.{conv|bn}{i}; i=0: downsample
            stage, block, unit, kind = layer.name.split("_")
            prefix = f"layer{int(stage[4:]) - 1}.{int(block[5:]) - 1}"
            index = (0 if kind == "conv" else 1) + int(avg_down)
            name = f"{prefix}.downsample.{index}" if unit == "0" else f"{prefix}.{kind}{unit}"
        w = [np.asarray(v) for v in layer.weights]
        if isinstance(layer, keras.layers.Conv2D):
            state[f"{name}.weight"] = w[0].transpose(3, 2, 0, 1).copy()
        elif isinstance(layer, keras.layers.Dense):
            state.update({f"{name}.weight": w[0].T.copy(), f"{name}.bias": w[1]})
        else:
            state.update(dict(zip((f"{name}.{k}" for k in ("weight", "bias", "running_mean", "running_var")), w)))
    return state
