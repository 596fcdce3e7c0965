"""`import keras_resnet` prints nothing and changes no global state but the documented oneDNN
switch (logged once at INFO, with its opt-out); building a model leaves Python's recursion
limit as it was. Under every Keras backend (`-m backends`)."""

import json
import os
import subprocess
import sys

import keras
import pytest

pytestmark = pytest.mark.backends

PROBE = """
import io, json, logging, os, sys
stream = io.StringIO()
logging.basicConfig(stream=stream, level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
limit = sys.getrecursionlimit()
import keras_resnet as kr
import keras_resnet  # a second import logs nothing more
import keras
after_import = sys.getrecursionlimit()
kr.CifarResNet(1)
print(json.dumps({
    "limit": [limit, after_import, sys.getrecursionlimit()],
    "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
    "config": [keras.config.image_data_format(), keras.config.dtype_policy().name],
    "log": [line for line in stream.getvalue().splitlines() if line.startswith("keras_resnet")],
}))
"""


def _probe(home, **env) -> tuple[dict, str]:
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": keras.backend.backend(),
                   "KERAS_HOME": str(home), **env}
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300,
                            env={k: v for k, v in environment.items() if v is not None})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout  # the probe's own line only: keras_resnet prints nothing
    return json.loads(lines[0]), result.stderr


def test_import_prints_nothing_and_logs_the_onednn_switch_once(tmp_path):
    state, stderr = _probe(tmp_path, TF_ENABLE_ONEDNN_OPTS=None)
    assert state["onednn"] == "1"
    assert len(state["log"]) == 1 and "TF_ENABLE_ONEDNN_OPTS=0" in state["log"][0]  # names the opt-out
    assert "keras_resnet" not in stderr  # logged to the user's handler only, not printed
    assert state["limit"][0] == state["limit"][1] == state["limit"][2]
    assert state["config"] == ["channels_last", "float32"]  # Keras' defaults (no keras.json in KERAS_HOME)


def test_the_opt_out_is_left_alone_and_nothing_is_logged(tmp_path):
    state, _ = _probe(tmp_path, TF_ENABLE_ONEDNN_OPTS="0")
    assert state["onednn"] == "0" and state["log"] == []


LAZY = """
import json, sys
import keras_resnet as kr
loaded = lambda: sorted(m for m in ("keras", "tensorflow", "torch", "jax") if m in sys.modules)
before = loaded()
from keras_resnet import ResNet50, list_models
try:
    kr.IMAGENET
    missing = None
except AttributeError as e:
    missing = str(e)
print(json.dumps({"before": before, "after": loaded(), "home": ResNet50.__module__,
                  "listed": "resnet50" in list_models(), "missing": missing}))
"""


def test_public_names_are_lazy_and_user_facing():
    """`import keras_resnet` imports no Keras or backend (so the command line and a user's
    script start at once), and reads no sys.argv; the first public name used loads what it
    needs; builder internals and the never-released 0.1 classes are not public names."""
    result = subprocess.run([sys.executable, "-c", LAZY], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": keras.backend.backend()})
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state["before"] == []
    assert "keras" in state["after"] and keras.backend.backend() in state["after"]
    assert (state["home"], state["listed"]) == ("keras_resnet.models.networks", True)
    assert state["missing"] == "module 'keras_resnet' has no attribute 'IMAGENET'"
    import keras_resnet

    assert not {"BatchNormalization", "ZeroPadShortcut", "ImageNormalization", "IMAGENET"} & set(keras_resnet.__all__)
    assert "argv" not in open(keras_resnet.__file__, encoding="utf-8").read()
