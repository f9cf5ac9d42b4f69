"""v1's publish-and-run-over-REST notebook (issue 20, point 5): a pipeline published by one Python
process is run by POSTing to its endpoint from another, with InteractiveLoginAuthentication's
header (401 without it); the endpoint outlives the publisher and comes back when killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from modelport.core import Experiment, Workspace
from modelport.core.authentication import InteractiveLoginAuthentication, login_key_file
from modelport.pipeline.core import PipelineRun, PublishedPipeline, _endpoint

pytestmark = pytest.mark.process

COMPARE = """
import argparse, os
parser = argparse.ArgumentParser("compare")
parser.add_argument("--output_compare", type=str)
parser.add_argument("--pipeline_param", type=int)
args = parser.parse_args()
os.makedirs(args.output_compare, exist_ok=True)
with open(os.path.join(args.output_compare, "compare.txt"), "w") as fw:
    fw.write(str(args.pipeline_param))
"""

# The notebook's publishing cells, run by a Python process that exits afterwards.
PUBLISH = """
from modelport.core import Workspace
from modelport.data import OutputFileDatasetConfig
from modelport.pipeline.core import Pipeline
from modelport.pipeline.core.graph import PipelineParameter
from modelport.pipeline.steps import PythonScriptStep

ws = Workspace.create(name="published", exist_ok=True)
pipeline_param = PipelineParameter(name="pipeline_arg", default_value=10)
processed_data3 = OutputFileDatasetConfig(name="processed_data3")
compareStep = PythonScriptStep(
    script_name="compare.py",
    arguments=["--output_compare", processed_data3, "--pipeline_param", pipeline_param],
    source_directory="publish_run_compare")
pipeline1 = Pipeline(workspace=ws, steps=[compareStep])
published_pipeline1 = pipeline1.publish(name="My_New_Pipeline",
                                        description="My Published Pipeline Description",
                                        continue_on_step_failure=True)
print(published_pipeline1.id)
"""


@pytest.fixture
def ws(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.chdir(tmp_path)
    workspace = Workspace.create(name="published", exist_ok=True)
    yield workspace
    _endpoint.stop(workspace)  # the endpoint process this test started


def _wait_finished(ws: Workspace, run_id: str) -> PipelineRun:
    run = PipelineRun.get(ws, run_id)
    assert run.wait_for_completion(show_output=False, timeout_seconds=120) == "Finished"
    return run


def _output(run: PipelineRun) -> str:
    return (
        run.find_step_run("compare.py")[0].get_output_data("processed_data3").local_path / "compare.txt"
    ).read_text()


def test_publish_then_run_over_rest_with_the_auth_header(ws: Workspace, tmp_path: Path) -> None:
    Path("publish_run_compare").mkdir()
    Path("publish_run_compare/compare.py").write_text(COMPARE)
    publisher = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PUBLISH)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert publisher.returncode == 0, publisher.stderr
    pipeline_id = publisher.stdout.strip().splitlines()[-1]

    # The publisher has exited; its endpoint has not.
    server = _endpoint.pid(ws)
    assert server is not None and psutil.pid_exists(server)
    published_pipeline = PublishedPipeline.get(ws, pipeline_id)
    assert published_pipeline.name == "My_New_Pipeline" and published_pipeline.status == "Active"
    rest_endpoint1 = published_pipeline.endpoint
    assert rest_endpoint1.startswith("http://127.0.0.1:")
    assert _endpoint.pid(ws) == server  # the same process answers

    auth = InteractiveLoginAuthentication()
    aad_token = auth.get_authentication_header()
    assert oct(os.stat(login_key_file()).st_mode & 0o777) == "0o600"
    response = requests.post(
        rest_endpoint1,
        headers=aad_token,
        json={
            "ExperimentName": "My_Pipeline1",
            "RunSource": "SDK",
            "ParameterAssignments": {"pipeline_arg": 45},
        },
        timeout=60,
    )
    response.raise_for_status()
    run_id = response.json().get("Id")
    run = _wait_finished(ws, run_id)
    assert run.experiment.name == "My_Pipeline1"
    assert _output(run) == "45"
    assert [r.id for r in PipelineRun.get_pipeline_runs(ws, pipeline_id)] == [run_id]

    # Without the header, or with another key: 401, and no run.
    body = {"ExperimentName": "My_Pipeline1", "ParameterAssignments": {"pipeline_arg": 1}}
    for headers in (
        {},
        {"Authorization": "Bearer not-the-key"},
        {"Authorization": aad_token["Authorization"][7:]},
    ):
        denied = requests.post(rest_endpoint1, headers=headers, json=body, timeout=30)
        assert denied.status_code == 401
        assert denied.headers["WWW-Authenticate"] == "Bearer"
    assert len(list(Experiment(ws, "My_Pipeline1").get_runs())) == 1

    # Bad input: one line saying what, no run.
    bad = requests.post(rest_endpoint1, headers=aad_token, json={"ParameterAssignments": {}}, timeout=30)
    assert bad.status_code == 400 and "ExperimentName" in bad.json()["error"]["message"]
    bad = requests.post(
        rest_endpoint1,
        headers=aad_token,
        json={"ExperimentName": "x", "ParameterAssignments": {"nope": 1}},
        timeout=30,
    )
    assert bad.status_code == 400 and "'nope'" in bad.json()["error"]["message"]
    bad = requests.post(
        rest_endpoint1,
        headers=aad_token,
        json={"ExperimentName": "x", "ParameterAssignments": {"pipeline_arg": "many"}},
        timeout=30,
    )
    assert bad.status_code == 400 and "pipeline_arg" in bad.json()["error"]["message"]
    missing = requests.post(
        rest_endpoint1.rsplit("/", 1)[0] + "/no-such-id", headers=aad_token, json=body, timeout=30
    )
    assert missing.status_code == 404

    # A killed endpoint is found dead on next use and started again, on the same port.
    os.killpg(server, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while psutil.pid_exists(server) and psutil.Process(server).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    again = PublishedPipeline.get(ws, pipeline_id).endpoint
    assert again == rest_endpoint1
    assert _endpoint.pid(ws) not in (None, server)
    response = requests.post(again, headers=aad_token, json={"ExperimentName": "My_Pipeline1"}, timeout=60)
    assert response.status_code == 200
    assert _output(_wait_finished(ws, response.json()["Id"])) == "10"  # the default

    # A disabled pipeline does not run.
    published_pipeline.disable()
    assert PublishedPipeline.get_all(ws) == []
    refused = requests.post(again, headers=aad_token, json=body, timeout=30)
    assert refused.status_code == 400 and "disabled" in refused.json()["error"]["message"]
    published_pipeline.enable()
    assert [p.id for p in PublishedPipeline.get_all(ws)] == [pipeline_id]


def test_publish_pipeline_from_a_run_and_submit_it(ws: Workspace) -> None:
    from modelport.data import OutputFileDatasetConfig
    from modelport.pipeline.core import Pipeline
    from modelport.pipeline.core.graph import PipelineParameter
    from modelport.pipeline.steps import PythonScriptStep

    Path("publish_run_compare").mkdir()
    Path("publish_run_compare/compare.py").write_text(COMPARE)
    step = PythonScriptStep(
        script_name="compare.py",
        arguments=["--output_compare", OutputFileDatasetConfig(name="processed_data3"),
                   "--pipeline_param", PipelineParameter(name="pipeline_arg", default_value=3)],
        source_directory="publish_run_compare",
    )  # fmt: skip
    pipeline_run1 = Experiment(ws, "Pipeline_experiment_sample").submit(Pipeline(ws, [step]))
    published_pipeline2 = pipeline_run1.publish_pipeline(
        name="My_New_Pipeline2", description="My Published Pipeline Description", version="0.1",
        continue_on_step_failure=True,
    )  # fmt: skip
    assert published_pipeline2.version == "0.1" and published_pipeline2.get_step_names() == ["compare.py"]
    run = published_pipeline2.submit(ws, "from_published", pipeline_parameters={"pipeline_arg": 7})
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert _output(run) == "7"
    assert pipeline_run1.wait_for_completion(show_output=False) == "Finished"
    run = Experiment(ws, "from_published").submit(published_pipeline2, regenerate_outputs=True)
    assert run.wait_for_completion(show_output=False) == "Finished" and _output(run) == "3"
