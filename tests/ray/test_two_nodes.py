"""Two Ray nodes on this machine (:class:`tests.fixtures.RayTestCluster`): a service's replicas on both."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.core.compute import AksCompute, ComputeTarget
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AksWebservice
from modelport.workspace import Workspace
from tests.fixtures import SCRIPTS, RayTestCluster

# Starting a cluster takes 20-70 s here, and minutes when the machine is busy.
pytestmark = [pytest.mark.ray, pytest.mark.process, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[str]:
    import ray

    # Two nodes of one CPU on 127.0.0.1 (Ray's single-machine mode, as for a cluster modelport
    # starts: this one has no authentication), each with a temp dir of its own, as a second machine
    # has: Ray builds a replica's runtime environment (its uv virtualenv) under the node's session
    # folder, and two nodes sharing one raced to create the same virtualenv ("dest dir ... exists").
    with RayTestCluster() as nodes:
        try:
            yield nodes.start(workers=1)
        finally:
            ray.shutdown()  # this process's driver (attaching connected it), before its cluster goes


def test_replicas_run_on_both_nodes(  # type: ignore[no-untyped-def]
    dws: Workspace, two_nodes: str, digits_model, tmp_path: Path, capsys
) -> None:
    from ray import serve

    aks = ComputeTarget.attach(dws, "two", AksCompute.attach_configuration(address=two_nodes))
    # This cluster (Ray's test utility) has no authentication: attaching says so, once.
    warned = [line for line in capsys.readouterr().err.splitlines() if "no authentication" in line]
    assert len(warned) == 1 and "anyone who can reach it can run code" in warned[0], warned
    model = Model.register(dws, digits_model[0], "sklearn_mnist")
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SCRIPTS / "plain_echo.py", src / "score.py")
    # One CPU a replica and one CPU a node: the two replicas cannot share a node.
    config = AksWebservice.deploy_configuration(num_replicas=2, autoscale_enabled=False, cpu_cores=1)
    service = Model.deploy(
        dws,
        "two-nodes",
        [model],
        InferenceConfig("score.py", source_directory=src),
        config,
        deployment_target=aks,
    )
    service.wait_for_deployment(timeout_sec=180)
    handle = serve.get_deployment_handle("score", app_name="two-nodes")
    nodes = {handle.node_id.remote().result(timeout_s=30) for _ in range(40)}
    assert len(nodes) == 2, nodes
    assert service.run(input_data={"x": 1})["echo"] == {"x": 1}
    service.delete()
    aks.delete()  # detaches: the cluster is not ours to stop
