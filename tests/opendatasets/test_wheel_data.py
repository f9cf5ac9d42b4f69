"""A non-editable wheel carries the MNIST files (package data), byte for byte."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from modelport.opendatasets._mnist import DATA_DIR

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.process
def test_wheel_includes_the_mnist_data(tmp_path: Path) -> None:
    # Build from a copy of what the wheel is made of, so concurrent builds in the checkout
    # (build/, *.egg-info) neither disturb nor mask this one.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(
        REPO / "modelport", src / "modelport", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    out = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "-w", str(out), "--no-deps", "-q"],
        check=True,
        timeout=600,
        start_new_session=True,
    )
    (wheel,) = out.glob("modelport-*.whl")

    with zipfile.ZipFile(wheel) as zf:
        inside = "modelport/opendatasets/data/mnist/"
        names = {n.removeprefix(inside) for n in zf.namelist() if n.startswith(inside)}
        shipped = {p.name for p in DATA_DIR.iterdir()}
        assert names == shipped
        assert {"README.md", "SHA256SUMS", "SHA256SUMS.uncompressed", "t10k-images-idx3-ubyte.gz"} <= names
        for name in names:
            assert (
                hashlib.sha256(zf.read(inside + name)).digest()
                == hashlib.sha256((DATA_DIR / name).read_bytes()).digest()
            )
