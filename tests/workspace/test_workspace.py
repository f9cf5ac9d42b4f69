from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from modelport.errors import AlreadyExistsError, InvalidInputError, StorageError, WorkspaceNotFound
from modelport.workspace import Workspace, WorkspaceConfigNotFound
from modelport.workspace.db import SCHEMA_VERSION, Database


def test_create_get_list(home: Path) -> None:
    ws = Workspace.create("alpha")
    assert ws.path == (home / "workspaces" / "alpha").resolve()
    assert stat.S_IMODE(os.stat(ws.path).st_mode) == 0o700
    assert Workspace.get("alpha") == ws
    assert set(Workspace.list()) == {"alpha"}
    with pytest.raises(AlreadyExistsError, match="alpha"):
        Workspace.create("alpha")
    assert Workspace.create("alpha", exist_ok=True) == ws
    with pytest.raises(WorkspaceNotFound, match="'nope'"):
        Workspace.get("nope")


def test_create_at_path(home: Path, tmp_path: Path) -> None:
    ws = Workspace.create("beta", path=tmp_path / "elsewhere")
    assert ws.path == (tmp_path / "elsewhere").resolve()
    assert Workspace.get("beta").path == ws.path
    assert (ws.path / "metadata.db").is_file()


@pytest.mark.parametrize("bad", ["", "a", "-lead", "has space", "x" * 40, 7])
def test_bad_names(home: Path, bad: object) -> None:
    with pytest.raises(InvalidInputError, match="invalid workspace name"):
        Workspace.create(bad)  # type: ignore[arg-type]
    assert not (home / "workspaces").exists() or not list((home / "workspaces").iterdir())


def test_from_config_finds_v1_file_two_folders_up(home: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / ".azureml").mkdir(parents=True)
    (project / ".azureml" / "config.json").write_text(
        json.dumps({"subscription_id": "sub", "resource_group": "rg", "workspace_name": "mnist-ws"})
    )
    deep = project / "a" / "b"
    deep.mkdir(parents=True)
    ws = Workspace.from_config(deep)
    assert ws.name == "mnist-ws"
    assert ws.path == (home / "workspaces" / "mnist-ws").resolve()
    # Second time opens the same workspace, does not recreate it.
    assert Workspace.from_config(deep) == ws


def test_from_config_default_cwd_and_write_config(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace.create("gamma", path=tmp_path / "wsdir")
    proj = tmp_path / "proj"
    ws.write_config(proj)
    assert (proj / ".modelport" / "config.json").is_file()
    monkeypatch.chdir(proj)
    assert Workspace.from_config() == ws


def test_from_config_order_and_skips(home: Path, tmp_path: Path) -> None:
    proj = tmp_path / "p"
    (proj / "aml_config").mkdir(parents=True)
    (proj / "aml_config" / "config.json").write_text(json.dumps({"workspace_name": "from-aml"}))
    # An unrelated config.json in a nearer folder is skipped, not an error.
    (proj / "sub").mkdir()
    (proj / "sub" / "config.json").write_text(json.dumps({"something": "else"}))
    assert Workspace.from_config(proj / "sub").name == "from-aml"


def test_from_config_missing_and_broken(home: Path, tmp_path: Path) -> None:
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    with pytest.raises(WorkspaceNotFound, match=r"no \.modelport/config\.json"):
        Workspace.from_config(lonely)
    (lonely / ".azureml").mkdir()
    (lonely / ".azureml" / "config.json").write_text("{not json")
    with pytest.raises(InvalidInputError, match="not valid JSON"):
        Workspace.from_config(lonely)


def test_from_config_missing_says_how_to_pick_a_workspace(home: Path, tmp_path: Path) -> None:
    """Issue 11, bug 6: the message named a workspace '(from config)' that was 'not found under'."""
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    with pytest.raises(WorkspaceNotFound) as caught:
        Workspace.from_config(lonely)
    message = str(caught.value)
    assert isinstance(caught.value, WorkspaceConfigNotFound) and caught.value.start == str(lonely)
    assert message.startswith(
        "no workspace config found: no .modelport/config.json or .azureml/config.json "
        f"in {lonely} or any folder above it"
    )
    assert "Workspace.get(NAME)" in message and "write_config()" in message
    assert "(from config)" not in message and "not found under" not in message and " -w " not in message


def test_schema_version_and_migration_refusal(ws: Workspace) -> None:
    assert ws.db.query("PRAGMA user_version")[0][0] == SCHEMA_VERSION
    assert ws.db.query("PRAGMA journal_mode")[0][0] == "wal"
    with ws.db.transaction() as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StorageError, match="newer than this modelport"):
        Database(ws.path / "metadata.db")


def test_corrupted_database_names_the_file(ws: Workspace) -> None:
    db_file = ws.path / "metadata.db"
    ws.db.close()
    for extra in ("-wal", "-shm"):
        Path(str(db_file) + extra).unlink(missing_ok=True)
    db_file.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StorageError, match=r"metadata\.db"):
        Workspace.get("testws").db.query("SELECT 1 FROM models")
