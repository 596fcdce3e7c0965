import collections
import contextlib
import gc
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
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


def pytest_ignore_collect(collection_path, config):
    """A session of only the tests marked `backends` (scripts/test.sh's torch and JAX runs)
    does not import the test files that have none: seconds each, and their modules' memory."""
    if config.getoption("markexpr") == "backends" and collection_path.suffix == ".py" \
            and collection_path.name.startswith("test_"):
        return "backends" not in collection_path.read_text(encoding="utf-8")
    return None


def pytest_collection_modifyitems(config, items):
    """Test files in order of their slow tests, then of their tests, most first (each file's own
    order kept): scripts/test.sh's xdist workers take files in this order
    (`--no-loadscope-reorder`), so the long files start first and the two workers end together,
    not one running a long file alone while the other waits."""
    counts = collections.defaultdict(lambda: [0, 0])
    for item in items:
        counts[item.path][0] -= item.get_closest_marker("slow") is not None
        counts[item.path][1] -= 1
    items.sort(key=lambda item: counts[item.path])


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    """Keras models are large webs of Python objects and a test process builds hundreds: what
    collection imported (TensorFlow, Keras, torch, JAX) is frozen out of the cyclic collector,
    which then runs less often (CPython: every 700 allocations). About 5% less CPU for the suite;
    the memory tests measure fresh processes."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


@pytest.fixture(scope="session")
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared/data not found at {SHARED} (set KERAS_RESNET_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def cifar_test(shared):
    from keras_resnet.data.cifar10 import load_cifar10

    return load_cifar10(shared / "cifar-10-batches-py", "test")


# keras.applications' class index (its decode_predictions downloads it into its cache) and ours,
# byte-identical, in the shared data; the MD5 keras' decode_predictions checks it by
KERAS_CLASS_INDEX = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models" / "imagenet_class_index.json"
SHARED_CLASS_INDEX = (SHARED / "imagenet_class_index.json", SHARED.parent / "imagenet_class_index.json")
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"


@pytest.fixture
def keras_decode_predictions(monkeypatch):
    """keras.applications' `decode_predictions`, never downloading: with its own cached class
    index where keras has it, else with the shared copy of that file (the same bytes) loaded into
    the global it caches the file in."""
    from keras.applications import imagenet_utils
    from keras.src.applications import imagenet_utils as keras_imagenet_utils_internals

    if _md5(KERAS_CLASS_INDEX) == CLASS_INDEX_MD5:
        return imagenet_utils.decode_predictions
    for path in SHARED_CLASS_INDEX:
        if _md5(path) == CLASS_INDEX_MD5:
            monkeypatch.setattr(keras_imagenet_utils_internals, "CLASS_INDEX", json.loads(path.read_text()))
            return imagenet_utils.decode_predictions
    pytest.skip(f"keras' imagenet_class_index.json is neither cached at {KERAS_CLASS_INDEX} nor in {SHARED.parent}")


def _md5(path: Path) -> str | None:
    return hashlib.md5(path.read_bytes()).hexdigest() if path.is_file() else None


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


def keras_resnet_main(capsys, *args) -> subprocess.CompletedProcess:
    """`keras-resnet ARGS` in this process: the console script's `main`, without a new
    interpreter's imports (seconds); its exit status and output, as `keras_resnet_cli` gives them.
    What the process itself shows (native logs on stderr, signals) needs `keras_resnet_cli`."""
    from keras_resnet import cli

    try:
        status = cli.main([str(a) for a in args])
    except SystemExit as exited:
        status = exited.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(["keras-resnet", *map(str, args)], status, captured.out, captured.err)


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


def torch_state_dict(model, deep_stem: bool = False, avg_down: bool = False, value=np.asarray) -> dict[str, np.ndarray]:
    """`model`'s weights under torchvision's state-dict names and axis orders (timm's for
    ResNet-D: `deep_stem` conv1.0/.1/.3/.4/.6 + bn1, and `avg_down` downsample.1/.2 after the
    pool), spelled out here from their module names, as a PyTorch file would hold them.
    `value(variable)`: its array (for a model built with `references.shapes_only`, made up)."""
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
        w = [value(v) for v in layer.weights]
        if isinstance(layer, keras.layers.Conv2D):
            state[f"{name}.weight"] = w[0].transpose(3, 2, 0, 1).copy()
        elif isinstance(layer, keras.layers.Dense):
            state.update({f"{name}.weight": w[0].T.copy(), f"{name}.bias": w[1]})
        else:
            state.update(dict(zip((f"{name}.{k}" for k in ("weight", "bias", "running_mean", "running_var")), w)))
    return state


TIMM_PYTHON = "KERAS_RESNET_TIMM_PYTHON"
TIMM_REFERENCE = Path(__file__).with_name("timm_reference.py")


@pytest.fixture(scope="session")
def timm_python() -> str:
    """The interpreter of the timm environment ($KERAS_RESNET_TIMM_PYTHON: scripts/setup-references.sh
    makes `.venv-timm`, scripts/test.sh sets it), which runs tests/timm_reference.py: timm needs a torch
    that cannot share this environment. Where the suite runs as CI runs it (CI or
    KERAS_RESNET_EXPECT_INSTALLED set) a missing one fails the tests against timm rather than
    skipping them, unless KERAS_RESNET_NO_TIMM=1 says it was left out on purpose."""
    python = os.environ.get(TIMM_PYTHON, "")
    if python and os.path.isfile(python) and os.access(python, os.X_OK):
        return python
    why = f"${TIMM_PYTHON} is {repr(python) + ', not an executable' if python else 'not set'}"
    if os.environ.get("KERAS_RESNET_NO_TIMM") == "1":
        pytest.skip(f"KERAS_RESNET_NO_TIMM=1: no timm environment on purpose ({why})")
    if os.environ.get("CI") or os.environ.get("KERAS_RESNET_EXPECT_INSTALLED"):
        pytest.fail(f"the tests against timm cannot run: {why} (bash scripts/setup-references.sh makes .venv-timm; "
                    "KERAS_RESNET_NO_TIMM=1 skips them on purpose)")
    pytest.skip(f"{why}: no timm environment to compare with")


@contextlib.contextmanager
def timm_reference(python: str):
    """tests/timm_reference.py serving in one process of the timm environment (torch and timm import
    once, seconds): yields `run(*jobs)`, each job `(command, *args)`, which returns their answers."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}  # its own packages only
    with tempfile.TemporaryFile("w+") as errors, subprocess.Popen(
            [python, str(TIMM_REFERENCE), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
            text=True, env={**env, "HF_HUB_OFFLINE": "1"}) as process:
        def run(*jobs: tuple) -> list[dict]:
            answers = []
            for command, *args in jobs:
                process.stdin.write(json.dumps({"command": command, "args": [str(a) for a in args]}) + "\n")
                process.stdin.flush()
                line = process.stdout.readline()
                if not line:
                    errors.seek(0)
                    pytest.fail(f"tests/timm_reference.py ended (exit {process.wait()}): {errors.read()[-3000:]}")
                answer = json.loads(line)
                assert "error" not in answer, f"timm, on {command} {args}:\n{answer.get('error')}"
                answers.append(answer)
            return answers

        try:
            yield run
        finally:
            process.stdin.close()
            process.wait(timeout=60)
