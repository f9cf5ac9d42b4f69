"""A Ray node that shares no file system with the deploying machine (issue 25).

The package's cluster gets one more node for this module: a worker node in a mount namespace of
its own (:func:`tests.fixtures.isolated_node`) where the workspace, the environment cache, the
deploying user's home (HOME points at a temp dir here) and the package cluster's own workspace are
empty folders. Work asking for the ``isolated`` resource runs there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures import ISOLATED_RESOURCE, IsolatedNode, isolated_node

pytestmark = [pytest.mark.ray, pytest.mark.process, pytest.mark.timeout(900)]


@dataclass
class Isolated:
    node: IsolatedNode
    home: Path
    """MODELPORT_HOME: workspaces live here."""
    env_cache: Path
    user_home: Path
    cluster_ws: Path


@pytest.fixture(scope="module")
def isolated(ray_cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Isolated]:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("isolated")
    home, env_cache, user_home = root / "mphome", root / "envcache", root / "userhome"
    for folder in (home, env_cache, user_home):
        folder.mkdir()
        (folder / "visible-here").write_text("the deploying machine's file")
    cluster_ws = Path(ray_cluster.ws.path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MODELPORT_HOME", str(home))
        mp.setenv("MODELPORT_ENV_CACHE", str(env_cache))
        mp.setenv("HOME", str(user_home))
        with isolated_node(
            ray_cluster.address, ray_cluster.token, [home, env_cache, user_home, cluster_ws]
        ) as node:
            yield Isolated(node, home, env_cache, user_home, cluster_ws)


def test_the_node_sees_none_of_the_deploying_machines_folders(ray_cluster, isolated: Isolated) -> None:  # type: ignore[no-untyped-def]
    import ray

    from modelport.deploy import cluster

    cluster.connect(ray_cluster.record)
    hidden = [isolated.home, isolated.env_cache, isolated.user_home, isolated.cluster_ws]

    def look(paths: list[str]) -> dict[str, object]:
        import os as _os
        import sys as _sys

        return {
            "node": ray.get_runtime_context().get_node_id(),
            "seen": {p: sorted(_os.listdir(p)) if _os.path.isdir(p) else None for p in paths},
            "python": _sys.executable,
        }

    probe = ray.remote(num_cpus=0, resources={ISOLATED_RESOURCE: 1})(look)
    there = ray.get(probe.remote([str(p) for p in hidden]), timeout=120)
    assert there["node"] == isolated.node.node_id
    assert there["seen"] == {str(p): [] for p in hidden}, there  # empty folders, nothing of ours
    here = look([str(p) for p in hidden])
    assert all("visible-here" in here["seen"][str(p)] for p in hidden[:3])  # type: ignore[index]
    assert os.path.exists(there["python"])  # type: ignore[arg-type]
    workspace = isolated.home / "ws"
    workspace.mkdir()
    check = ray.remote(num_cpus=0, resources={ISOLATED_RESOURCE: 1})(os.path.exists)
    assert ray.get(check.remote(str(workspace)), timeout=60) is False
