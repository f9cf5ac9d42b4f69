"""v1's "enable-app-insights-in-production-service" sample, locally (issue 12, point 7).

The sample deploys with ``enable_app_insights=True`` and a score.py that prints per request, then
reads the traces in Application Insights. Here the traces stay on this machine: every scoring
request is one JSON line (time, request id, status, latency, what run() printed), read with
``get_traces()`` / ``modelport service traces NAME``, and what run() printed is in get_logs() too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modelport.core import Workspace
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice
from modelport.errors import ServiceCallError
from modelport.exceptions import UserErrorException

pytestmark = pytest.mark.process

SCORE = """
import json, time

def init():
    print("model initialized " + time.strftime("%H:%M:%S"))

def run(raw_data):
    data = json.loads(raw_data)["data"]
    print("Prediction input: " + str(data))
    if data == ["bad"]:
        raise ValueError("cannot score bad")
    result = [x * 2 for x in data]
    print("Prediction output: " + str(result))
    return result
"""


def test_traces_of_each_request(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("score.py").write_text(SCORE)
    Path("model.pkl").write_bytes(b"m")
    ws = Workspace.create(name="insights-ws", exist_ok=True)
    model = Model.register(model_path="model.pkl", model_name="doubler", workspace=ws)
    aci_config = AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1, enable_app_insights=True)
    service = Model.deploy(ws, "insights-svc", [model], InferenceConfig(entry_script="score.py"), aci_config)
    try:
        service.wait_for_deployment(show_output=True)
        assert service.run(json.dumps({"data": [1, 2]})) == [2, 4]
        with pytest.raises(ServiceCallError):
            service.run(json.dumps({"data": ["bad"]}))
        traces = service.get_traces()
        assert [t["status"] for t in traces] == [200, 500]
        assert traces[0]["printed"] == "Prediction input: [1, 2]\nPrediction output: [2, 4]\n"
        assert traces[1]["printed"].startswith("Prediction input: ['bad']")
        assert all(t["latency_ms"] > 0 and t["request_id"] for t in traces)
        assert "Prediction output: [2, 4]" in service.get_logs()
        shown = subprocess.run(
            [sys.executable, "-m", "modelport.cli", "service", "traces", "insights-svc", "-w", "insights-ws"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert "Prediction output: [2, 4]" in shown and traces[1]["request_id"] in shown
        # Switched off with update(): no more traces, and asking for them says why.
        service.update(enable_app_insights=False)
        service.wait_for_deployment()
        with pytest.raises(UserErrorException, match="enable_app_insights=True"):
            service.get_traces()
    finally:
        service.delete()
