"""@array_input rows of 4: whether run()'s array is a view of the request body (or a copy), and
whether it is aligned."""

import numpy as np

from modelport.runtime import array_input


@array_input(dtype="float64", shape=(None, 4), name="data")
def run(data):
    root = data
    while isinstance(root.base, np.ndarray):
        root = root.base
    owner = "copy" if root.base is None else "body"  # a view of the body: its base is the buffer
    return {"owner": owner, "aligned": [bool(data.flags.aligned)], "sum": [float(data.sum())]}
