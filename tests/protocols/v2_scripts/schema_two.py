"""inference-schema with a numpy parameter and a scalar one."""

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema


@input_schema("scale", StandardPythonParameterType(1.0))
@input_schema("data", NumpyParameterType(np.array([[1.0, 2.0]])))
def run(data, scale):
    return {"scaled": data * scale, "kind": type(data).__name__}
