#!/usr/bin/env bash
# Installs everything the test suite needs into .venv, then runs the lint, format and type
# checks and the whole suite. Arguments go to pytest (e.g. -m "not slow and not model").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
