"""The bare ASGI floor (issue 19): a server row in ``bench.run`` with modelport / floor ratios in
every report, and ``bench.floor_ab``'s interleaved rounds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import floor_ab, report
from tests.bench.test_bench_smoke import REPO, _run_bench


def _level(c: int, rps: float, p99: float) -> dict[str, Any]:
    return {"concurrency": c, "rps": rps, "p99_ms": p99, "p50_ms": p99 / 2, "errors": {}}


def test_floor_rows_are_modelport_over_the_floor_at_1_and_64() -> None:
    results = {
        "servers": {
            "modelport": {
                "error": None,
                "load": [_level(1, 450, 3), _level(8, 460, 20), _level(64, 400, 200)],
            },
            "asgi-floor": {
                "error": None,
                "load": [_level(1, 500, 2), _level(8, 480, 19), _level(64, 500, 1200)],
            },
        }
    }
    rows = report.floor_rows(results)
    assert [r["concurrency"] for r in rows] == [1, 64]
    assert rows[0]["rps_ratio"] == pytest.approx(0.9) and rows[0]["p99_ratio"] == pytest.approx(1.5)
    assert rows[1]["rps_ratio"] == pytest.approx(0.8) and rows[1]["p99_ratio"] == pytest.approx(200 / 1200)
    table = "\n".join(report.floor_markdown(results))
    assert "| c=1 | 450 | 500 | 0.90x | 3.0 ms | 2.0 ms | 1.50x |" in table
    assert "| c=64 | 400 | 500 | 0.80x | 200.0 ms | 1,200.0 ms | 0.17x |" in table
    # A failed floor gives no table rather than a wrong one.
    results["servers"]["asgi-floor"]["error"] = "RuntimeError: did not start"
    assert report.floor_rows(results) == [] and report.floor_markdown(results) == []


def test_floor_ab_summary_takes_medians_and_per_round_ratios() -> None:
    def run(rps: float, p99: float) -> dict[str, Any]:
        return {"rps": rps, "p99_ms": p99, "errors": {"status": 0}, "cpu_ms_per_request": 1.0}

    rounds = [
        {"levels": {"1": {"modelport": run(90, 3), "asgi-floor": run(100, 2)}}},
        {"levels": {"1": {"modelport": run(200, 4), "asgi-floor": run(180, 2)}}},
        {"levels": {"1": {"modelport": run(95, 5), "asgi-floor": run(100, 2)}}},
    ]
    summary = floor_ab.summarize({"servers": ["modelport", "asgi-floor"], "rounds": rounds}, [1])
    mine = summary["c=1"]["modelport"]
    assert mine["rps_median"] == 95 and mine["p99_median_ms"] == 4
    assert mine["rps_ratio"] == pytest.approx([0.9, 200 / 180, 0.95])
    assert mine["rps_ratio_median"] == pytest.approx(0.95)
    assert "rps_ratio" not in summary["c=1"]["asgi-floor"]


@pytest.mark.process
def test_smoke_run_with_the_floor_reports_the_ratios(tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = _run_bench(
        [
            "--smoke",
            "--servers",
            "modelport,asgi-floor",
            "--no-floor",
            "--out",
            str(out),
            "--cache",
            str(tmp_path / "cache"),
        ],
        REPO,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    results = json.loads((out / "results.json").read_text())
    floor = results["servers"]["asgi-floor"]
    assert floor["error"] is None
    assert floor["settings"] == {"workers": 1, "loop": "uvloop", "http": "httptools", "access_log": False}
    assert all(address.startswith("127.0.0.1:") for address in floor["listening"])
    assert floor["big"]["agreement_with_in_process"] == 1.0  # the same model, the same answers
    rows = results["vs_floor"]
    assert [r["concurrency"] for r in rows] == [1, 64]
    for row in rows:
        assert row["rps"] > 0 and row["floor_rps"] > 0
        assert row["rps_ratio"] == pytest.approx(row["rps"] / row["floor_rps"])
        assert row["p99_ratio"] == pytest.approx(row["p99_ms"] / row["floor_p99_ms"])
    markdown = (out / "results.md").read_text()
    assert "| level | modelport req/s | asgi-floor req/s |" in markdown
    assert "| level | modelport req/s | asgi-floor req/s |" in done.stdout  # printed too


@pytest.mark.process
def test_floor_ab_smoke_alternates_and_summarizes(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "bench.floor_ab", "--smoke", "--rounds", "2", "--seconds", "1"]
    cmd += ["--cold-starts", "1", "--out", str(tmp_path), "--cache", str(tmp_path / "cache")]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, start_new_session=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "floor_ab.json").read_text())
    assert len(results["rounds"]) == 2
    first = list(results["rounds"][0]["levels"]["1"])
    second = list(results["rounds"][1]["levels"]["1"])
    assert first == ["modelport", "asgi-floor"] and second == ["asgi-floor", "modelport"]
    for level in ("c=1", "c=64"):
        mine = results["summary"][level]["modelport"]
        assert len(mine["rps_ratio"]) == 2 and mine["rps_ratio_median"] > 0
        assert mine["errors"] == 0 and mine["cpu_ms_median"] > 0
    assert set(results["summary"]["cold_start_median_s"]) == {"modelport", "asgi-floor"}
    assert "median ratio" in done.stdout
