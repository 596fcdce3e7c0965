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
