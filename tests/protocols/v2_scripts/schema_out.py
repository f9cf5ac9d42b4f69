"""inference-schema with an @output_schema: a dict of a label per row, FP32 scores and a note."""

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.parameter_types.standard_py_parameter_type import StandardPythonParameterType
from inference_schema.schema_decorators import input_schema, output_schema

OUTPUT = StandardPythonParameterType(
    {
        "label": NumpyParameterType(np.array([1])),
        "scores": NumpyParameterType(np.zeros((1, 3), dtype="float32")),
        "note": StandardPythonParameterType("ok"),
    }
)


@input_schema("data", NumpyParameterType(np.zeros((1, 4), dtype="float32")))
@output_schema(OUTPUT)
def run(data):
    return {"label": np.argmax(data, axis=1), "scores": data[:, :3], "note": "ok"}
