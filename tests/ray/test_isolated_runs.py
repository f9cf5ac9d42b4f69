"""Runs with an Environment on a Ray node that cannot see the workspace (issue 25, point 2).

The module provisions an AmlCompute cluster (its Jobs API on) and joins one isolated node to it
(:func:`tests.fixtures.isolated_node`: a mount namespace where the workspace, the environment
cache, the user's home and this checkout's ``modelport`` package are empty folders). There:

- a ParallelRunStep whose environment pins a package the cluster's Python does not have: the
  isolated node's worker gets it from Ray's ``uv`` runtime environment built on the node (and
  modelport as a ``py_modules`` package), the head's worker runs the environment in place;
- a script run pinned to the isolated node (``job_resources``) in the same environment: its
  metrics and ``outputs/`` come back into the workspace, and ``register_model`` works on them.

Each script proves, on its node, that it does not see the workspace.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import ISOLATED_RESOURCE, REPO, IsolatedNode, isolated_node, scored_once

pytestmark = [pytest.mark.ray, pytest.mark.process, pytest.mark.timeout(900)]

TABULATE = "tabulate==0.8.10"  # pure Python, in the package index, not in the cluster's Python

SCORE = """
import os, time
import ray
import tabulate
from ray.experimental import internal_kv

def init():
    global SEES, NODE
    SEES = os.path.isdir(os.environ["MODELPORT_RUN_WORKSPACE"])
    NODE = ray.get_runtime_context().get_node_id()
    print("init on", NODE, "sees the workspace:", SEES, "tabulate from", tabulate.__file__, flush=True)
    if not SEES:
        internal_kv._internal_kv_put(b"isolated-runs-ready", b"1", namespace="modelport-test")
        return
    # The head's worker waits for the isolated one (its environment is built on its node first),
    # so both score mini-batches.
    deadline = time.time() + 400
    while not internal_kv._internal_kv_exists(b"isolated-runs-ready", namespace="modelport-test"):
        if time.time() > deadline:
            raise RuntimeError("the isolated node's worker did not start")
        time.sleep(0.1)

def run(mini_batch):
    time.sleep(0.05)
    where = os.path.dirname(tabulate.__file__)
    return [f"{os.path.basename(p)} {int(open(p).read()) * 3} {NODE} {SEES} {where}" for p in mini_batch]
"""

TRAIN = """
import os, pickle, sys
import tabulate
from modelport.core.run import Run

sees = os.path.isdir(os.environ["MODELPORT_RUN_WORKSPACE"])
print("sees the workspace:", sees, flush=True)
print("python", sys.executable, "tabulate", tabulate.__version__, flush=True)
run = Run.get_context()
run.log("alpha", 0.5)
run.log_list("errors", [0.3, 0.2, 0.1])
run.tag("trained-on", "isolated")
os.makedirs("outputs/deep", exist_ok=True)
with open("outputs/model.pkl", "wb") as f:
    pickle.dump({"alpha": 0.5, "sees": sees, "python": sys.executable}, f)
with open("outputs/deep/notes.txt", "w") as f:
    f.write(tabulate.tabulate([[1, 2]]))
print("saved the model", flush=True)
"""


@dataclass
class Iso:
    ws: Any
    cpu: Any
    node: IsolatedNode
    home: Path
    env: Any


@pytest.fixture(scope="module")
def iso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Iso]:
    from modelport.core import Workspace
    from modelport.core.compute import AmlCompute, ComputeTarget
    from modelport.core.conda_dependencies import CondaDependencies
    from modelport.core.environment import Environment
    from modelport.deploy import cluster

    root = tmp_path_factory.mktemp("isoruns")
    home, env_cache, user_home = root / "mphome", root / "envcache", root / "userhome"
    for folder in (home, env_cache, user_home):
        folder.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELPORT_HOME", str(home))
        mp.setenv("MODELPORT_ENV_CACHE", str(env_cache))
        # uv's download cache stays where it was (HOME moves): builds here and on the node reuse
        # downloads, as a node's own uv cache would after its first environment.
        mp.setenv("UV_CACHE_DIR", str(Path.home() / ".cache" / "uv"))
        mp.setenv("HOME", str(user_home))
        mp.chdir(home)
        ws = Workspace.create(name="isoruns", exist_ok=True)
        cpu = ComputeTarget.create(ws, "cpu", AmlCompute.provisioning_configuration(max_nodes=4))
        record = cluster.load(ws, "cpu")
        token = Path(record.token_file).read_text()  # type: ignore[arg-type]
        env = Environment("tab-env")
        env.python.conda_dependencies = CondaDependencies.create(pip_packages=[TABULATE])
        try:
            hidden = [home, env_cache, user_home, REPO / "modelport"]
            with isolated_node(record.address, token, hidden) as node:
                yield Iso(ws, cpu, node, home, env)
        finally:
            ComputeTarget(ws, "cpu").delete()
    assert cluster.cluster_processes(record) == [], "the cluster left processes behind"


def test_a_parallel_run_step_with_an_environment_built_on_the_node(iso: Iso, monkeypatch: Any) -> None:
    from modelport.core import Dataset, Experiment
    from modelport.pipeline.core import Pipeline, PipelineData
    from modelport.pipeline.steps import ParallelRunConfig, ParallelRunStep

    project = iso.home / "batch"
    (project / "items").mkdir(parents=True)
    (project / "code").mkdir()
    for i in range(30):
        (project / "items" / f"{i:02d}.txt").write_text(str(i))
    (project / "code" / "score.py").write_text(SCORE)
    monkeypatch.chdir(project)
    store = iso.ws.get_default_datastore()
    store.upload("items", "items", overwrite=True, show_progress=False)
    items = Dataset.File.from_files(path=store.path("items"), validate=False).as_named_input("items")
    config = ParallelRunConfig(
        source_directory="code",
        entry_script="score.py",
        mini_batch_size="2",
        error_threshold=0,
        output_action="append_row",
        environment=iso.env,
        compute_target=iso.cpu,
        node_count=2,
        process_count_per_node=1,
        run_invocation_timeout=150,
    )
    scores = PipelineData("scores", datastore=store)
    step = ParallelRunStep(
        name="score-env", parallel_run_config=config, inputs=[items], output=scores, allow_reuse=False
    )
    pipeline_run = Experiment(iso.ws, "isolated-env").submit(Pipeline(iso.ws, [step]))
    assert pipeline_run.wait_for_completion(show_output=False, timeout_seconds=700) == "Finished"

    expected = [(f"{i:02d}.txt", str(3 * i)) for i in range(30)]
    outcome = scored_once(iso.ws, pipeline_run.id, lambda row: tuple(row.split()[:2]), expected)
    rows = [line.split() for line in outcome.rows]
    there = [r for r in rows if r[2] == iso.node.node_id]
    assert len(there) >= 2, Counter(r[2] for r in rows)
    # The isolated node scored without seeing the workspace, with the pinned package from the
    # environment Ray's uv built on that node; the head ran the environment where it was built.
    assert all(r[3] == "False" and "/runtime_resources/uv/" in r[4] for r in there), there[:3]
    here = [r for r in rows if r[2] != iso.node.node_id]
    assert here and all(r[3] == "True" and r[4].startswith(str(iso.home.parent)) for r in here), here[:3]
    assert outcome.ready_on("node001/process000", iso.node.node_id), outcome.master


def test_a_script_run_on_the_node_brings_its_outputs_and_metrics_back(iso: Iso, tmp_path: Path) -> None:
    from ray.job_submission import JobSubmissionClient

    from modelport.core import Experiment, ScriptRunConfig
    from modelport.core.compute import AmlCompute, ComputeTarget, run_compute
    from modelport.jobs.ray import auth_headers
    from modelport.jobs.ray.job import submission_id

    pinned = ComputeTarget.attach(
        iso.ws,
        "cpu-iso",
        AmlCompute.attach_configuration(compute_target=iso.cpu, job_resources={ISOLATED_RESOURCE: 1}),
    )
    src = iso.home / "train"
    src.mkdir()
    (src / "train.py").write_text(TRAIN)
    config = ScriptRunConfig(source_directory=str(src), script="train.py", compute_target=pinned)
    config.run_config.environment = iso.env
    run = Experiment(iso.ws, "isolated-train").submit(config)
    run.wait_for_completion(show_output=False, raise_on_error=False)
    log = (iso.ws.path / "runs" / run.id / "azureml-logs" / "70_driver_log.txt").read_text()
    compute = run_compute(iso.ws, pinned)
    assert compute is not None
    client = JobSubmissionClient(compute.dashboard, headers=auth_headers(compute))
    assert run.get_status() == "Completed", log
    # Printed on the node; Ray's Jobs API does not serve a log of that node: it came back.
    assert "sees the workspace: False" in log and "tabulate 0.8.10" in log, log
    info = client.get_job_info(submission_id(run.id))
    assert info.driver_node_id == iso.node.node_id  # it ran on the isolated node

    assert run.get_metrics() == {"alpha": 0.5, "errors": [0.3, 0.2, 0.1]}
    assert run.get_tags().get("trained-on") == "isolated"
    assert {"outputs/model.pkl", "outputs/deep/notes.txt"} <= set(run.get_file_names())
    model = run.register_model(model_name="isolated-model", model_path="outputs/model.pkl")
    saved = pickle.loads(Path(model.download(target_dir=str(tmp_path / "m"))).read_bytes())
    assert saved["alpha"] == 0.5 and saved["sees"] is False
    assert "/runtime_resources/uv/" in saved["python"]  # the environment Ray built on the node
    # Nothing of the run is left in the cluster's key-value store: asked from a process of its
    # own (this one may be a driver of another cluster already, and connect() sets Ray's auth
    # variables for the process).
    probe = (
        "import sys; from modelport.core.compute import ComputeTarget, run_compute; "
        "from modelport.core import Workspace; from modelport.jobs.ray import connect; "
        "from ray.experimental.internal_kv import _internal_kv_list; "
        "ws = Workspace.get(sys.argv[1]); connect(run_compute(ws, ComputeTarget(ws, sys.argv[2]))); "
        "print(len(_internal_kv_list(sys.argv[3] + '/', namespace='modelport-runs')))"
    )
    left = subprocess.run(
        [sys.executable, "-c", probe, iso.ws.name, pinned.name, run.id],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert left.returncode == 0 and left.stdout.strip() == "0", (left.stdout, left.stderr[-2000:])
    pinned.detach()
