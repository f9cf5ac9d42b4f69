"""The scoring server's side of monitoring: the request id a script sees, collection switched on
from the settings and counted on /metrics, the drift gauges, and traces kept within bounds."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelport.monitoring.collection import config, writer
from modelport.server.traces import TraceWriter
from tests.fixtures import make_app  # noqa: F401  (the fixture)

SCRIPT = """
import json
from modelport.monitoring import ModelDataCollector
from modelport.runtime.context import current_request_id

def init():
    global dc
    dc = ModelDataCollector("echo", designation="inputs", feature_names=["x"])

def run(raw):
    values = json.loads(raw)["data"]
    dc.collect([[v] for v in values])
    return {"request_id": current_request_id()}
"""


@pytest.fixture
def collecting_app(make_app: Callable[..., Any], tmp_path: Path) -> Any:  # noqa: F811
    script = tmp_path / "score.py"
    script.write_text(SCRIPT)
    drift = tmp_path / "monitoring" / "drift"
    drift.mkdir(parents=True)
    (drift / "echo-drift.json").write_text(
        json.dumps(
            {
                "detector": "echo-drift",
                "drift_share": 0.25,
                "has_drift": True,
                "drift_threshold": 0.2,
                "start_date": "2024-05-02",
                "features": [
                    {"name": "x", "method": "wasserstein", "value": 0.4, "drifted": True},
                    {"name": "y", "method": "ks", "value": 0.6, "drifted": False},
                ],
            }
        )
    )
    app = make_app(
        script,
        service_name="echo-svc",
        model_data={"root": str(tmp_path / "modeldata"), "workspace": "s/r/w", "service": "echo-svc"},
        monitoring_dir=str(tmp_path / "monitoring"),
    )
    yield app
    writer.shutdown()
    config.configure(None)


def test_the_script_sees_the_servers_request_id(collecting_app: Any) -> None:
    given = collecting_app.client.post("/score", content=b'{"data": [1]}', headers={"x-request-id": "mine-1"})
    assert given.json() == {"request_id": "mine-1"}
    made = collecting_app.client.post("/score", content=b'{"data": [2]}')
    assert made.json() == {"request_id": made.headers["x-request-id"]}


def test_rows_are_collected_and_counted(collecting_app: Any, tmp_path: Path) -> None:
    for i in range(3):
        assert collecting_app.client.post("/score", content=json.dumps({"data": [i, i]})).status_code == 200
    assert writer.current_writer().flush(30)  # type: ignore[union-attr]
    [path] = list((tmp_path / "modeldata").rglob("data.csv"))
    lines = path.read_text().splitlines()
    assert lines[0].startswith("x,$aml_dc_correlation_id") and len(lines) == 7
    text = collecting_app.client.get("/metrics").text
    assert 'modelport_collected_rows_total{designation="inputs"} 6.0' in text


def test_drift_gauges(collecting_app: Any) -> None:
    text = collecting_app.client.get("/metrics").text
    assert 'modelport_drift_share{detector="echo-drift"} 0.25' in text
    assert 'modelport_drift_detected{detector="echo-drift"} 1.0' in text
    assert 'modelport_drift_threshold{detector="echo-drift"} 0.2' in text
    assert 'modelport_drift_feature_value{detector="echo-drift",feature="x",test="wasserstein"} 0.4' in text
    assert 'modelport_drift_feature_drifted{detector="echo-drift",feature="y"} 0.0' in text
    assert 'modelport_drift_window_start_seconds{detector="echo-drift"} 1.714608e+09' in text  # 2024-05-02


def test_a_bad_model_data_setting_is_refused_in_one_line() -> None:
    from modelport.errors import InvalidInputError
    from modelport.server.config import ServerConfig

    with pytest.raises(InvalidInputError, match=r"unknown setting.*flavour"):
        ServerConfig.from_mapping({"entry_script": "score.py", "model_data": {"root": "/x", "flavour": 1}})


def test_traces_rotate_within_the_limit_and_workers_follow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import modelport.server.traces as traces

    monkeypatch.setattr(traces, "CHECK_EVERY_S", 0.0)  # look at every write, not once a second
    path = tmp_path / "traces.jsonl"
    one, two = TraceWriter(path, max_bytes=20_000), TraceWriter(path, max_bytes=20_000)  # two workers
    for i in range(400):
        (one if i % 2 else two).write(f"r{i}", "POST", "/score", 200, 1.0, 0.5, "x" * 50)
    current, old = path.stat().st_size, path.with_name("traces.jsonl.1").stat().st_size
    assert current + old <= 20_000 + 2 * 400  # each file rotates just past half the limit
    ids = [
        json.loads(line)["request_id"]
        for f in (path.with_name("traces.jsonl.1"), path)
        for line in f.read_text().splitlines()
    ]
    assert ids == sorted(ids, key=lambda r: int(r[1:])) and ids[-1] == "r399"  # newest kept, none mixed
    os.utime(path.with_name("traces.jsonl.1"), (1, 1))  # its last trace: long ago
    aged = TraceWriter(path, max_bytes=20_000, retention_days=30)
    aged.write("last", "POST", "/score", 200, 1.0, 0.5, "")
    assert not path.with_name("traces.jsonl.1").exists()


def test_a_graceful_stop_writes_what_was_collected(tmp_path: Path) -> None:
    """A worker stopping (SIGTERM, a recycle: the ASGI lifespan's shutdown) writes its buffer,
    though the next flush (every minute here) is far away."""
    from starlette.testclient import TestClient

    from modelport.server.app import create_app
    from modelport.server.config import ServerConfig

    script = tmp_path / "score.py"
    script.write_text(SCRIPT)
    settings = ServerConfig.from_mapping(
        {
            "entry_script": str(script),
            "model_data": {
                "root": str(tmp_path / "modeldata"),
                "workspace": "s/r/w",
                "service": "echo-svc",
                "flush_interval_s": 60,
            },
        }
    )
    app = create_app(settings, on_exit=lambda code, reason: None)
    try:
        with TestClient(app) as client:
            assert client.post("/score", content=b'{"data": [1, 2, 3]}').status_code == 200
            assert not list((tmp_path / "modeldata").rglob("data.csv"))  # still in the buffer
        [path] = list((tmp_path / "modeldata").rglob("data.csv"))
        assert len(path.read_text().splitlines()) == 4
    finally:
        writer.shutdown()
        config.configure(None)
