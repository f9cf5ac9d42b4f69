"""Two Ray nodes on this machine (``ray.cluster_utils.Cluster``): a service's replicas on both."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.core.compute import AksCompute, ComputeTarget
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AksWebservice
from modelport.deploy.ports import free_port
from modelport.workspace import Workspace
from tests.fixtures import SCRIPTS, ray_test_cluster

# Starting a cluster takes 40-70 s here, and minutes when the machine is busy.
pytestmark = [pytest.mark.ray, pytest.mark.process, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import ray
    from ray.cluster_utils import Cluster

    temp = Path("/tmp") / f"mp-2n-{free_port()}"  # short: Ray's unix socket paths live under it
    # On 127.0.0.1 only (Ray's single-machine mode, as for a cluster modelport starts): this
    # cluster has no authentication, and Ray would otherwise listen on the network address.
    local = {"num_cpus": 1, "temp_dir": str(temp), "node_ip_address": "127.0.0.1"}
    with ray_test_cluster():
        nodes = Cluster(initialize_head=False)
        try:
            ports = {"gcs_server_port": free_port(), "ray_client_server_port": free_port()}
            nodes.add_node(**local, include_dashboard=False, **ports)
            # A temp dir of its own, as a second machine has: Ray builds a replica's runtime
            # environment (its uv virtualenv) under the node's session folder, and two nodes sharing
            # one raced to create the same virtualenv ("dest dir ... exists").
            nodes.add_node(**{**local, "temp_dir": f"{temp}b"})
            nodes.wait_for_nodes()
            yield nodes.address
        finally:
            ray.shutdown()
            nodes.shutdown()
            shutil.rmtree(temp, ignore_errors=True)
            shutil.rmtree(f"{temp}b", ignore_errors=True)


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
