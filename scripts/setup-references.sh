#!/usr/bin/env bash
# The independent references some tests compare with, each in its own folder because it cannot share
# .venv: timm (torch 2.14 and torchvision 0.29, beside .venv's torch 2.13) in .venv-timm, and keras-hub
# (which requires tensorflow-text and with it a second, full TensorFlow) as its three pure files in
# .keras-hub, imported by a test's subprocess over .venv's Keras and TensorFlow. scripts/test.sh runs this
# beside scripts/setup.sh and points the tests at both (KERAS_RESNET_TIMM_PYTHON,
# KERAS_RESNET_KERAS_HUB_PATH); users of the package never need them. Each is kept as it is while it holds
# these versions (pip then changes nothing), and byte-compiled as .venv is (each test process importing
# torch and timm then starts in half the time). KERAS_RESNET_NO_TIMM=1 leaves both out: those tests skip.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${KERAS_RESNET_NO_TIMM:-}" = 1 ]; then
  echo "scripts/setup-references.sh: KERAS_RESNET_NO_TIMM=1: no .venv-timm nor .keras-hub; the tests against timm and keras-hub will skip" >&2
  exit 0
fi
[ -x .venv-timm/bin/python ] || python3 -m venv .venv-timm
pip=(.venv-timm/bin/python -m pip --disable-pip-version-check install -q --no-compile)
"${pip[@]}" torch==2.14.1 torchvision==0.29.1 timm==1.0.29 huggingface_hub==1.33.0 safetensors numpy
"${pip[@]}" --no-deps --upgrade --target .keras-hub keras-hub==0.32.0 regex==2026.12.2 tokenizers==0.23.3
.venv-timm/bin/python -m compileall -qq -j 0 -x '/site-packages/(pip|sympy|networkx)/' \
  "$(.venv-timm/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" .keras-hub || true
