"""run() returns numpy values: arrays, scalars and nested structures of them."""

import numpy as np


def init():
    pass


def run(raw_data):
    return {
        "array": np.arange(6, dtype=np.float32).reshape(2, 3),
        "scalar": np.int64(7),
        "f": np.float64(0.5),
        "bool": np.bool_(True),
        "strided": np.arange(10)[::2],
    }
