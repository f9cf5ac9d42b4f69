"""Plain run(): echoes its v1 JSON body, and returns one array of every V2 numeric datatype."""

import json

import numpy as np

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
DTYPES += ["float16", "float32", "float64"]


def run(raw_data):
    out = {dt: (np.arange(6) % (2 if dt == "bool" else 6)).astype(dt).reshape(2, 3) for dt in DTYPES}
    out["text"] = np.array(["a", "bé"])
    out["echo"] = raw_data
    out["given"] = json.loads(raw_data)
    return out
