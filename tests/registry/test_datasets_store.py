"""The dataset registry, model version extras and datastore folders (modelport/registry/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from modelport.registry import datasets, datastores, models


def test_dataset_versions(ws) -> None:  # type: ignore[no-untyped-def]
    one = {"sources": [{"local": "/data/a.csv"}]}
    two = {"sources": [{"local": "/data/b.csv"}]}
    assert datasets.register(ws, "ds", "tabular", one, tags={"k": "v"}).version == 1
    assert datasets.register(ws, "ds", "tabular", one).version == 1  # the same definition
    with pytest.raises(AlreadyExistsError, match="create_new_version=True"):
        datasets.register(ws, "ds", "tabular", two)
    assert datasets.register(ws, "ds", "tabular", two, create_new_version=True).version == 2
    assert datasets.get(ws, "ds", "latest").definition == two
    assert datasets.get(ws, "ds", 1).tags == {"k": "v"}
    assert [r.id for r in datasets.list_latest(ws)] == ["ds:2"]
    with pytest.raises(NotFoundError, match="dataset 'ds' has no version 3"):
        datasets.get(ws, "ds", "3")
    with pytest.raises(InvalidInputError, match="dataset version must be a number or 'latest'"):
        datasets.get(ws, "ds", "newest")
    with pytest.raises(InvalidInputError, match="invalid dataset name"):
        datasets.register(ws, "../x", "file", one)


def test_model_extras_go_with_their_model_version(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "m.pkl"
    f.write_bytes(b"m")
    record = models.register(ws, f, "m")
    datasets.set_model_extras(ws, "m", 1, {"resource_configuration": {"cpu": 1}, "run_id": "r1"})
    assert datasets.model_extras(ws, "m", 1)["resource_configuration"] == {"cpu": 1}
    assert datasets.models_of_run(ws, "r1") == [("m", 1)]
    models.delete(ws, record)
    assert datasets.model_extras(ws, "m", 1) == {}  # deleted with the version (ON DELETE CASCADE)


def test_datastore_folders(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert datastores.names(ws) == ["workspaceblobstore", "workspacefilestore"]
    src = tmp_path / "a.txt"
    src.write_text("first")
    assert datastores.upload_files(ws, "workspaceblobstore", [(src, "d/a.txt")], False, None) == 1
    src.write_text("second")
    assert datastores.upload_files(ws, "workspaceblobstore", [(src, "d/a.txt")], False, None) == 0
    assert datastores.resolve(ws, "workspaceblobstore", "d/a.txt").read_text() == "first"
    assert datastores.upload_files(ws, "workspaceblobstore", [(src, "d/a.txt")], True, None) == 1
    assert datastores.download(ws, "workspaceblobstore", tmp_path / "out", "d/", False, None) == 1
    assert (tmp_path / "out" / "d" / "a.txt").read_text() == "second"
    for bad in ("../x", "/abs", "d/../../x"):
        with pytest.raises(InvalidInputError, match="must be relative and stay inside"):
            datastores.resolve(ws, "workspaceblobstore", bad)
    with pytest.raises(InvalidInputError, match="invalid datastore name"):
        datastores.root(ws, "../etc")
    with pytest.raises(NotFoundError, match="datastore 'mine' not found"):
        datastores.root(ws, "mine")
