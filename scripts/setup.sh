#!/usr/bin/env bash
# Create .venv and install keras3-resnet into it (non-editable, as users get it), with the
# TensorFlow CPU backend, JAX CPU (JAX backend), matplotlib (training curves), tf2onnx and
# onnxruntime (export), huggingface_hub (weights="hf://..."), PyTorch 2.13 CPU (torch backend, parity
# tests and benchmarks) and test tools;
# torch and JAX pinned to the versions measured with Keras 3.15 and TensorFlow 2.21 here.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
pip=(.venv/bin/python -m pip --disable-pip-version-check)
# A "keras-resnet" here (this project's old distribution name, or the unrelated 2019 project) owns
# the same keras_resnet/ files: remove it first, or `import keras_resnet` refuses to run.
if "${pip[@]}" show -q keras-resnet 2>/dev/null; then "${pip[@]}" uninstall -q -y keras-resnet; fi
"${pip[@]}" install -q --no-compile ".[tensorflow-cpu,jax,train,export,test,hub]" "torch==2.13.0" "jax[cpu]==0.10.2"
# pip byte-compiles what it installs on one core; compileall does it on every core (half the time on
# two), leaving out what nothing here imports (pip itself; sympy and networkx, torch's dependencies for
# its compiler: a fifth of the files). Like pip, it skips files that are not Python 3.11 (torch ships
# some for 3.12): hence `|| true`.
.venv/bin/python -m compileall -qq -j 0 -x '/site-packages/(pip|sympy|networkx)/' \
  "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" || true
