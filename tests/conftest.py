"""Shared fixtures: every workspace lives under tmp_path, with its own MODELPORT_HOME."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


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
