"""One Ray cluster for the package's tests, provisioned the v1 way and deleted at the end.

Starting a cluster takes 10-70 s here and ~650 MB, so the package shares one:
``ComputeTarget.create(ws, "aks-cluster", AksCompute.provisioning_configuration())`` in a workspace
of its own (free ports, its own temp dir, usage stats off, no dashboard). Tests attach it from
their own workspaces. At the end ``aks.delete()`` must leave no process, listening port or temp
dir behind (stopped by what it started; never ``ray stop``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

if TYPE_CHECKING:
    from modelport.deploy.cluster import ClusterRecord

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'modelport[ray]'")


@dataclass
class Provisioned:
    ws: object
    aks: object
    record: object
    address: str
    token: str
    """The cluster's Ray token: tests attach the cluster from their own workspaces with it."""

    def attach(self, ws: object, name: str) -> object:
        """The cluster as compute target ``name`` of ``ws``, attached with its token."""
        from modelport.core.compute import AksCompute, ComputeTarget

        config = AksCompute.attach_configuration(address=self.address, token=self.token)
        return ComputeTarget.attach(ws, name, config)  # type: ignore[arg-type]


def _listening(pids: set[int]) -> list[int]:
    return [
        c.laddr.port
        for c in psutil.net_connections("tcp")
        if c.pid in pids and c.status == psutil.CONN_LISTEN
    ]


def _keep_logs(record: ClusterRecord, into: Path) -> None:
    """Copy the cluster's logs (Ray's, Serve's, HAProxy's) to ``into``, for a failure's post-mortem:
    deleting the cluster removes its folders."""
    import shutil

    skip = shutil.ignore_patterns("*.sock", "sockets", "runtime_resources", "*.so")
    for name, folder in (("ray", record.temp_dir), ("haproxy", record.settings.get("haproxy_dir"))):
        if folder and Path(folder).is_dir():
            shutil.copytree(folder, into / name, ignore=skip, symlinks=True, dirs_exist_ok=True)


@pytest.fixture(scope="package")
def ray_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Provisioned]:
    from modelport.core.compute import AksCompute, ComputeTarget
    from modelport.deploy import cluster
    from modelport.workspace import Workspace

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELPORT_HOME", str(tmp_path_factory.mktemp("rayhome")))
        ws = Workspace.create("rayws")
        aks = ComputeTarget.create(ws, "aks-cluster", AksCompute.provisioning_configuration(agent_count=1))
        record = cluster.load(ws, "aks-cluster")
        pids = {p.pid for p in cluster.cluster_processes(record)}
        failed_before = request.session.testsfailed
        try:
            token = Path(record.token_file).read_text()  # type: ignore[arg-type]
            yield Provisioned(ws, aks, record, record.address, token)
        finally:
            if request.session.testsfailed > failed_before:  # a test failed while it ran: keep its logs
                kept = tmp_path_factory.mktemp("ray-cluster-logs")
                _keep_logs(record, kept)
                print(f"\nthe package's Ray cluster logs (a test failed): {kept}")
            aks.delete()  # type: ignore[attr-defined]
    assert cluster.cluster_processes(record) == [], "the cluster left processes behind"
    alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"processes of the deleted cluster still run: {alive}"
    assert _listening(pids) == []
    assert record.temp_dir and not Path(record.temp_dir).exists()
    assert record.settings["haproxy_dir"] and not Path(record.settings["haproxy_dir"]).exists()
    assert record.token_file and not Path(record.token_file).exists(), "the cluster's token was left behind"
