"""One Ray cluster for the package's tests (starting one takes 10-60 s here and ~650 MB): free
ports, its own temp dir, usage stats off, no dashboard; stopped by what it started (never
``ray stop``). test_provision.py starts and deletes its own, as a v1 program would."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy.conftest import digits_model, dws, env_cache, sk_env  # noqa: F401  (shared fixtures)

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'modelport[ray]'")


@pytest.fixture(scope="package")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator:  # type: ignore[type-arg]
    from modelport.deploy import cluster

    record = cluster.start_head(tmp_path_factory.mktemp("ray"))
    record.name = "shared"
    yield record
    cluster.stop_head(record)
    assert cluster.cluster_processes(record) == [], "the cluster left processes behind"
