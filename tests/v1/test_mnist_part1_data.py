"""The MNIST tutorial part 1's data cells (issue 12): the open dataset downloaded, registered in
the workspace, and read back by name, as the v1 notebook does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelport.core import Dataset, Workspace
from modelport.opendatasets import MNIST


def test_register_the_mnist_open_dataset(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ws = Workspace.create(name="mnist-part1", exist_ok=True)
    data_folder = os.path.join(os.getcwd(), "data")
    os.makedirs(data_folder, exist_ok=True)

    mnist_file_dataset = MNIST.get_file_dataset()
    mnist_file_dataset.download(data_folder, overwrite=True)
    mnist_file_dataset = mnist_file_dataset.register(
        workspace=ws,
        name="mnist_opendataset",
        description="training and test dataset",
        create_new_version=True,
    )
    assert mnist_file_dataset.name == "mnist_opendataset" and mnist_file_dataset.version == 1

    again = Dataset.get_by_name(ws, name="mnist_opendataset")
    paths = again.download(str(tmp_path / "again"), overwrite=True)
    names = sorted(Path(p).name for p in paths)
    assert names == sorted(Path(p).name for p in Path(data_folder).rglob("*.gz"))
    local = {Path(p).name: Path(p).read_bytes() for p in Path(data_folder).rglob("*.gz")}
    assert all(Path(p).read_bytes() == local[Path(p).name] for p in paths)
