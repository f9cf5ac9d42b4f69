#!/usr/bin/env bash
# The whole check: set up .venv, lint (ruff), type-check (mypy), run the test suite (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev tutorial
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/pytest "$@"
