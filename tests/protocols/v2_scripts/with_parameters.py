"""A schema script that declares ``parameters``: it gets the V2 request's parameters."""

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema


@input_schema("data", NumpyParameterType(np.array([[1.0, 2.0]])))
def run(data, parameters=None):
    threshold = (parameters or {}).get("threshold", 0.0)
    return {"above": (data > threshold).astype(np.int64), "seen": sorted(parameters or {})}
