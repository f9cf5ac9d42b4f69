"""Experiments and their runs: status, tags, properties, metrics and files, in the workspace.

A run's files live in the workspace's blob store (like a model's), named by their path in the
run (``outputs/model.pkl``); a metric is one row per logged value, in the order logged.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from modelport.errors import InvalidInputError, NotFoundError
from modelport.registry.models import check_str_dict, now
from modelport.workspace import Workspace

_EXPERIMENT = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,254}$")

#: v1's run states; a run in one of FINAL never changes again.
FINAL = ("Completed", "Failed", "Canceled")
STATES = ("NotStarted", "Queued", "Preparing", "Starting", "Running", "Finalizing", *FINAL)


@dataclass
class RunRecord:
    id: str
    experiment: str
    number: int
    kind: str  # "interactive" (start_logging), "script" (submit), or a kind a job module adds
    status: str
    created_time: str
    start_time: str | None = None
    end_time: str | None = None
    display_name: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    parent_id: str | None = None
    """The run that started this one (a pipeline run for its steps), or None for a top-level run."""


@dataclass
class Metric:
    name: str
    kind: str  # "scalar", "list", "row", "table", "image"
    value: Any
    step: int | None
    logged_time: str


@dataclass
class RunFile:
    path: str
    sha256: str
    size: int


def check_experiment_name(name: object) -> str:
    if not isinstance(name, str) or not _EXPERIMENT.match(name):
        raise InvalidInputError(
            f"invalid experiment name {name!r}: 1-255 letters, digits, '_' or '-', starting with a "
            "letter or digit"
        )
    return name


def ensure_experiment(ws: Workspace, name: str) -> None:
    check_experiment_name(name)
    with ws.db.transaction() as conn:
        ws.db.execute(
            conn, "INSERT OR IGNORE INTO experiments (name, created_time) VALUES (?, ?)", (name, now())
        )


def experiments(ws: Workspace) -> list[str]:
    return [r["name"] for r in ws.db.query("SELECT name FROM experiments ORDER BY name")]


def create_run(
    ws: Workspace,
    experiment: str,
    kind: str,
    status: str,
    *,
    details: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    display_name: str | None = None,
    parent_id: str | None = None,
) -> RunRecord:
    """A new run of ``experiment`` (numbered 1, 2, ... within it), id ``<experiment>_<time>_<hex>``;
    ``parent_id``: the run that starts it (a pipeline run for a step's run)."""
    ensure_experiment(ws, experiment)
    if parent_id is not None:
        get_run(ws, parent_id)  # NotFoundError naming it
    run_id = f"{experiment}_{int(time.time())}_{secrets.token_hex(4)}"
    created = now()
    started = created if status == "Running" else None
    with ws.db.transaction() as conn:
        row = ws.db.execute(
            conn, "SELECT COALESCE(MAX(number), 0) FROM runs WHERE experiment = ?", (experiment,)
        ).fetchone()
        ws.db.execute(
            conn,
            "INSERT INTO runs (id, experiment, number, kind, status, created_time, start_time, "
            "display_name, tags, details, parent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                experiment,
                int(row[0]) + 1,
                kind,
                status,
                created,
                started,
                display_name,
                json.dumps(check_str_dict(tags, "tags")),
                json.dumps(details or {}),
                parent_id,
            ),
        )
    return get_run(ws, run_id)


def _record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        experiment=row["experiment"],
        number=int(row["number"]),
        kind=row["kind"],
        status=row["status"],
        created_time=row["created_time"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        display_name=row["display_name"],
        tags=json.loads(row["tags"]),
        properties=json.loads(row["properties"]),
        details=json.loads(row["details"]),
        error=row["error"],
        parent_id=row["parent_id"],
    )


def get_run(ws: Workspace, run_id: str) -> RunRecord:
    rows = ws.db.query("SELECT * FROM runs WHERE id = ?", (run_id,))
    if not rows:
        raise NotFoundError(f"run '{run_id}' not found in workspace '{ws.name}'")
    return _record(rows[0])


def list_runs(ws: Workspace, experiment: str, include_children: bool = False) -> list[RunRecord]:
    """The runs of ``experiment``, newest first (as v1's ``get_runs``: top-level runs unless
    ``include_children``)."""
    where = "" if include_children else " AND parent_id IS NULL"
    rows = ws.db.query(f"SELECT * FROM runs WHERE experiment = ?{where} ORDER BY number DESC", (experiment,))
    return [_record(r) for r in rows]


def children(ws: Workspace, run_id: str) -> list[RunRecord]:
    """The runs ``run_id`` started, in the order they were created."""
    rows = ws.db.query("SELECT * FROM runs WHERE parent_id = ? ORDER BY number", (run_id,))
    return [_record(r) for r in rows]


def set_status(ws: Workspace, run_id: str, status: str, error: str | None = None) -> RunRecord:
    """Move a run to ``status``; a run already in a final state keeps it (returned unchanged)."""
    if status not in STATES:
        raise InvalidInputError(f"unknown run status {status!r}; one of {', '.join(STATES)}")
    with ws.db.transaction() as conn:
        row = ws.db.execute(conn, "SELECT status, start_time FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"run '{run_id}' not found in workspace '{ws.name}'")
        if row["status"] not in FINAL:
            stamp = now()
            start = row["start_time"] or (stamp if status in ("Running", *FINAL) else None)
            ws.db.execute(
                conn,
                "UPDATE runs SET status = ?, start_time = ?, end_time = ?, error = COALESCE(?, error) "
                "WHERE id = ?",
                (status, start, stamp if status in FINAL else None, error, run_id),
            )
    return get_run(ws, run_id)


def update_run(
    ws: Workspace,
    run_id: str,
    *,
    tags: dict[str, str] | None = None,
    properties: dict[str, str] | None = None,
    details: dict[str, Any] | None = None,
    display_name: str | None = None,
) -> None:
    """Merge ``tags``/``properties``/``details`` into the run's (properties are add-only)."""
    with ws.db.transaction() as conn:
        row = ws.db.execute(conn, "SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"run '{run_id}' not found in workspace '{ws.name}'")
        old_props = json.loads(row["properties"])
        for k, v in (properties or {}).items():
            if k in old_props and old_props[k] != v:
                raise InvalidInputError(
                    f"run '{run_id}': property '{k}' is already '{old_props[k]}'; "
                    "properties cannot be changed"
                )
        ws.db.execute(
            conn,
            "UPDATE runs SET tags = ?, properties = ?, details = ?, display_name = COALESCE(?, display_name) "
            "WHERE id = ?",
            (
                json.dumps({**json.loads(row["tags"]), **(tags or {})}),
                json.dumps({**old_props, **(properties or {})}),
                json.dumps({**json.loads(row["details"]), **(details or {})}),
                display_name,
                run_id,
            ),
        )


def remove_tag(ws: Workspace, run_id: str, key: str) -> None:
    with ws.db.transaction() as conn:
        row = ws.db.execute(conn, "SELECT tags FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"run '{run_id}' not found in workspace '{ws.name}'")
        tags = {k: v for k, v in json.loads(row["tags"]).items() if k != key}
        ws.db.execute(conn, "UPDATE runs SET tags = ? WHERE id = ?", (json.dumps(tags), run_id))


# -- metrics ------------------------------------------------------------------------------------
def log_metric(ws: Workspace, run_id: str, name: str, kind: str, value: Any, step: int | None = None) -> None:
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"a metric name must be a non-empty string, got {name!r}")
    try:
        encoded = json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"metric '{name}': {type(value).__name__} cannot be stored ({exc})") from None
    with ws.db.transaction() as conn:
        if ws.db.execute(conn, "SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise NotFoundError(f"run '{run_id}' not found in workspace '{ws.name}'")
        row = ws.db.execute(
            conn, "SELECT COALESCE(MAX(seq), 0) FROM run_metrics WHERE run_id = ?", (run_id,)
        ).fetchone()
        ws.db.execute(
            conn,
            "INSERT INTO run_metrics (run_id, seq, name, kind, value, step, logged_time) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, int(row[0]) + 1, name, kind, encoded, step, now()),
        )


def metrics(ws: Workspace, run_id: str) -> list[Metric]:
    rows = ws.db.query(
        "SELECT name, kind, value, step, logged_time FROM run_metrics WHERE run_id = ? ORDER BY seq",
        (run_id,),
    )
    return [Metric(r["name"], r["kind"], json.loads(r["value"]), r["step"], r["logged_time"]) for r in rows]


# -- files --------------------------------------------------------------------------------------
def check_file_name(name: object) -> str:
    """A run file's name: a relative ``/``-separated path that stays inside the run."""
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"a run file name must be a non-empty string, got {name!r}")
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise InvalidInputError(f"run file name {name!r} must be a relative path without '..'")
    return pure.as_posix()


def add_file(ws: Workspace, run_id: str, name: str, source: Path) -> RunFile:
    """Store ``source`` as the run's file ``name`` (an upload of the same name replaces it)."""
    rel = check_file_name(name)
    if not Path(source).is_file():
        raise NotFoundError(f"cannot upload {source} to run '{run_id}': no such file")
    digest, size = ws.blobs.put_file(Path(source))
    with ws.db.transaction() as conn:
        if ws.db.execute(conn, "SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise NotFoundError(f"run '{run_id}' not found in workspace '{ws.name}'")
        ws.db.execute(
            conn,
            "INSERT INTO run_files (run_id, path, sha256, size) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (run_id, path) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size",
            (run_id, rel, digest, size),
        )
    return RunFile(rel, digest, size)


def files(ws: Workspace, run_id: str) -> list[RunFile]:
    rows = ws.db.query("SELECT path, sha256, size FROM run_files WHERE run_id = ? ORDER BY path", (run_id,))
    return [RunFile(r["path"], r["sha256"], r["size"]) for r in rows]


def download_file(ws: Workspace, run_id: str, f: RunFile, target: Path) -> None:
    ws.blobs.copy_out(f.sha256, target, f"run '{run_id}' file '{f.path}'")
