"""examples/mnist/utils.py: the tutorial's load_data on the shipped MNIST files."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import struct
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from modelport.opendatasets._mnist import DATA_DIR

UTILS = Path(__file__).resolve().parents[2] / "examples" / "mnist" / "utils.py"

# md5 of the uncompressed content, from data/mnist/README.md
MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


@pytest.fixture(scope="module")
def utils() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mnist_example_utils", UTILS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def idx_bytes(array: np.ndarray, label: bool) -> bytes:
    """Rebuild the uncompressed idx file from what load_data returned."""
    if label:
        header = struct.pack(">II", 2049, array.shape[0])
    else:
        header = struct.pack(">IIII", 2051, array.shape[0], 28, 28)
    return header + array.tobytes()


@pytest.mark.parametrize(
    ("name", "label", "shape"),
    [
        ("train-images-idx3-ubyte", False, (60000, 784)),
        ("train-labels-idx1-ubyte", True, (60000, 1)),
        ("t10k-images-idx3-ubyte", False, (10000, 784)),
        ("t10k-labels-idx1-ubyte", True, (10000, 1)),
    ],
)
def test_load_data_reads_the_right_bytes(
    utils: ModuleType, name: str, label: bool, shape: tuple[int, int]
) -> None:
    array = utils.load_data(DATA_DIR / f"{name}.gz", label)
    assert array.shape == shape
    assert array.dtype == np.uint8
    assert hashlib.md5(idx_bytes(array, label)).hexdigest() == MD5[name]


def test_test_label_counts(utils: ModuleType) -> None:
    labels = utils.load_data(str(DATA_DIR / "t10k-labels-idx1-ubyte.gz"), True).reshape(-1)
    assert tuple(np.bincount(labels, minlength=10)) == (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
    images = utils.load_data(str(DATA_DIR / "t10k-images-idx3-ubyte.gz"), False) / 255.0
    assert images.min() == 0.0 and images.max() == 1.0


def test_wrong_magic_raises_naming_the_file(utils: ModuleType, tmp_path: Path) -> None:
    labels = tmp_path / "labels.gz"
    labels.write_bytes(gzip.compress(struct.pack(">II", 2049, 1) + b"\x07"))
    assert utils.load_data(labels, True).tolist() == [[7]]

    with pytest.raises(ValueError, match=r"labels\.gz.*2049.*2051"):
        utils.load_data(labels, False)  # a label file read as images
    with pytest.raises(ValueError, match="train-images"):
        utils.load_data(DATA_DIR / "train-images-idx3-ubyte.gz", True)


def test_truncated_file_raises(utils: ModuleType, tmp_path: Path) -> None:
    short = tmp_path / "short.gz"
    short.write_bytes(gzip.compress(struct.pack(">IIII", 2051, 2, 28, 28) + bytes(784)))
    with pytest.raises(ValueError, match="truncated"):
        utils.load_data(short)
