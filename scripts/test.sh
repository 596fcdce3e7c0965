#!/usr/bin/env bash
# The test command: install (scripts/setup.sh), lint (ruff), and run the suite against the installed copy
# (pytest runs from tests/, so the source tree is not on sys.path).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check --quiet .  # lint first (pyproject.toml [tool.ruff]): seconds, and CI fails on it too
cd tests && KERAS_RESNET_EXPECT_INSTALLED=1 TF_CPP_MIN_LOG_LEVEL=3 ../.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
