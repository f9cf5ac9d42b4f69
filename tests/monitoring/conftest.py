"""Collection switched on in this process (as the server does in a worker), into a folder of
the test's own; every writer it made is flushed and stopped at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.monitoring.collection import config, writer


@pytest.fixture
def collecting(tmp_path: Path) -> Iterator[config.CollectionConfig]:
    settings = config.CollectionConfig(
        root=tmp_path / "modeldata",
        workspace="sub/rg/ws",
        service="svc",
        models=[{"name": "mnist", "version": "3"}],
        flush_interval_s=0.2,
    )
    config.configure(settings)
    try:
        yield settings
    finally:
        writer.shutdown()
        config.configure(None)


def service_files(settings: config.CollectionConfig, designation: str) -> list[Path]:
    folder = settings.root / "sub" / "rg" / "ws" / settings.service
    return sorted(folder.glob(f"*/*/{designation}/*/*/*/*.csv"))
