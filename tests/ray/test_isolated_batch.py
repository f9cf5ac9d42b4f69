"""A ParallelRunStep whose worker runs on a Ray node that cannot see the workspace (issue 25,
point 2): inputs, the entry script and the worker's logs and outputs all travel through Ray.

The package's cluster gets an isolated node for this module (:func:`tests.fixtures.isolated_node`:
a mount namespace where the workspace, the environment cache and the user's home are empty
folders). The step runs on two nodes: ``node000`` on the head, which sees the workspace, and
``node001`` on the isolated node, which does not; the entry script itself reports what its node
sees, so the isolation is proven where the items are scored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import isolated_node, scored_once

pytestmark = [pytest.mark.ray, pytest.mark.process, pytest.mark.timeout(900)]

# Each worker says whether it sees the workspace; the head's worker waits (through Ray's own
# key-value store: no shared folder here) until the isolated node's worker has started, so both
# nodes score mini-batches.
SCORE = """
import os, time
import ray
from ray.experimental import internal_kv

def init():
    global SEES, NODE
    SEES = os.path.isdir(os.environ["MODELPORT_RUN_WORKSPACE"])
    NODE = ray.get_runtime_context().get_node_id()
    print("init on", NODE, "sees the workspace:", SEES)
    if not SEES:
        internal_kv._internal_kv_put(b"isolated-batch-ready", b"1", namespace="modelport-test")
        return
    deadline = time.time() + 240
    while not internal_kv._internal_kv_exists(b"isolated-batch-ready", namespace="modelport-test"):
        if time.time() > deadline:
            raise RuntimeError("the isolated node's worker did not start")
        time.sleep(0.1)

def run(mini_batch):
    time.sleep(0.05)
    first = os.path.basename(mini_batch[0])
    with open(os.path.join(os.environ["AZUREML_BI_OUTPUT_PATH"], first + ".done"), "w") as f:
        f.write(NODE)
    print("scored", first, flush=True)
    return [f"{os.path.basename(p)} {int(open(p).read()) * 3} {NODE} {SEES}" for p in mini_batch]
"""


@pytest.fixture(scope="module")
def isolated(ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    root = tmp_path_factory.mktemp("isobatch")
    home, env_cache, user_home = root / "mphome", root / "envcache", root / "userhome"
    for folder in (home, env_cache, user_home):
        folder.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELPORT_HOME", str(home))
        mp.setenv("MODELPORT_ENV_CACHE", str(env_cache))
        mp.setenv("HOME", str(user_home))
        hidden = [home, env_cache, user_home, Path(ray_cluster.ws.path)]
        with ExitStack() as stack:
            try:
                node = stack.enter_context(isolated_node(ray_cluster.address, ray_cluster.token, hidden))
            except pytest.fail.Exception:
                # `ray start` gives its node 30 s to register (hard-coded in Ray); on a machine as
                # busy as a full suite makes it, that was missed 3 times in 4 here. Once more.
                node = stack.enter_context(isolated_node(ray_cluster.address, ray_cluster.token, hidden))
            yield node, home


def test_a_parallel_run_step_scores_on_a_node_that_cannot_see_the_workspace(
    ray_cluster: Any, isolated: tuple[Any, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelport.core import Dataset, Experiment, Workspace
    from modelport.core.compute import AmlCompute, ComputeTarget
    from modelport.pipeline.core import Pipeline, PipelineData
    from modelport.pipeline.steps import ParallelRunConfig, ParallelRunStep

    node, home = isolated
    project = home / "project"  # the inputs and the code are under the hidden folder too
    (project / "items").mkdir(parents=True)
    (project / "code").mkdir()
    for i in range(40):
        (project / "items" / f"{i:02d}.txt").write_text(str(i))
    (project / "code" / "score.py").write_text(SCORE)
    monkeypatch.chdir(project)

    ws = Workspace.create(name="isobatch", exist_ok=True)
    ComputeTarget.attach(
        ws, "iso", AmlCompute.attach_configuration(address=ray_cluster.address, token=ray_cluster.token)
    )
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
        compute_target="iso",
        node_count=2,
        process_count_per_node=1,
    )
    scores = PipelineData("scores", datastore=store)
    step = ParallelRunStep(
        name="score-isolated", parallel_run_config=config, inputs=[items], output=scores, allow_reuse=False
    )
    pipeline_run = Experiment(ws, "isolated").submit(Pipeline(ws, [step]))
    assert pipeline_run.wait_for_completion(show_output=False, timeout_seconds=600) == "Finished"

    outcome = scored_once(
        ws,
        pipeline_run.id,
        lambda row: tuple(row.split()[:2]),
        [(f"{i:02d}.txt", str(3 * i)) for i in range(40)],
    )  # every item, once
    rows = [line.split() for line in outcome.rows]
    by_node = Counter((where, sees) for _, _, where, sees in rows)
    # The isolated node scored items without seeing the workspace; the head saw it (the check
    # tells the two apart).
    assert by_node[(node.node_id, "False")] >= 2, by_node
    assert all(sees == "True" for _, _, where, sees in rows if where != node.node_id), by_node
    assert not any(where == node.node_id and sees == "True" for _, _, where, sees in rows)

    folder = ws.path / "runs" / outcome.run_id
    assert outcome.ready_on("node001/process000", node.node_id), outcome.master
    # Its print() output, and the files run() wrote, came back into the workspace.
    stdout = (folder / "logs" / "user" / "stdout" / "node001" / "process000.stdout.txt").read_text()
    assert "sees the workspace: False" in stdout and "scored " in stdout, stdout
    done = {p.name: p.read_text() for p in outcome.output.parent.glob("*.done")}
    assert len(done) == 20 and node.node_id in set(done.values()), done
