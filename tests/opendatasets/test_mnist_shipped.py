"""MNIST.get_file_dataset() over the copy shipped inside the package."""

from __future__ import annotations

import glob
import hashlib
import os
from pathlib import Path

import pytest

import modelport.opendatasets as od
from modelport.errors import IntegrityError, InvalidInputError
from modelport.opendatasets import MNIST, MNIST_URL_ENV, FileDataset
from modelport.opendatasets._mnist import DATA_DIR

NAMES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


def shipped_sums() -> dict[str, str]:
    lines = (DATA_DIR / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line)}


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def no_mirror(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MNIST_URL_ENV, raising=False)


def test_public_surface() -> None:
    assert sorted(od.__all__) == sorted(["MNIST", "MNIST_URL_ENV", "DatasetFile", "FileDataset"])
    for name in od.__all__:
        assert hasattr(od, name)


def test_shipped_files_match_their_checksums() -> None:
    sums = shipped_sums()
    assert sorted(sums) == sorted(NAMES)
    for name, digest in sums.items():
        assert sha256(DATA_DIR / name) == digest
    assert (
        "CC BY-SA 3.0" in (DATA_DIR / "README.md").read_text()
        or "Attribution-Share Alike 3.0" in (DATA_DIR / "README.md").read_text()
    )


def test_download_writes_the_four_files_where_the_tutorial_globs(tmp_path: Path) -> None:
    ds = MNIST.get_file_dataset()
    assert isinstance(ds, FileDataset)
    paths = ds.download(tmp_path, overwrite=True)

    assert [Path(p).name for p in paths] == NAMES
    assert all(os.path.isabs(p) and Path(p).is_file() for p in paths)
    sums = shipped_sums()
    for p in paths:
        assert sha256(p) == sums[Path(p).name]
    for name in NAMES:
        found = glob.glob(os.path.join(tmp_path, f"**/{name}"), recursive=True)
        assert len(found) == 1, name
    assert ds.to_path() == [f"mnist/{name}" for name in NAMES]
    # no temporary files left next to them
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(NAMES)


def test_second_download_keeps_files_unless_overwrite(tmp_path: Path) -> None:
    ds = MNIST.get_file_dataset("test")
    first = ds.download(tmp_path)
    before = {p: os.stat(p) for p in first}

    again = ds.download(tmp_path)
    assert again == first
    for p in again:
        st = os.stat(p)
        assert (st.st_ino, st.st_mtime_ns) == (before[p].st_ino, before[p].st_mtime_ns)

    rewritten = ds.download(tmp_path, overwrite=True)
    assert rewritten == first
    for p in rewritten:
        assert os.stat(p).st_ino != before[p].st_ino  # a new file renamed into place
        assert sha256(p) == shipped_sums()[Path(p).name]


def test_existing_file_that_does_not_match_is_an_error_unless_overwrite(tmp_path: Path) -> None:
    bad = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    bad.parent.mkdir()
    bad.write_bytes(b"not mnist")
    ds = MNIST.get_file_dataset("test")

    with pytest.raises(IntegrityError, match=r"t10k-labels-idx1-ubyte\.gz") as info:
        ds.download(tmp_path)
    assert "overwrite=True" in str(info.value)
    assert hashlib.sha256(b"not mnist").hexdigest() in str(info.value)
    assert bad.read_bytes() == b"not mnist"

    ds.download(tmp_path, overwrite=True)
    assert sha256(bad) == shipped_sums()[bad.name]


def test_download_without_target_uses_a_new_temporary_folder() -> None:
    paths = MNIST.get_file_dataset("test").download()
    try:
        assert [Path(p).name for p in paths] == NAMES[2:]
        assert all(Path(p).is_file() for p in paths)
    finally:
        for p in paths:
            os.unlink(p)


def test_dataset_filter() -> None:
    assert MNIST.get_file_dataset("train").to_path() == [f"mnist/{n}" for n in NAMES[:2]]
    assert MNIST.get_file_dataset(dataset_filter="test").to_path() == [f"mnist/{n}" for n in NAMES[2:]]
    with pytest.raises(InvalidInputError, match="dataset_filter"):
        MNIST.get_file_dataset("validation")


def test_source_url_must_be_http() -> None:
    with pytest.raises(InvalidInputError, match="http"):
        MNIST.get_file_dataset(source_url="ftp://example.org/mnist")


def test_tabular_dataset_is_not_supported_and_says_what_to_use() -> None:
    with pytest.raises(InvalidInputError, match="get_file_dataset"):
        MNIST.get_tabular_dataset()
