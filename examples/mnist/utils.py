"""Read the MNIST idx files, as the tutorial's ``utils.py`` does.

Example::

    from utils import load_data

    X_test = load_data("data/mnist/t10k-images-idx3-ubyte.gz", False) / 255.0
    y_test = load_data("data/mnist/t10k-labels-idx1-ubyte.gz", True).reshape(-1)
"""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def load_data(filename: str | os.PathLike[str], label: bool = False) -> np.ndarray:
    """Load a gzip-compressed idx file into a uint8 numpy array.

    Images come back as ``(n, rows * cols)``, one flattened image per row; labels as ``(n, 1)``.

    idx layout: big-endian uint32 magic (2051 images, 2049 labels), uint32 count, for images
    uint32 rows and uint32 cols, then the raw uint8 data.
    """
    with gzip.open(filename, "rb") as f:
        data = f.read()

    magic, n = struct.unpack(">II", data[:8])
    expected = LABELS_MAGIC if label else IMAGES_MAGIC
    if magic != expected:
        kind = "label" if label else "image"
        raise ValueError(f"{filename}: magic number {magic}, expected {expected} for an idx {kind} file")

    if label:
        offset, shape = 8, (n, 1)
    else:
        rows, cols = struct.unpack(">II", data[8:16])
        offset, shape = 16, (n, rows * cols)
    size = shape[0] * shape[1]
    if len(data) - offset < size:
        raise ValueError(f"{filename}: truncated, {len(data) - offset} bytes of data for {size} expected")
    return np.frombuffer(data, dtype=np.uint8, count=size, offset=offset).reshape(shape)
