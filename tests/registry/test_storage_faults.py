"""The workspace on a full or read-only filesystem: a clear error, and no partial version visible.

Tests run as root, so permissions prove nothing: a real small tmpfs is mounted where the machine
allows it; where it does not, the same failures are injected at the blob store's write.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelport.core.model import Model
from modelport.errors import StorageError
from modelport.workspace import Workspace


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    return r.returncode == 0


@pytest.fixture
def small_fs(tmp_path: Path, home: Path) -> Iterator[tuple[Path, bool]]:
    mnt = tmp_path / "small"
    mounted = os.geteuid() == 0 and _mount_tmpfs(mnt, "3m")
    try:
        yield mnt, mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def _inject(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    import modelport.workspace.blobs as blobs

    def failing_fsync(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(blobs.os, "fsync", failing_fsync)


def test_full_filesystem(
    small_fs: tuple[Path, bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mnt, mounted = small_fs
    ws = Workspace.create("fullws", path=mnt / "ws")
    Model.register(ws, _make(tmp_path / "small.bin", 10_000), "fits")
    big = _make(tmp_path / "big.bin", 8 * 1024 * 1024)
    if not mounted:
        _inject(monkeypatch, errno.ENOSPC)
    with pytest.raises(StorageError, match=r"No space left on device") as info:
        Model.register(ws, big, "too-big")
    assert "big.bin" in str(info.value)
    assert [m.id for m in Model.list(ws)] == ["fits:1"]
    leftovers = list((ws.path / "blobs" / "tmp").glob("*")) if (ws.path / "blobs" / "tmp").exists() else []
    assert leftovers == []
    monkeypatch.undo()
    # Space again (the failed write left nothing behind): the next version is 2, consecutive.
    assert Model.register(ws, tmp_path / "small.bin", "fits").version == 2


def test_read_only_filesystem(
    small_fs: tuple[Path, bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mnt, mounted = small_fs
    ws = Workspace.create("rows", path=mnt / "ws")
    Model.register(ws, _make(tmp_path / "a.bin", 1000), "first")
    if mounted:
        ws.db.close()
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        ws = Workspace.get("rows")
    else:
        _inject(monkeypatch, errno.EROFS)
    with pytest.raises(StorageError, match=r"[Rr]ead-only"):
        Model.register(ws, _make(tmp_path / "b.bin", 1000), "second")
    assert [m.id for m in Model.list(ws)] == ["first:1"]
    assert Model(ws, "first").download(tmp_path / "out")


def _make(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path
