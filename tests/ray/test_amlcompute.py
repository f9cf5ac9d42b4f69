"""v1 programs on an AmlCompute cluster (issue 21): the cluster provisioned the v1 way, a script run
as a Ray job (metrics, outputs, register_model, cancel, failure), a two-step pipeline and a tabular
ParallelRunStep on the cluster, the CLI against it, and bad input in one line each.

One cluster for the module (``ComputeTarget.create`` with ``AmlCompute.provisioning_configuration``,
its Jobs API on, no Serve), deleted at the end with nothing left behind. ``azureml`` renamed to
``modelport``; ``environment=None`` runs the scripts with this Python (which has the cluster's Ray).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from modelport.core import Dataset, Experiment, ScriptRunConfig, Workspace
from modelport.core.compute import AmlCompute, ComputeTarget
from modelport.deploy import cluster
from modelport.errors import ComputeTargetError, InvalidInputError, RunFailed
from modelport.pipeline.core import Pipeline, PipelineData, PipelineParameter
from modelport.pipeline.steps import ParallelRunConfig, ParallelRunStep, PythonScriptStep
from modelport.registry import runs as registry
from tests.ray.test_security import LOOPBACK, listeners

pytestmark = [pytest.mark.ray, pytest.mark.process, pytest.mark.timeout(900)]

TRAIN = """
import argparse, os, sys
from modelport.core.run import Run

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
args = parser.parse_args()
run = Run.get_context()
run.log("alpha", args.alpha)
run.log_list("errors", [0.3, 0.2, 0.1])
print("training in", os.getcwd(), "pid", os.getpid(), flush=True)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.pkl", "w") as f:
    f.write(f"alpha={args.alpha}")
print("saved the model", flush=True)
"""
SLEEPY = """
import os, time
print("started pid", os.getpid(), flush=True)
time.sleep(600)
"""
FAILING = """
print("about to fail", flush=True)
raise ValueError("the data is bad")
"""
PREP = """
import argparse, os
parser = argparse.ArgumentParser()
parser.add_argument("--out")
args = parser.parse_args()
os.makedirs(args.out, exist_ok=True)
for i in range(24):
    with open(os.path.join(args.out, f"{i:03d}.txt"), "w") as f:
        f.write(str(i))
print("wrote 24 files", flush=True)
"""
SCORE_FILES = """
import os

def init():
    global pid
    pid = os.getpid()

def run(mini_batch):
    return [f"{os.path.basename(p)}: {int(open(p).read()) * 2}" for p in mini_batch]
"""
SCORE_ROWS = """
def init():
    pass

def run(mini_batch):
    mini_batch["double"] = mini_batch["x"] * 2
    return mini_batch
"""


@pytest.fixture(scope="module")
def cpu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmlCompute]:
    """The module's AmlCompute cluster, provisioned as v1's training notebooks do."""
    home = tmp_path_factory.mktemp("amlhome")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELPORT_HOME", str(home))
        mp.chdir(home)
        ws = Workspace.create(name="amlws", exist_ok=True)
        config = AmlCompute.provisioning_configuration(
            vm_size="STANDARD_D2_V2",
            max_nodes=4,
            vm_priority="lowpriority",
            admin_username="azureuser",
            admin_user_password="Not-kept-1",
        )
        target = ComputeTarget.create(ws, "cpu-cluster", config)
        record = cluster.load(ws, "cpu-cluster")
        try:
            yield target
        finally:
            ComputeTarget(ws, "cpu-cluster").delete()
    assert cluster.cluster_processes(record) == [], "the cluster left processes behind"
    assert record.temp_dir and not Path(record.temp_dir).exists()
    assert record.token_file and not Path(record.token_file).exists()


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _wait_for(predicate: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _ray_job(cpu: AmlCompute, run_id: str) -> Any:
    from ray.job_submission import JobSubmissionClient

    from modelport.core.compute import run_compute
    from modelport.jobs.ray import auth_headers

    compute = run_compute(cpu.workspace, cpu)
    assert compute is not None
    client = JobSubmissionClient(compute.dashboard, headers=auth_headers(compute))
    return client.get_job_info(registry.get_run(cpu.workspace, run_id).details["rayJob"]["submissionId"])


def test_the_cluster_is_provisioned_the_v1_way(cpu: AmlCompute, capsys: pytest.CaptureFixture[str]) -> None:
    ws = cpu.workspace
    cpu.wait_for_completion(show_output=True, min_node_count=None, timeout_in_minutes=20)
    out = capsys.readouterr().out
    assert "Minimum number of nodes requested have been provisioned" in out
    assert "vm_size='STANDARD_D2_V2'" in out and "vm_priority='lowpriority'" in out  # recorded, shown
    assert (
        "Not-kept-1" not in out and "Not-kept-1" not in (ws.path / "compute" / "cpu-cluster.json").read_text()
    )
    status = cpu.get_status()
    assert status.provisioning_state == "Succeeded" and status.current_node_count == 1
    assert status.node_state_counts.running_node_count == 1
    assert status.scale_settings.maximum_node_count == 4 and status.vm_size == "STANDARD_D2_V2"
    assert status.serialize()["scaleSettings"]["maxNodeCount"] == 4
    assert type(ws.compute_targets["cpu-cluster"]) is AmlCompute  # as v1's notebooks check it
    assert isinstance(ComputeTarget(workspace=ws, name="cpu-cluster"), AmlCompute)
    (size,) = AmlCompute.supported_vmsizes(ws)
    assert size["vCPUs"] == os.cpu_count() and size["memoryGB"] > 0
    with pytest.raises(ComputeTargetError, match="min_node_count=2 cannot be reached"):
        cpu.wait_for_completion(min_node_count=2)
    with pytest.raises(ComputeTargetError, match="already exists"):
        ComputeTarget.create(ws, "cpu-cluster", AmlCompute.provisioning_configuration(max_nodes=1))


def test_the_jobs_api_needs_the_token_and_every_listener_is_on_loopback(cpu: AmlCompute) -> None:
    record = cluster.load(cpu.workspace, "cpu-cluster")
    url = f"{record.settings['dashboard']}/api/jobs/"
    assert url.startswith("http://127.0.0.1:")
    token = Path(record.token_file or "").read_text().strip()
    answers = {}
    for name, header in (("none", None), ("wrong", "0" * 64), ("the token", token)):
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {header}"} if header else {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answers[name] = response.status
        except urllib.error.HTTPError as exc:
            answers[name] = exc.code
    assert answers == {"none": 401, "wrong": 403, "the token": 200}
    found = listeners(record)
    assert {"gcs_server", "raylet"} <= {n for n, _ip, _port in found}
    assert record.settings["dashboard"].rsplit(":", 1)[1] in {str(p) for _n, _ip, p in found}
    assert [entry for entry in found if entry[1] not in LOOPBACK] == []
    for proc in psutil.process_iter(["cmdline"]):
        assert token not in " ".join(proc.info.get("cmdline") or [])


def test_a_script_run_logs_uploads_outputs_and_registers_a_model(
    cpu: AmlCompute, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = cpu.workspace
    src = tmp_path / "train"
    _write(src / "train.py", TRAIN)
    config = ScriptRunConfig(
        source_directory=str(src), script="train.py", arguments=["--alpha", 0.5], compute_target=cpu
    )
    run = Experiment(ws, "train-on-cluster").submit(config)
    run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert "saved the model" in out and "Status: Completed" in out
    assert "Runtime env" not in out  # Ray's own lines stay out of the run's log
    assert run.get_metrics() == {"alpha": 0.5, "errors": [0.3, 0.2, 0.1]}
    assert "outputs/model.pkl" in run.get_file_names()
    model = run.register_model(model_name="sklearn-on-ray", model_path="outputs/model.pkl")
    assert Path(model.download(target_dir=str(tmp_path / "m"))).read_text() == "alpha=0.5"
    assert run.get_details()["target"] == "cpu-cluster"
    assert str(_ray_job(cpu, run.id).status) in ("SUCCEEDED", "JobStatus.SUCCEEDED")

    # The same cluster attached under a second name: an attached cluster's nodes may be other
    # machines, so Ray ships the snapshot (runtime_env working_dir); this node sees the run's
    # folder and runs there, so outputs/ and metrics arrive as before.
    attached = ComputeTarget.attach(ws, "cpu-attached", AmlCompute.attach_configuration(compute_target=cpu))
    config = ScriptRunConfig(
        source_directory=str(src), script="train.py", arguments=["--alpha", 0.75], compute_target=attached
    )
    again = Experiment(ws, "train-on-cluster").submit(config)
    again.wait_for_completion(show_output=False)
    assert again.get_metrics()["alpha"] == 0.75 and "outputs/model.pkl" in again.get_file_names()
    assert _ray_job(cpu, again.id).runtime_env["working_dir"].startswith("gcs://_ray_pkg_")
    attached.detach()


def test_cancel_stops_the_ray_job_and_a_failing_script_fails_with_its_cause(
    cpu: AmlCompute, tmp_path: Path
) -> None:
    ws = cpu.workspace
    src = tmp_path / "jobs"
    _write(src / "sleepy.py", SLEEPY)
    _write(src / "failing.py", FAILING)
    exp = Experiment(ws, "cancel-on-cluster")
    sleepy = exp.submit(
        ScriptRunConfig(source_directory=str(src), script="sleepy.py", compute_target="cpu-cluster")
    )
    failing = exp.submit(ScriptRunConfig(source_directory=str(src), script="failing.py", compute_target=cpu))
    log = ws.path / "runs" / sleepy.id / "azureml-logs" / "70_driver_log.txt"
    _wait_for(lambda: "started pid" in log.read_text(), "the script to start on the cluster")
    pid = int(log.read_text().split("started pid")[1].split()[0])
    sleepy.cancel()
    _wait_for(lambda: registry.get_run(ws, sleepy.id).status == "Canceled", "the run to be Canceled")
    _wait_for(lambda: str(_ray_job(cpu, sleepy.id).status).endswith("STOPPED"), "the Ray job to stop")
    _wait_for(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie", "the script to end"
    )
    with pytest.raises(RunFailed, match=r"exited with code 1: ValueError: the data is bad"):
        failing.wait_for_completion(show_output=False)


def test_a_two_step_pipeline_on_the_cluster(
    cpu: AmlCompute, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PythonScriptStep writes files, a ParallelRunStep scores them: both on the cluster, the
    batch step's workers Ray actors (node_count=2 x 1 on a one-node cluster: they share it)."""
    ws = cpu.workspace
    _write(tmp_path / "prep" / "prep.py", PREP)
    _write(tmp_path / "score" / "score.py", SCORE_FILES)
    store = ws.get_default_datastore()
    prepared = PipelineData("prepared", datastore=store)
    prep = PythonScriptStep(
        name="prep",
        script_name="prep.py",
        source_directory=str(tmp_path / "prep"),
        arguments=["--out", prepared],
        outputs=[prepared],
        compute_target=cpu,
        allow_reuse=False,
    )
    scores = PipelineData("scores", datastore=store)
    config = ParallelRunConfig(
        source_directory=str(tmp_path / "score"),
        entry_script="score.py",
        mini_batch_size="5",
        error_threshold=0,
        output_action="append_row",
        environment=None,
        compute_target=cpu,
        node_count=PipelineParameter("nodes", default_value=2),
        process_count_per_node=1,
    )
    score = ParallelRunStep(
        name="score-files",
        parallel_run_config=config,
        inputs=[prepared.as_dataset().as_named_input("files")],
        output=scores,
        allow_reuse=False,
    )
    pipeline = Pipeline(workspace=ws, steps=[prep, score])
    pipeline_run = Experiment(ws, "pipeline-on-cluster").submit(pipeline)
    assert pipeline_run.wait_for_completion(show_output=True) == "Finished"
    step_runs = {r.name: r for r in pipeline_run.get_children()}
    assert set(step_runs) == {"prep", "score-files"}
    for step_run in step_runs.values():
        assert registry.get_run(ws, step_run.id).details["target"] == "cpu-cluster"
    batch_run = pipeline_run.find_step_run("score-files")[0]
    rows = (batch_run.get_output_data("scores").local_path / "parallel_run_step.txt").read_text().splitlines()
    assert sorted(rows) == sorted(f"{i:03d}.txt: {2 * i}" for i in range(24))
    master = (ws.path / "runs" / batch_run.id / "logs" / "sys" / "master_role.txt").read_text()
    assert "Starting 2 worker process(es) (2 node(s) x 1)" in master, master
    ready = [line for line in master.splitlines() if " ready: pid " in line]  # the first may do it all
    assert ready and all(" on Ray node 127.0.0.1 (" in line for line in ready), master
    # node_count above the cluster's max_nodes: refused at submit, naming the step, before any run.
    before = len(list(Experiment(ws, "pipeline-on-cluster").get_runs()))
    with pytest.raises(
        InvalidInputError, match=r"step 'score-files': node_count 5 is not between 1 and max_nodes 4"
    ):
        Experiment(ws, "pipeline-on-cluster").submit(pipeline, pipeline_parameters={"nodes": 5})
    assert len(list(Experiment(ws, "pipeline-on-cluster").get_runs())) == before


def test_a_tabular_parallel_run_step_on_the_cluster(cpu: AmlCompute, tmp_path: Path) -> None:
    ws = cpu.workspace
    lines = ["id,x"] + [f"{i},{i % 17}" for i in range(300)]
    _write(tmp_path / "table" / "rows.csv", "\n".join(lines) + "\n")
    _write(tmp_path / "code" / "rows.py", SCORE_ROWS)
    store = ws.get_default_datastore()
    store.upload(str(tmp_path / "table"), "table", overwrite=True, show_progress=False)
    table = Dataset.Tabular.from_delimited_files(path=store.path("table/rows.csv"), validate=False)
    out = PipelineData("doubled", datastore=store)
    config = ParallelRunConfig(
        source_directory=str(tmp_path / "code"),
        entry_script="rows.py",
        mini_batch_size="1KB",
        error_threshold=0,
        output_action="append_row",
        environment=None,
        compute_target="cpu-cluster",
        node_count=1,
        process_count_per_node=2,
    )
    step = ParallelRunStep(
        name="double-rows",
        parallel_run_config=config,
        inputs=[table.as_named_input("rows")],
        output=out,
        allow_reuse=False,
    )
    run = Experiment(ws, "tabular-on-cluster").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    batch_run = run.find_step_run("double-rows")[0]
    rows = (
        (batch_run.get_output_data("doubled").local_path / "parallel_run_step.txt").read_text().splitlines()
    )
    assert Counter(int(r.split()[0]) for r in rows) == Counter(range(300))
    assert all(int(r.split()[2]) == 2 * int(r.split()[1]) for r in rows)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelport.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env={**os.environ},
    )


def test_the_cli_against_the_cluster_and_bad_input_in_one_line(cpu: AmlCompute, tmp_path: Path) -> None:
    """``modelport batch score --cluster`` and ``modelport job submit --cluster``; a cluster that is
    not there, node_count above max_nodes and an environment without Ray, each one line before any
    mini-batch."""
    ws = cpu.workspace
    for i in range(12):
        _write(tmp_path / "items" / f"{i:02d}.txt", str(i))
    _write(tmp_path / "score.py", SCORE_FILES)
    _write(tmp_path / "train" / "train.py", TRAIN)
    base = [
        "batch",
        "score",
        "--entry-script",
        "score.py",
        "--input",
        "items",
        "-o",
        "out/scores.txt",
        "--workspace",
        ws.name,
    ]
    ok = _cli(
        *base,
        "--cluster",
        "cpu-cluster",
        "--nodes",
        "2",
        "--processes",
        "1",
        "--mini-batch-size",
        "3",
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    assert "on compute target 'cpu-cluster'" in ok.stderr and "Completed: 12 items scored" in ok.stdout
    assert sorted((tmp_path / "out" / "scores.txt").read_text().splitlines()) == sorted(
        f"{i:02d}.txt: {2 * i}" for i in range(12)
    )
    job = _cli(
        "job",
        "submit",
        "--source-directory",
        "train",
        "--cluster",
        "cpu-cluster",
        "--workspace",
        ws.name,
        "train/train.py",
        "--",
        "--alpha",
        "0.25",
        cwd=tmp_path,
    )
    assert job.returncode == 0, job.stderr
    assert "saved the model" in job.stdout and ": Completed" in job.stdout

    from modelport.core import Environment
    from modelport.environments import EnvSpec, resolve_interpreter

    # An interpreter with modelport and its scoring requirements, and no Ray: an empty
    # environment built here (~5 s), then used as is.
    plain = resolve_interpreter(
        EnvSpec.from_dict(Environment("plain").to_spec()), tmp_path / "envs", log=print
    )
    env = Environment("no-ray")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = str(plain)
    env.register(ws)
    # A script run on the cluster runs in its environment's interpreter, which needs no Ray (Ray's
    # job supervisor, in the cluster's Python, starts it).
    _write(tmp_path / "where" / "where.py", "import sys\nprint('interpreter', sys.executable, flush=True)\n")
    where = _cli(
        *("job", "submit", "--cluster", "cpu-cluster", "--environment", "no-ray", "--workspace", ws.name),
        "where/where.py",
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    assert f"interpreter {plain}" in where.stdout, where.stdout
    for extra, words in (
        (["--cluster", "nosuch"], ["compute target 'nosuch' does not exist"]),
        (["--cluster", "cpu-cluster", "--nodes", "5"], ["node_count 5 is not between 1 and max_nodes 4"]),
        (["--cluster", "cpu-cluster", "--environment", "no-ray"], ["cannot import Ray", "ray[serve]=="]),
    ):
        bad = _cli(*base, *extra, cwd=tmp_path)
        assert bad.returncode != 0
        message = [line for line in bad.stderr.splitlines() if line.strip()]
        assert len(message) == 1 and all(w in message[0] for w in words), bad.stderr
        assert "Traceback" not in bad.stderr
    assert [r.status for r in registry.list_runs(ws, "batch-score")] == ["Completed"]  # none started


WAITING = """
import os, sys, time
print("started pid", os.getpid(), flush=True)
deadline = time.time() + 300
while not os.path.exists(sys.argv[1]) and time.time() < deadline:
    time.sleep(0.2)
"""


KEPT_SCORE = """
import os
import helper

CALLS = []

def init():
    global pid
    pid = os.getpid()
    os.environ["SET_BY_A_RUN"] = helper.VERSION  # must not reach the next run

def run(mini_batch):
    CALLS.append(len(mini_batch))
    return [
        f"{os.path.basename(p)} {int(open(p).read()) * helper.FACTOR} {helper.VERSION} {pid}"
        for p in mini_batch
    ]
"""
KEPT_CHECK = """
import os
import helper

def init():
    global pid, leaked
    pid = os.getpid()
    leaked = os.environ.get("SET_BY_A_RUN", "-")

def run(mini_batch):
    return [
        f"{os.path.basename(p)} {int(open(p).read()) * helper.FACTOR} {helper.VERSION} {pid} {leaked}"
        for p in mini_batch
    ]
"""


def _batch_run(
    ws: Any, tmp: Path, files: Any, script: str, version: str, factor: int
) -> tuple[list[str], str]:
    _write(tmp / "code" / "score.py", script)
    _write(tmp / "code" / "helper.py", f"VERSION = {version!r}\nFACTOR = {factor}\n")
    config = ParallelRunConfig(
        source_directory=str(tmp / "code"),
        entry_script="score.py",
        mini_batch_size="3",
        error_threshold=0,
        output_action="append_row",
        environment=None,
        compute_target="cpu-cluster",
        node_count=1,
        process_count_per_node=2,
    )
    out = PipelineData("kept", datastore=ws.get_default_datastore())
    step = ParallelRunStep(
        name="kept", parallel_run_config=config, inputs=[files], output=out, allow_reuse=False
    )
    run = Experiment(ws, "kept-workers").submit(Pipeline(ws, [step]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    batch_run = run.find_step_run("kept")[0]
    rows = (batch_run.get_output_data("kept").local_path / "parallel_run_step.txt").read_text().splitlines()
    master = (ws.path / "runs" / batch_run.id / "logs" / "sys" / "master_role.txt").read_text()
    return rows, master


def _expected(factor: int, version: str) -> list[list[str]]:
    return sorted([f"{i:02d}.txt", str(factor * i), version] for i in range(12))


def test_a_batch_run_takes_the_workers_the_last_one_kept_and_nothing_of_its_code(
    cpu: AmlCompute, tmp_path: Path
) -> None:
    """v1's idle_seconds_before_scaledown keeps a run's Ray workers for the next run of the same
    environment (modelport.jobs.batch.executors.warm): the next run takes the same processes,
    loads its own source (a changed helper module of the same name), and sees nothing the last
    one left in os.environ; once idle that long, the workers end."""
    ws = cpu.workspace
    for i in range(12):
        _write(tmp_path / "items" / f"{i:02d}.txt", str(i))
    store = ws.get_default_datastore()
    store.upload(str(tmp_path / "items"), "kept-items", overwrite=True, show_progress=False)
    files = Dataset.File.from_files(path=store.path("kept-items"), validate=False).as_named_input("items")

    first, _ = _batch_run(ws, tmp_path / "one", files, KEPT_SCORE, "one", 2)
    assert sorted(r.split()[:3] for r in first) == _expected(2, "one")
    pids = {r.split()[3] for r in first}

    second, master2 = _batch_run(ws, tmp_path / "two", files, KEPT_CHECK, "two", 3)
    assert sorted(r.split()[:3] for r in second) == _expected(3, "two")
    assert {r.split()[4] for r in second} == {"-"}, "the first run's os.environ reached the second"
    ready = [line for line in master2.splitlines() if " ready: pid " in line]
    assert ready and all("kept from an earlier run" in line for line in ready), master2
    assert {r.split()[3] for r in second} & pids, (pids, second)  # the same processes

    # Kept only as long as the compute target says: 4 s, then they end by themselves.
    cpu.update(idle_seconds_before_scaledown=4)
    try:
        third, _ = _batch_run(ws, tmp_path / "three", files, KEPT_SCORE, "three", 1)
        workers = {int(r.split()[3]) for r in third}

        def ended() -> bool:
            return not any(psutil.pid_exists(pid) for pid in workers)

        _wait_for(ended, "kept workers to end after idle_seconds_before_scaledown", timeout=120)
    finally:
        cpu.update(idle_seconds_before_scaledown=1800)


def test_a_script_run_that_loses_its_cluster_fails_with_that_cause(cpu: AmlCompute, tmp_path: Path) -> None:
    """Last in the module: it kills the module's cluster (every process of its head, at once, as a
    machine that goes away); the fixture's delete() then finds nothing left to stop."""
    ws = cpu.workspace
    release = tmp_path / "release"
    src = tmp_path / "jobs"
    _write(src / "waiting.py", WAITING)
    run = Experiment(ws, "lose-the-cluster").submit(
        ScriptRunConfig(
            source_directory=str(src), script="waiting.py", arguments=[str(release)], compute_target=cpu
        )
    )
    log = ws.path / "runs" / run.id / "azureml-logs" / "70_driver_log.txt"
    _wait_for(
        lambda: log.is_file() and "started pid" in log.read_text(), "the script to start on the cluster"
    )
    script = psutil.Process(int(log.read_text().split("started pid")[1].split()[0]))
    record = cluster.load(ws, "cpu-cluster")
    for proc in cluster.cluster_processes(record):
        try:
            proc.kill()
        except psutil.Error:
            pass
    _wait_for(lambda: registry.get_run(ws, run.id).status in registry.FINAL, "the run to end", timeout=180)
    lost = registry.get_run(ws, run.id)
    assert lost.status == "Failed", lost.status
    assert lost.error and lost.error.startswith("lost its Ray cluster (compute target 'cpu-cluster' at "), (
        lost.error
    )
    with pytest.raises(RunFailed, match="lost its Ray cluster"):
        run.wait_for_completion(show_output=False)
    release.write_text("")  # a script that outlived its node's Ray ends on its own
    _wait_for(lambda: not script.is_running() or script.status() == psutil.STATUS_ZOMBIE, "the script to end")
