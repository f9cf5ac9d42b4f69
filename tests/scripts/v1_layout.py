"""A source directory's script that reads files the way v1 code did (issue 12, point 9)."""

import json
import os

data = None


def init():
    global data
    root = os.environ["AML_APP_ROOT"]
    source = os.path.basename(os.environ["AZUREML_SOURCE_DIRECTORY"])
    with open(os.path.join(".", source, "extradata.json")) as f:  # relative to the working directory
        data = json.load(f)
    with open(os.path.join(root, source, "extradata.json")) as f:  # relative to AML_APP_ROOT
        assert json.load(f) == data


def run(raw_data):
    return {"extra": data, "entry": os.environ["AZUREML_ENTRY_SCRIPT"], "cwd": os.getcwd()}
