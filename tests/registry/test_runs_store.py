"""The runs store (modelport/registry/runs.py) and migration 2 of the workspace database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from modelport.errors import InvalidInputError, NotFoundError
from modelport.registry import runs
from modelport.workspace import db as dbmod


def test_a_version_1_database_migrates_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    conn = sqlite3.connect(path)
    conn.executescript(dbmod.MIGRATIONS[0])
    conn.execute(
        "INSERT INTO models (name, version, created_time, kind, root) VALUES ('m', 1, 'now', 'file', 'm.pkl')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    database = dbmod.Database(path)
    assert database.query("PRAGMA user_version")[0][0] == dbmod.SCHEMA_VERSION >= 2
    assert [r["name"] for r in database.query("SELECT name FROM models")] == ["m"]
    tables = {r["name"] for r in database.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"datasets", "model_extras", "experiments", "runs", "run_metrics", "run_files"} <= tables


def test_runs_are_numbered_and_end_once(ws) -> None:  # type: ignore[no-untyped-def]
    first = runs.create_run(ws, "exp", "interactive", "Running")
    second = runs.create_run(ws, "exp", "interactive", "Running")
    other = runs.create_run(ws, "other", "script", "Preparing")
    assert (first.number, second.number, other.number) == (1, 2, 1)
    assert first.id.startswith("exp_") and first.id != second.id
    assert [r.id for r in runs.list_runs(ws, "exp")] == [second.id, first.id]
    assert runs.experiments(ws) == ["exp", "other"]

    done = runs.set_status(ws, first.id, "Completed")
    assert done.end_time is not None and done.start_time is not None
    # A final state is final: a late "Failed" (a supervisor finishing after a cancel) changes nothing.
    assert runs.set_status(ws, first.id, "Failed", "late").status == "Completed"
    with pytest.raises(InvalidInputError, match="unknown run status 'Done'"):
        runs.set_status(ws, second.id, "Done")
    with pytest.raises(NotFoundError, match="run 'nope' not found"):
        runs.set_status(ws, "nope", "Completed")


def test_properties_are_add_only_and_metrics_keep_their_order(ws) -> None:  # type: ignore[no-untyped-def]
    run = runs.create_run(ws, "exp", "interactive", "Running")
    runs.update_run(ws, run.id, properties={"a": "1"}, tags={"t": "x"})
    runs.update_run(ws, run.id, properties={"a": "1", "b": "2"})
    with pytest.raises(InvalidInputError, match="property 'a' is already '1'"):
        runs.update_run(ws, run.id, properties={"a": "changed"})
    assert runs.get_run(ws, run.id).properties == {"a": "1", "b": "2"}
    for i, value in enumerate([3, 1, 2]):
        runs.log_metric(ws, run.id, "loss", "scalar", value, step=i)
    assert [(m.value, m.step) for m in runs.metrics(ws, run.id)] == [(3, 0), (1, 1), (2, 2)]
    with pytest.raises(InvalidInputError, match="metric 'x': object cannot be stored"):
        runs.log_metric(ws, run.id, "x", "scalar", object())


def test_run_files(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = runs.create_run(ws, "exp", "interactive", "Running")
    f = tmp_path / "model.pkl"
    f.write_bytes(b"one")
    runs.add_file(ws, run.id, "outputs/model.pkl", f)
    f.write_bytes(b"two")
    runs.add_file(ws, run.id, "outputs\\model.pkl", f)  # the same name, written Windows-style
    [stored] = runs.files(ws, run.id)
    assert (stored.path, stored.size) == ("outputs/model.pkl", 3)
    runs.download_file(ws, run.id, stored, tmp_path / "out.pkl")
    assert (tmp_path / "out.pkl").read_bytes() == b"two"
    for bad in ("../escape.txt", "/etc/passwd", ""):
        with pytest.raises(InvalidInputError):
            runs.add_file(ws, run.id, bad, f)


def test_child_runs_belong_to_their_parent_and_stay_out_of_the_top_level_list(ws) -> None:  # type: ignore[no-untyped-def]
    parent = runs.create_run(ws, "pipe", "pipeline", "Running")
    first = runs.create_run(ws, "pipe", "script", "Queued", parent_id=parent.id)
    second = runs.create_run(ws, "pipe", "batch", "Queued", parent_id=parent.id)
    assert first.parent_id == parent.id and parent.parent_id is None
    assert [r.id for r in runs.children(ws, parent.id)] == [first.id, second.id]
    assert [r.id for r in runs.list_runs(ws, "pipe")] == [parent.id]
    every = runs.list_runs(ws, "pipe", include_children=True)
    assert [r.id for r in every] == [second.id, first.id, parent.id]
    with pytest.raises(NotFoundError, match="nope"):
        runs.create_run(ws, "pipe", "script", "Queued", parent_id="nope")


def test_a_version_2_database_gains_parent_ids_keeping_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "metadata.db"
    conn = sqlite3.connect(path)
    conn.executescript(dbmod.MIGRATIONS[0])
    conn.executescript(dbmod.MIGRATIONS[1])
    conn.execute("INSERT INTO experiments (name, created_time) VALUES ('e', 'now')")
    conn.execute(
        "INSERT INTO runs (id, experiment, number, kind, status, created_time) "
        "VALUES ('e_1', 'e', 1, 'script', 'Completed', 'now')"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()

    database = dbmod.Database(path)
    rows = database.query("SELECT id, parent_id FROM runs")
    assert [(r["id"], r["parent_id"]) for r in rows] == [("e_1", None)]
