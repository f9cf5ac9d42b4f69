"""Plain run(): says which model folder it was given, whichever V2 model name was called."""

import os


def run(raw_data):
    return {"model_dir": os.environ["AZUREML_MODEL_DIR"]}
