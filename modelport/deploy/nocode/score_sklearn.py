"""modelport's built-in scoring script for a scikit-learn model deployed with no inference config.

As v1's no-code deployment: the body is ``{"data": [[...], ...], "method": "predict"}`` (rows of
numbers, or rows as ``{"column": value}`` objects; ``method`` is ``predict`` (the default) or
``predict_proba``); the answer is the method's result as a list. ``samples.json`` beside this
file, written from the model's sample datasets, gives the swagger its example.
"""

import glob
import json
import os
from typing import Any

import joblib
import numpy as np
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema

_HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_HERE, "samples.json")) as _f:
    _SAMPLES = json.load(_f)

METHODS = ("predict", "predict_proba")
model: Any = None


def _model_file(folder):
    found = []
    for pattern in ("*.pkl", "*.joblib", "*.sav", "*.pickle"):
        found += glob.glob(os.path.join(folder, "**", pattern), recursive=True)
    if not found:
        raise FileNotFoundError(f"no .pkl, .joblib, .sav or .pickle file under {folder}")
    return sorted(found)[0]


def init():
    global model
    model = joblib.load(_model_file(os.environ["AZUREML_MODEL_DIR"]))


@input_schema("method", StandardPythonParameterType("predict"))
@input_schema("data", StandardPythonParameterType(_SAMPLES["input"]))
@output_schema(StandardPythonParameterType(_SAMPLES["output"]))
def run(data, method="predict"):
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if data and isinstance(data[0], dict):
        import pandas as pd

        rows = pd.DataFrame(data)
    else:
        rows = np.asarray(data)
    result = getattr(model, method)(rows)
    return result.tolist() if hasattr(result, "tolist") else list(result)
