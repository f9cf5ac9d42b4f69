#!/usr/bin/env bash
# The main job: the MNIST tutorial end to end (see examples/mnist/README.md).
#   1. set up .venv (modelport with its dev and tutorial extras)
#   2. train.py: train the model and register it with its pinned environment (skipped when the
#      same model is already registered)
#   3. deploy.py: deploy it as a local web service, score the 10,000 test images over HTTP, print
#      the confusion matrix and the accuracy, draw conf.png and predictions.png, delete the service
# Arguments go to deploy.py: scripts/tutorial.sh --keep leaves the service running.
set -euo pipefail
cd "$(dirname "$0")/.."

step() {
  local name=$1 start=$SECONDS
  shift
  echo "== ${name}"
  "$@"
  echo "== ${name}: $((SECONDS - start)) s"
}

step setup bash scripts/setup.sh dev tutorial
cd examples/mnist
step train ../../.venv/bin/python train.py
step deploy ../../.venv/bin/python deploy.py "$@"
echo "== tutorial done in ${SECONDS} s"
