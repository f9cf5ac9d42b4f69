"""A ParallelRunStep across two Ray nodes (:class:`tests.fixtures.RayTestCluster` attached as an
AmlCompute target): a worker node killed mid-run loses no item and scores none twice; then the whole cluster
lost mid-run ends the run Failed with that cause, and ``modelport job resume`` finishes it on the
cluster started again under the same name, every item once (issue 21, points 3 and "bad input").

The test cluster has no authentication, so attaching it warns (once). Each node's temp dir is a
short folder of its own (never /tmp/ray), and the module stops only the nodes it started.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelport.core import Dataset, Experiment, ScriptRunConfig, Workspace
from modelport.core.compute import AmlCompute, ComputeTarget
from modelport.errors import ComputeTargetError
from modelport.jobs.batch import snapshot
from modelport.pipeline.core import Pipeline, PipelineData
from modelport.pipeline.steps import ParallelRunConfig, ParallelRunStep
from modelport.registry import runs as registry
from tests.fixtures import RayTestCluster, scored_once

pytestmark = [pytest.mark.ray, pytest.mark.process, pytest.mark.timeout(900)]

# init() waits until every worker of the run has started (a file each in $BARRIER), so the test
# knows both nodes hold a worker before mini-batches flow; run() takes a while per mini-batch.
SCORE = """
import os, time

def init():
    folder = os.environ["BARRIER"]
    os.makedirs(folder, exist_ok=True)
    open(os.path.join(folder, str(os.getpid())), "w").close()
    deadline = time.time() + 240
    while len(os.listdir(folder)) < int(os.environ["WORKERS"]) and time.time() < deadline:
        time.sleep(0.1)

def run(mini_batch):
    time.sleep(float(os.environ.get("DELAY", "0.3")))
    return [f"{os.path.basename(p)}: {int(open(p).read()) * 3}" for p in mini_batch]
"""


@pytest.fixture(scope="module")
def nodes() -> Iterator[RayTestCluster]:
    """The module's Ray cluster, started by each test (a test stops it and starts another)."""
    import ray

    with RayTestCluster() as held:
        try:
            yield held
        finally:
            ray.shutdown()  # this process's driver, before its cluster goes


@pytest.fixture
def folder(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for i in range(60):
        (tmp_path / "items").mkdir(exist_ok=True)
        (tmp_path / "items" / f"{i:02d}.txt").write_text(str(i))
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text(SCORE)
    return tmp_path


def _wait_for(predicate: Any, what: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _rows(path: Path) -> Counter[str]:
    return Counter(path.read_text().splitlines())


EXPECTED = Counter(f"{i:02d}.txt: {3 * i}" for i in range(60))


def test_a_worker_node_killed_mid_run_loses_nothing_and_scores_nothing_twice(
    nodes: RayTestCluster, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = nodes.start(workers=1)
    (worker,) = nodes.workers
    ws = Workspace.create(name="twonodes", exist_ok=True)
    two = ComputeTarget.attach(ws, "two", AmlCompute.attach_configuration(address=address))
    warned = [line for line in capsys.readouterr().err.splitlines() if "no authentication" in line]
    assert len(warned) == 1, warned
    assert two.get_status().current_node_count == 2 and two.scale_settings.maximum_node_count == 2

    store = ws.get_default_datastore()
    store.upload("items", "items", overwrite=True, show_progress=False)
    items = Dataset.File.from_files(path=store.path("items"), validate=False).as_named_input("items")
    config = ParallelRunConfig(
        source_directory="code",
        entry_script="score.py",
        mini_batch_size="2",
        error_threshold=0,
        output_action="append_row",
        environment=None,
        compute_target=two,
        node_count=2,
        process_count_per_node=1,
        run_max_try=3,
        environment_variables={"BARRIER": str(folder / "barrier"), "WORKERS": "2"},
    )
    scores = PipelineData("scores", datastore=store)
    step = ParallelRunStep(
        name="score-two-nodes", parallel_run_config=config, inputs=[items], output=scores, allow_reuse=False
    )
    pipeline_run = Experiment(ws, "two-nodes").submit(Pipeline(ws, [step]))

    def batch_run() -> Any:
        children = registry.children(ws, pipeline_run.id)
        return children[0] if children else None

    _wait_for(
        lambda: batch_run() is not None and snapshot(ws, batch_run().id).finished_batches >= 6,
        "a fifth of the mini-batches",
    )
    nodes.kill(worker)  # the machine is gone: its worker with it
    assert pipeline_run.wait_for_completion(show_output=False, timeout_seconds=600) == "Finished"

    outcome = scored_once(ws, pipeline_run.id, lambda row: row, EXPECTED)  # every item, once
    master = outcome.master
    assert outcome.ready_on("node001/process000", worker.node_id), master
    ready = [line for line in master.splitlines() if " ready: pid " in line]
    assert len({line.split("(")[1].split(")")[0] for line in ready}) == 2, master  # both nodes held a worker
    assert "node001/process000 lost: the worker process" in master, master


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelport.cli", *args], capture_output=True, text=True, timeout=600, cwd=cwd
    )


def test_a_run_that_loses_its_cluster_fails_with_that_cause_and_resumes_when_it_is_back(
    nodes: RayTestCluster, folder: Path
) -> None:
    # The previous test's head node (its worker node is gone), else a head of its own.
    address = nodes.address if nodes.running else nodes.start(workers=0)
    ws = Workspace.create(name="lostcluster", exist_ok=True)
    ComputeTarget.attach(ws, "two", AmlCompute.attach_configuration(address=address))
    started = _cli(
        "batch",
        "score",
        "--entry-script",
        "code/score.py",
        "--input",
        "items",
        "-o",
        "out/scores.txt",
        "--cluster",
        "two",
        "--processes",
        "1",
        "--mini-batch-size",
        "2",
        "--env",
        f"BARRIER={folder / 'barrier'}",
        "--env",
        "WORKERS=1",
        "--env",
        "DELAY=0.5",  # 15 s in all: stopping the cluster takes seconds, and the run must not end first
        "--workspace",
        ws.name,
        "--detach",
        cwd=folder,
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    _wait_for(lambda: snapshot(ws, run_id).finished_batches >= 5, "a sixth of the mini-batches")
    nodes.shutdown()  # the cluster goes away mid-run
    _wait_for(lambda: registry.get_run(ws, run_id).status in registry.FINAL, "the run to end", timeout=120)
    lost = registry.get_run(ws, run_id)
    assert lost.status == "Failed" and "lost its Ray cluster: compute target 'two'" in lost.error, lost.error
    done_before = snapshot(ws, run_id).finished_batches
    assert 5 <= done_before < 30

    refused = _cli("job", "resume", run_id, "--workspace", ws.name, cwd=folder)  # still gone: one line
    assert refused.returncode == 1 and "compute target 'two' does not answer" in refused.stderr, (
        refused.stderr
    )
    assert len(refused.stderr.strip().splitlines()) == 1
    # v1's way to the cluster that is gone: one line each, before any run is recorded.
    with pytest.raises(ComputeTargetError, match=r"^compute target 'two' does not answer") as gone:
        Experiment(ws, "gone").submit(
            ScriptRunConfig(source_directory="code", script="score.py", compute_target="two")
        )
    assert "\n" not in str(gone.value)
    store = ws.get_default_datastore()
    store.upload("items", "gone-items", overwrite=True, show_progress=False)
    config = ParallelRunConfig(
        source_directory="code",
        entry_script="score.py",
        mini_batch_size="2",
        error_threshold=0,
        output_action="append_row",
        environment=None,
        compute_target="two",
        node_count=1,
        process_count_per_node=1,
    )
    step = ParallelRunStep(
        name="score-gone",
        parallel_run_config=config,
        inputs=[
            Dataset.File.from_files(path=store.path("gone-items"), validate=False).as_named_input("items")
        ],
        output=PipelineData("gone", datastore=store),
        allow_reuse=False,
    )
    with pytest.raises(
        ComputeTargetError, match=r"^step 'score-gone': compute target 'two' does not answer"
    ) as gone:
        Experiment(ws, "gone").submit(Pipeline(ws, [step]))
    assert "\n" not in str(gone.value)
    assert list(Experiment(ws, "gone").get_runs()) == []

    # The cluster is back (started again, a new address): the same name, attached again.
    ComputeTarget(ws, "two").detach()
    ComputeTarget.attach(ws, "two", AmlCompute.attach_configuration(address=nodes.start(workers=0)))
    resumed = _cli("job", "resume", run_id, "--workspace", ws.name, "--json", cwd=folder)
    assert resumed.returncode == 0, resumed.stderr
    assert _rows(folder / "out" / "scores.txt") == Counter(f"{i:02d}.txt: {3 * i}" for i in range(60))
    final = registry.list_runs(ws, "batch-score")[0]
    assert final.id != run_id and final.status == "Completed"
    assert snapshot(ws, final.id).reused_batches == done_before
