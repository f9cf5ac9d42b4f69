#!/usr/bin/env bash
# The whole check: set up .venv, lint (ruff), type-check (mypy), import layers (import-linter),
# run the test suite (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
# ray: tests/ray start real Ray clusters (the ray extra is heavy, so only dev/CI installs it).
bash scripts/setup.sh dev tutorial ray
# The security tests check auth with curl as a user would; install it where it is missing.
if ! command -v curl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq curl >/dev/null
  else
    echo "error: the tests need curl (apt-get install curl)" >&2
    exit 1
  fi
fi
# tests/studio drive Debian's chromium with playwright (`playwright install` needs the internet).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "error: the studio tests need /usr/bin/chromium (apt-get install chromium)" >&2
    exit 1
  fi
fi
# tests/v1/test_spark_deploy.py serves a PySpark model, whose Spark runs on a Java runtime.
if ! command -v java >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && apt-get install -y -qq default-jre-headless >/dev/null
  else
    echo "error: the Spark test needs a Java runtime (apt-get install default-jre-headless)" >&2
    exit 1
  fi
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The layers of docs/architecture.md (import contracts in pyproject.toml): a wrong-way import fails here.
.venv/bin/lint-imports --no-cache
# Two workers (the machine has 2 cores; most tests wait on processes they start), tests/ray on one
# of them (tests/conftest.py): the suite in about half the time.
exec .venv/bin/pytest -n 2 --dist loadscope "$@"
