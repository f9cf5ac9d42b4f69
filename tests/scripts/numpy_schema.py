"""An inference-schema decorated script (v1 style): run(data) gets an ndarray."""

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema


def init():
    pass


@input_schema("data", NumpyParameterType(np.array([[0.1, 1.2, 2.3, 3.4]])))
@input_schema("scale", StandardPythonParameterType(1.0), optional=True)
@output_schema(StandardPythonParameterType({"type": "ndarray", "shape": [1, 4], "sum": 7.0}))
def run(data, scale=1.0):
    return {"type": type(data).__name__, "shape": list(data.shape), "sum": float(data.sum() * scale)}
