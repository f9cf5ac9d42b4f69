"""Provisioning the v1 way: ComputeTarget.create / AksCompute, and their one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelport.core.compute import AksCompute, ComputeTarget
from modelport.deploy import cluster
from modelport.errors import ComputeTargetError, InvalidInputError, NotSupported

# Starting a cluster takes 40-70 s here, and minutes when the machine is busy.
pytestmark = [pytest.mark.ray, pytest.mark.process, pytest.mark.timeout(900)]


def test_provisioned_cluster_is_a_v1_compute_target(ray_cluster, capsys) -> None:  # type: ignore[no-untyped-def]
    """The package's cluster (conftest.py) was made by ComputeTarget.create; its deletion at the
    end of the package is checked there (no process, port or temp dir left)."""
    ws, aks = ray_cluster.ws, ray_cluster.aks
    aks.wait_for_completion(show_output=True)
    assert "aks-cluster: Succeeded" in capsys.readouterr().out
    assert aks.get_status() == "Succeeded" and aks.agent_count == 1
    assert isinstance(ComputeTarget(ws, "aks-cluster"), AksCompute)
    assert [t.name for t in ComputeTarget.list(ws)] == ["aks-cluster"]
    with pytest.raises(ComputeTargetError, match="already exists"):
        ComputeTarget.create(ws, "aks-cluster", AksCompute.provisioning_configuration())
    record = cluster.load(ws, "aks-cluster")
    assert record.owned and record.temp_dir and Path(record.temp_dir).is_dir()
    assert cluster.cluster_processes(record), "no process of the cluster was found"


def test_v1_configuration_errors_are_one_line() -> None:
    with pytest.raises(InvalidInputError, match="agent_count"):
        AksCompute.provisioning_configuration(agent_count=0)
    with pytest.raises(InvalidInputError, match="unknown parameter"):
        AksCompute.provisioning_configuration(no_such=1)
    with pytest.raises(InvalidInputError, match="ingress must be one of haproxy, proxy, got 'nginx'"):
        AksCompute.provisioning_configuration(ingress="nginx")
    assert AksCompute.provisioning_configuration(ingress="proxy").ingress == "proxy"
    with pytest.raises(InvalidInputError, match="address"):
        AksCompute.attach_configuration(cluster_name="x")
    from modelport.core.compute import AmlCompute

    # v1's AmlCompute checks (tests/ray/test_amlcompute.py provisions one).
    with pytest.raises(ComputeTargetError, match="max nodes count is mandatory"):
        AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2")
    with pytest.raises(ComputeTargetError, match="max nodes count must be greater than or equal to min"):
        AmlCompute.provisioning_configuration(min_nodes=3, max_nodes=2)
    with pytest.raises(ComputeTargetError, match="admin username must be provided"):
        AmlCompute.provisioning_configuration(max_nodes=2, admin_user_password="x")
    with pytest.raises(InvalidInputError, match="vm_priority"):
        AmlCompute.provisioning_configuration(max_nodes=2, vm_priority="spot")
    with pytest.raises(InvalidInputError, match="address"):
        AmlCompute.attach_configuration()
    with pytest.raises(NotSupported, match=r"ComputeTarget\.create with dict"):
        ComputeTarget.create(None, "x", {})  # type: ignore[arg-type]


def test_serve_start_waits_for_a_proxy_being_replaced(ray_cluster) -> None:  # type: ignore[no-untyped-def]
    """Under load Serve's controller replaces a proxy that is slow to start, and ``serve.start``
    returned (or failed) while the next one was not up yet: starting Serve on a cluster now waits
    until a proxy answers. Here the proxy is killed, as the controller does, then Serve is started
    (found) again: its proxy must be healthy as soon as that returns."""
    import time

    import ray

    record = cluster.load(ray_cluster.ws, "aks-cluster")
    cluster.connect(record)
    from ray import serve
    from ray.serve.schema import ProxyStatus

    # The head's proxy (with HAProxy ingress Serve also keeps a fallback proxy, left alone).
    [node] = serve.status().proxies
    proxy = ray.get_actor(f"SERVE_PROXY_ACTOR-{node}", namespace="serve")
    ray.kill(proxy, no_restart=True)
    # Wait until Ray knows it is dead (its process gone), so an answer below is the new proxy's.
    deadline = time.monotonic() + 120
    with pytest.raises(ray.exceptions.RayActorError):
        while time.monotonic() < deadline:
            ray.get(proxy.__ray_ready__.remote(), timeout=30)
            time.sleep(0.1)

    # ... and until the controller knows (as when it killed the proxy itself): its status of
    # the head's proxy stops being HEALTHY until a replacement is ready.
    while serve.status().proxies.get(node) == ProxyStatus.HEALTHY:
        assert time.monotonic() < deadline, "Serve's controller did not notice its proxy died"
        time.sleep(0.1)

    cluster.attach_serve(record)
    statuses = serve.status().proxies
    assert statuses == {node: ProxyStatus.HEALTHY}, statuses
    replacement = ray.get_actor(f"SERVE_PROXY_ACTOR-{node}", namespace="serve")
    assert replacement._actor_id != proxy._actor_id


def test_refresh_state_counts_the_live_nodes_and_credentials_reach_the_cluster(
    ray_cluster: Any, home: Path
) -> None:
    """Issue 22's v1 members against a live cluster: ``refresh_state()`` takes an attached
    cluster's live Ray nodes as its ``agent_count``; ``get_credentials()`` names a token file the
    cluster accepts; ``deserialize`` rebuilds the target from ``serialize()``."""
    from modelport.workspace import Workspace

    ws = Workspace.create("refreshws")
    record = cluster.ClusterRecord(name="aks", address=ray_cluster.address, owned=False, agent_count=7)
    record.token_file = str(cluster.write_token(cluster.token_path(ws, "aks"), ray_cluster.token.strip()))
    cluster.save(ws, record)  # as attach() records it, with a stale count
    aks = ComputeTarget(ws, "aks")
    assert aks.agent_count == 7

    aks.refresh_state()
    assert aks.agent_count == 1 and aks.provisioning_state == "Succeeded"

    creds = aks.get_credentials()
    assert creds["address"] == ray_cluster.address and creds["authentication"] == "token"
    assert cluster.requires_token(creds["address"], creds["tokenFile"]) is False  # accepted
    assert ray_cluster.token.strip() not in str(creds)

    again = AksCompute.deserialize(ws, aks.serialize())
    assert again.cluster_address == ray_cluster.address and again.get_status() == "Succeeded"
