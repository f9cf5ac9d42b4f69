"""``modelport monitor drift`` and ``modelport monitor collected`` on real files."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from modelport.cli import main
from tests.monitoring.test_drift import _collected, _frame, _register


@pytest.fixture
def v1ws(ws):  # type: ignore[no-untyped-def]
    from modelport.core.workspace import Workspace

    return Workspace(ws.name, ws.path)


def test_drift_prints_a_table_and_writes_the_report(
    v1ws, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    _register(v1ws, _frame(5000), "train")
    target = _collected(v1ws, {datetime.date(2024, 5, 2): _frame(2000, shift=8, flip=0.4)})
    target.register(v1ws, "collected")
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "monitor",
            "drift",
            "-w",
            v1ws.name,
            "--baseline",
            "train",
            "--target",
            "collected",
            "--date",
            "2024-05-02",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "window 2024-05-02 .. 2024-05-03: DRIFT" in out
    assert "drift share 0.500 (threshold 0.2): 2 of 4 features drifted" in out
    lines = out.splitlines()
    header = next(
        i for i, line in enumerate(lines) if line.startswith("FEATURE") or line.startswith("feature")
    )
    assert lines[header + 1].split()[0] in ("age", "city") and lines[header + 1].split()[5] == "yes"
    report = tmp_path / "train-vs-collected-drift.html"
    assert f"report: {report}" in out
    assert "<h1>Data drift: train-vs-collected" in report.read_text()
    # Again, as JSON, with the detector it made: the same window's result.
    code = main(
        [
            "monitor",
            "drift",
            "-w",
            v1ws.name,
            "--detector",
            "train-vs-collected",
            "--date",
            "2024-05-02",
            "--json",
        ]
    )
    [result] = json.loads(capsys.readouterr().out)
    assert code == 0 and result["has_drift"] is True and sorted(result["drifted_features"]) == ["age", "city"]


def test_bad_input_is_one_line(v1ws, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    _register(v1ws, _frame(100), "train")
    _register(v1ws, _frame(100).rename(columns={"age": "years"}), "other")
    code = main(["monitor", "drift", "-w", v1ws.name, "--baseline", "train", "--target", "other"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "only in the baseline: age; only in the target: years" in err
    code = main(["monitor", "drift", "-w", v1ws.name, "--date", "2024-05-02"])
    assert code == 1 and "say what to compare" in capsys.readouterr().err


def test_collected_counts_rows_per_day(v1ws, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    _collected(v1ws, {datetime.date(2024, 5, 1): _frame(30), datetime.date(2024, 5, 2): _frame(12)})
    assert main(["monitor", "collected", "svc", "-w", v1ws.name, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["day"], r["designation"], r["rows"]) for r in rows] == [
        ("2024-05-01", "inputs", 30),
        ("2024-05-02", "inputs", 12),
    ]
    assert main(["monitor", "collected", "nobody", "-w", v1ws.name]) == 1
    assert "has collected nothing" in capsys.readouterr().err
