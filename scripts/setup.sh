#!/usr/bin/env bash
# Create .venv with modelport and its tools. Idempotent; safe to run on a fresh machine with only
# Python 3.11+ and access to PyPI. Usage: scripts/setup.sh [extra ...]   (extras: dev, tutorial)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# uv installs in seconds what pip takes a minute for; it is pinned like every tool.
.venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
extras=$(IFS=,; echo "${*:-dev}")
.venv/bin/uv pip install --quiet --python .venv/bin/python -e ".[${extras}]"
