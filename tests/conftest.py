"""Shared fixtures: every workspace lives under tmp_path, with its own MODELPORT_HOME.

The fixtures more than one folder uses live in tests/fixtures.py (the one fixture home) and are
made visible to every folder here; a folder's conftest imports only from there (upward).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import (  # noqa: F401  (fixtures, for every folder)
    digits_model,
    digits_model_dir,
    dws,
    env_cache,
    make_app,
    sk_env,
    start_server,
)


@pytest.fixture(autouse=True)
def _sys_path_restored() -> Iterator[None]:
    """A scoring script loaded in this process puts its folder first on ``sys.path``, as in the
    server that loads it; here the next tests of the worker would inherit it, and the processes
    they spawn with it (a ``json.py`` test script once shadowed the stdlib in a spawned child)."""
    saved = list(sys.path)
    yield
    sys.path[:] = saved


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private MODELPORT_HOME for one test."""
    folder = tmp_path / "mphome"
    monkeypatch.setenv("MODELPORT_HOME", str(folder))
    yield folder


@pytest.fixture
def ws(home: Path):  # type: ignore[no-untyped-def]
    from modelport.workspace import Workspace

    return Workspace.create("testws")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The in-process fake target, standing in for every v1 compute type during one test."""
    from modelport.deploy import targets
    from tests.deploy.fake_target import FakeTarget

    target = FakeTarget()
    monkeypatch.setitem(targets.FACTORIES, "fake", lambda: target)
    monkeypatch.setattr(targets, "_made", {})
    for compute_type in list(targets.COMPUTE_TARGETS):
        monkeypatch.setitem(targets.COMPUTE_TARGETS, compute_type, "fake")
    return target


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (scripts/test.sh runs two workers, ``--dist loadscope``) one worker runs
    all of tests/ray: the package shares one Ray cluster (tests/ray/conftest.py), which two workers
    would each start (~650 MB and 10-70 s apiece). Every other module is a unit of its own.

    Not ``xdist_group`` marks with ``--dist loadgroup``: xdist 3.8 adds the group to an item's
    ``_nodeid``, which pytest 9 no longer reads (a node's id is ``_id``), so the marks grouped
    nothing and both workers ran Ray tests, each with its own cluster."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class RayOnOneWorker(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "tests/ray" if nodeid.startswith("tests/ray/") else super()._split_scope(nodeid)

    return RayOnOneWorker(config, log)
