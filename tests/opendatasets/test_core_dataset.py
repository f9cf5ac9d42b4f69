"""modelport.core.dataset.Dataset: v1's Dataset.File.from_files over local files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelport.core.dataset import Dataset
from modelport.errors import InvalidInputError, NotFoundError
from modelport.opendatasets import FileDataset


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    folder = tmp_path / "raw"
    (folder / "a").mkdir(parents=True)
    (folder / "b" / "c").mkdir(parents=True)
    (folder / "a" / "one.txt").write_text("1")
    (folder / "b" / "two.txt").write_text("2")
    (folder / "b" / "c" / "three.csv").write_text("3")
    return folder


def test_folder_keeps_its_layout(raw: Path, tmp_path: Path) -> None:
    ds = Dataset.File.from_files(raw)
    assert isinstance(ds, FileDataset)
    assert ds.to_path() == ["a/one.txt", "b/c/three.csv", "b/two.txt"]

    paths = ds.download(tmp_path / "out")
    assert paths == [os.path.join(tmp_path, "out", p) for p in ds.to_path()]
    assert [Path(p).read_text() for p in paths] == ["1", "3", "2"]


def test_single_file_and_glob(raw: Path) -> None:
    assert Dataset.File.from_files(str(raw / "b" / "two.txt")).to_path() == ["two.txt"]
    assert Dataset.File.from_files(str(raw / "**" / "*.txt")).to_path() == ["a/one.txt", "b/two.txt"]


def test_list_of_paths_is_relative_to_their_common_folder(raw: Path) -> None:
    ds = Dataset.File.from_files([raw / "a" / "one.txt", raw / "b" / "c"])
    assert ds.to_path() == ["a/one.txt", "b/c/three.csv"]


def test_download_keeps_existing_files_unless_overwrite(raw: Path, tmp_path: Path) -> None:
    ds = Dataset.File.from_files(raw / "a")
    target = tmp_path / "out"
    (target).mkdir()
    (target / "one.txt").write_text("mine")
    ds.download(target)
    assert (target / "one.txt").read_text() == "mine"
    ds.download(target, overwrite=True)
    assert (target / "one.txt").read_text() == "1"


def test_nothing_found_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nothing-here"):
        Dataset.File.from_files(tmp_path / "nothing-here")
    with pytest.raises(NotFoundError):
        Dataset.File.from_files(str(tmp_path / "*.csv"))


def test_url_lands_at_its_file_name() -> None:
    ds = Dataset.File.from_files("https://example.org/data/some%20file.csv")
    assert ds.to_path() == ["some file.csv"]
    assert ds.files[0].source == "https://example.org/data/some%20file.csv"


def test_get_by_name_needs_a_workspace() -> None:
    # Registered datasets live in a workspace (tests/v1/test_data_datasets.py); without one, say so.
    with pytest.raises(InvalidInputError, match="workspace must be a Workspace, got NoneType"):
        Dataset.get_by_name(None, "mnist")
