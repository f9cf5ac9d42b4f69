"""inference-schema with a single-array @output_schema: one INT32 label per row."""

import numpy as np
from inference_schema.parameter_types.numpy_parameter_type import NumpyParameterType
from inference_schema.schema_decorators import input_schema, output_schema


@input_schema("data", NumpyParameterType(np.zeros((1, 2))))
@output_schema(NumpyParameterType(np.array([0], dtype="int32")))
def run(data):
    return (data.sum(axis=1) > 0).astype("int32")
