#!/usr/bin/env bash
# The test command: install (scripts/setup.sh), lint (ruff), and run the suite against the installed copy
# (pytest runs from tests/, so the source tree is not on sys.path): every test under TensorFlow (Keras'
# default backend), then the tests marked `backends` (models, weights, preprocessing, training, files
# that load with Keras alone, Keras' own applications tests) under torch and under JAX. Arguments go
# to every pytest run; the backend runs always select `-m backends`, and run at the same time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check --quiet .  # lint first (pyproject.toml [tool.ruff]): seconds, and CI fails on it too
cd tests
export KERAS_RESNET_EXPECT_INSTALLED=1 TF_CPP_MIN_LOG_LEVEL=3
pytest=(../.venv/bin/python -m pytest -q -p no:cacheprovider)
status=0
KERAS_BACKEND=tensorflow "${pytest[@]}" "$@" || status=$?
# torch and JAX side by side: their tests mostly build Keras graphs, one Python thread each
logs=$(mktemp -d)
for backend in torch jax; do
  (KERAS_BACKEND=$backend "${pytest[@]}" "$@" -m backends > "$logs/$backend.log" 2>&1; echo $? > "$logs/$backend.rc") &
done
wait
for backend in torch jax; do
  echo "== KERAS_BACKEND=$backend: the tests marked backends =="
  cat "$logs/$backend.log"
  code=$(cat "$logs/$backend.rc")
  # 5: the arguments chose no test marked backends (e.g. one file without any)
  if [ "$code" -ne 0 ] && [ "$code" -ne 5 ] && [ "$status" -eq 0 ]; then status=$code; fi
done
rm -rf "$logs"
exit "$status"
