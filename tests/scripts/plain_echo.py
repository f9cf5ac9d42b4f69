"""A plain v1 script: run(raw_data) gets the body as str; it can raise, sleep and report its env."""

import json
import os
import time


def init():
    global started
    started = True


def run(raw_data):
    data = json.loads(raw_data) if raw_data else {}
    if isinstance(data, dict):
        if "raise" in data:
            raise ValueError(data["raise"])
        if "sleep" in data:
            time.sleep(float(data["sleep"]))
        if data.get("env"):
            names = [
                "AZUREML_MODEL_DIR",
                "MODELPORT_MODEL_DIR",
                "AML_APP_ROOT",
                "AZUREML_ENTRY_SCRIPT",
                "AZUREML_SOURCE_DIRECTORY",
            ]
            return {name: os.environ.get(name) for name in names}
        if data.get("pid"):
            return {"pid": os.getpid()}
        if "grow_mb" in data:
            global ballast
            ballast = bytearray(int(data["grow_mb"]) * 1024 * 1024)
            return {"pid": os.getpid()}
    return {"echo": data, "type": type(raw_data).__name__}
