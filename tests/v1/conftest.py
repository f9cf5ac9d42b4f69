"""v1-style programs: each runs in its own MODELPORT_HOME, and whatever services it left running
(a failed assertion before its own delete()) are deleted, processes stopped, at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_service_left(home: Path) -> Iterator[None]:
    yield
    from modelport.deploy import engine
    from modelport.workspace import Workspace

    for ws in Workspace.list().values():
        for name in engine.names(ws):
            engine.delete(ws, name, missing_ok=True)
