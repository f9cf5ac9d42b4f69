#!/usr/bin/env bash
# The main job. Until the tutorial lands, it sets up and prints the CLI's help.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev tutorial
.venv/bin/modelport --help
