"""What a script run on a Ray node that cannot see the workspace hands back (no Ray here: the
zip, the journal ``Run.get_context()`` writes there, and its replay into a real workspace)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from modelport.jobs.ray import handback


def test_outputs_journal_and_log_travel_as_one_zip_and_land_in_the_snapshot(tmp_path: Path) -> None:
    node = tmp_path / "node"
    (node / "outputs" / "deep").mkdir(parents=True)
    (node / "outputs" / "model.pkl").write_bytes(b"\x80model")
    (node / "outputs" / "deep" / "notes.txt").write_text("notes")
    journal = node / "journal.jsonl"
    journal.write_text(json.dumps({"metric": "alpha", "kind": "scalar", "value": 0.5, "step": None}) + "\n")
    log = node / "log.txt"
    log.write_text("saved the model\n")
    data = handback.pack(node / "outputs", journal, log)

    snapshot = tmp_path / "snapshot"
    entries, got_log = handback._unpack(data, snapshot)
    assert (snapshot / "outputs" / "model.pkl").read_bytes() == b"\x80model"
    assert (snapshot / "outputs" / "deep" / "notes.txt").read_text() == "notes"
    assert entries == [{"metric": "alpha", "kind": "scalar", "value": 0.5, "step": None}]
    assert got_log == b"saved the model\n"


def test_a_file_outside_outputs_is_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("outputs/../../evil.txt", "no")
    with pytest.raises(ValueError, match="outside outputs/"):
        handback._unpack(buf.getvalue(), tmp_path / "snapshot")
    assert not (tmp_path / "evil.txt").exists()


def test_run_get_context_journals_on_such_a_node_and_the_supervisor_replays_it(
    ws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelport import jobs
    from modelport.core.run import Run
    from modelport.errors import NotSupported
    from modelport.registry import runs as registry

    record = registry.create_run(ws, "exp", "script", "Running")
    journal = tmp_path / "journal.jsonl"
    monkeypatch.setenv(jobs.ENV_RUN_ID, record.id)
    monkeypatch.setenv(jobs.ENV_WORKSPACE_PATH, str(tmp_path / "not-here"))  # the node cannot see it
    monkeypatch.setenv(jobs.ENV_WORKSPACE_NAME, ws.name)
    monkeypatch.setenv(jobs.ENV_RUN_JOURNAL, str(journal))

    run = Run.get_context()
    assert run.id == record.id
    run.log("alpha", 0.5)
    run.log("loss", 0.3, step=1)
    run.log("loss", 0.2, step=2)
    run.log_list("errors", [0.3, 0.2])
    run.tag("trained-on", "isolated")
    assert run.get_metrics()["alpha"] == 0.5
    with pytest.raises(NotSupported, match="register_model inside a run on a Ray node"):
        run.register_model("m", "outputs/model.pkl")

    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    handback.replay(ws, record.id, entries)
    assert [(m.name, m.value, m.step) for m in registry.metrics(ws, record.id)] == [
        ("alpha", 0.5, None),
        ("loss", 0.3, 1),
        ("loss", 0.2, 2),
        ("errors", [0.3, 0.2], None),
    ]
    assert registry.get_run(ws, record.id).tags["trained-on"] == "isolated"
