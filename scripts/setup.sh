#!/usr/bin/env bash
# Create .venv and install keras-resnet into it (non-editable, as users get it), with the
# TensorFlow CPU backend, matplotlib (training curves), tf2onnx and onnxruntime (export),
# PyTorch 2.13 CPU (torch backend, parity tests and benchmarks) and test tools.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check ".[tensorflow-cpu,train,export,test]" "torch==2.13.0"
