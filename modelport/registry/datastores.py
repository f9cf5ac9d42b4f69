"""Datastores: folders in the workspace (``<workspace>/datastores/<name>/``) that data is copied into.

A v1 workspace came with two datastores, ``workspaceblobstore`` (the default) and
``workspacefilestore``; a local workspace has the same two, as folders made on first use.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from modelport.errors import InvalidInputError, NotFoundError, StorageError
from modelport.workspace import Workspace

DEFAULT = "workspaceblobstore"
BUILT_IN = (DEFAULT, "workspacefilestore")
_NAME = re.compile(r"^[a-zA-Z0-9_]{1,255}$")

Progress = Callable[[str], None]


def root(ws: Workspace, name: str) -> Path:
    """The folder of datastore ``name`` (a built-in one is made on first use)."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(f"invalid datastore name {name!r}: letters, digits and '_' only")
    folder = ws.path / "datastores" / name
    if name in BUILT_IN:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create datastore folder {folder}: {exc}") from exc
    elif not folder.is_dir():
        raise NotFoundError(
            f"datastore '{name}' not found in workspace '{ws.name}'; it has: {', '.join(names(ws))}"
        )
    return folder


def names(ws: Workspace) -> list[str]:
    """The built-in datastores, then any other folder under ``<workspace>/datastores``."""
    extra: list[str] = []
    folder = ws.path / "datastores"
    if folder.is_dir():
        extra = sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name not in BUILT_IN)
    return [*BUILT_IN, *extra]


def resolve(ws: Workspace, name: str, relpath: str | None) -> Path:
    """``relpath`` inside datastore ``name``; refuses a path that would leave the datastore."""
    base = root(ws, name)
    if not relpath:
        return base
    pure = PurePosixPath(str(relpath).replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts:
        raise InvalidInputError(
            f"datastore path {relpath!r} must be relative and stay inside datastore '{name}'"
        )
    return base.joinpath(*pure.parts)


def upload_files(
    ws: Workspace,
    name: str,
    pairs: Iterable[tuple[Path, str]],
    overwrite: bool,
    progress: Progress | None,
) -> int:
    """Copy each (local file, relative destination) into the datastore; return how many were
    written. A file already there is kept unless ``overwrite`` (as v1 skipped existing blobs)."""
    todo = list(pairs)
    if progress:
        progress(f"Uploading an estimated of {len(todo)} files")
    written = 0
    for i, (src, rel) in enumerate(todo, 1):
        if not src.is_file():
            raise NotFoundError(f"cannot upload {src}: no such file")
        dest = resolve(ws, name, rel)
        if dest.exists() and not overwrite:
            if progress:
                progress(f"Target already exists. Skipping upload for {rel}")
            continue
        _copy(src, dest)
        written += 1
        if progress:
            progress(f"Uploaded {src}, {i} files out of an estimated total of {len(todo)}")
    if progress:
        progress(f"Uploaded {written} files")
    return written


def download(
    ws: Workspace,
    name: str,
    target: Path,
    prefix: str | None,
    overwrite: bool,
    progress: Progress | None,
) -> int:
    """Copy the datastore's files whose path starts with ``prefix`` under ``target``, keeping
    their layout; return how many were written. Existing local files are kept unless
    ``overwrite``."""
    base = root(ws, name)
    files = sorted(p for p in base.rglob("*") if p.is_file())
    wanted = [p for p in files if p.relative_to(base).as_posix().startswith(prefix or "")]
    if progress:
        progress(f"Downloading an estimated of {len(wanted)} files")
    written = 0
    for src in wanted:
        rel = src.relative_to(base)
        dest = target / rel
        if dest.exists() and not overwrite:
            continue
        _copy(src, dest)
        written += 1
        if progress:
            progress(
                f"Downloaded {rel.as_posix()}, {written} files out of an estimated total of {len(wanted)}"
            )
    if progress:
        progress(f"Downloaded {written} files")
    return written


def _copy(src: Path, dest: Path) -> None:
    """Copy to a temporary name beside ``dest``, then rename: a reader never sees half a file."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.part{os.getpid()}")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        raise StorageError(f"cannot copy {src} to {dest}: {exc.strerror or exc}") from exc
