"""modelport's built-in scoring script for an ONNX model deployed with no inference config.

The body is ``{"data": [[...], ...]}``; the rows go to the model's first input as float32 (or the
input's own type), and the answer is the model's first output as a list.
"""

import glob
import json
import os
from typing import Any

import numpy as np
import onnxruntime
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema

_HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_HERE, "samples.json")) as _f:
    _SAMPLES = json.load(_f)

_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64}
session: Any = None


def init():
    global session
    found = sorted(glob.glob(os.path.join(os.environ["AZUREML_MODEL_DIR"], "**", "*.onnx"), recursive=True))
    if not found:
        raise FileNotFoundError("no .onnx file under AZUREML_MODEL_DIR")
    session = onnxruntime.InferenceSession(found[0], providers=["CPUExecutionProvider"])


@input_schema("data", StandardPythonParameterType(_SAMPLES["input"]))
@output_schema(StandardPythonParameterType(_SAMPLES["output"]))
def run(data):
    first = session.get_inputs()[0]
    rows = np.asarray(data, dtype=_TYPES.get(first.type, np.float32))
    result = session.run(None, {first.name: rows})[0]
    return result.tolist()
