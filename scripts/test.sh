#!/usr/bin/env bash
# The test command: install (scripts/setup.sh), lint (ruff), and run the suite against the installed copy
# (pytest runs from tests/, so the source tree is not on sys.path): every test under TensorFlow (Keras'
# default backend), and the tests marked `backends` (models, weights, preprocessing, training, files
# that load with Keras alone, Keras' own applications tests) under torch and under JAX. The three runs
# go at once, TensorFlow's on two pytest-xdist workers taking a test file each (`--dist loadfile`: a
# file's tests run in order in one process, so its module fixtures are built once; files with the most
# slow tests first, tests/conftest.py's order, so both workers end together): most tests spend
# their time in one Python thread, so four processes keep two cores busy. Arguments go to every
# pytest run (`-n 0` runs TensorFlow's in one process); the backend runs always select `-m backends`.
# The references the tests compare with (timm, keras-hub: scripts/setup-references.sh) install beside
# .venv, at once (both mostly unpack wheels from disk).
set -euo pipefail
cd "$(dirname "$0")/.."
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
bash scripts/setup-references.sh > "$logs/references.log" 2>&1 &
references=$!
bash scripts/setup.sh
wait "$references" || { cat "$logs/references.log" >&2; echo "scripts/setup-references.sh failed" >&2; exit 1; }
.venv/bin/ruff check --quiet .  # lint first (pyproject.toml [tool.ruff]): seconds, and CI fails on it too
cd tests
export KERAS_RESNET_EXPECT_INSTALLED=1 TF_CPP_MIN_LOG_LEVEL=3
# the references, which the tests against timm and keras-hub run as subprocesses
if [ "${KERAS_RESNET_NO_TIMM:-}" != 1 ]; then
  export KERAS_RESNET_TIMM_PYTHON="$PWD/../.venv-timm/bin/python" KERAS_RESNET_KERAS_HUB_PATH="$PWD/../.keras-hub"
fi
pytest=(../.venv/bin/python -m pytest -q -p no:cacheprovider)
for backend in torch jax; do
  (KERAS_BACKEND=$backend "${pytest[@]}" "$@" -m backends > "$logs/$backend.log" 2>&1; echo $? > "$logs/$backend.rc") &
done
status=0
KERAS_BACKEND=tensorflow "${pytest[@]}" -n 2 --dist loadfile --no-loadscope-reorder "$@" || status=$?
wait
for backend in torch jax; do
  echo "== KERAS_BACKEND=$backend: the tests marked backends =="
  cat "$logs/$backend.log"
  code=$(cat "$logs/$backend.rc")
  # 5: the arguments chose no test marked backends (e.g. one file without any)
  if [ "$code" -ne 0 ] && [ "$code" -ne 5 ] && [ "$status" -eq 0 ]; then status=$code; fi
done
exit "$status"
