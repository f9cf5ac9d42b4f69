"""Shared fixtures: every workspace lives under tmp_path, with its own MODELPORT_HOME.

The fixtures more than one folder uses live in tests/fixtures.py (the one fixture home) and are
made visible to every folder here; a folder's conftest imports only from there (upward).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (scripts/test.sh runs two workers, ``--dist loadgroup``) one worker runs
    all of tests/ray: the package shares one Ray cluster (tests/ray/conftest.py), which two workers
    would each start (~650 MB and 10-70 s apiece)."""
    for item in items:
        if item.nodeid.startswith("tests/ray/"):
            item.add_marker(pytest.mark.xdist_group("ray"))
