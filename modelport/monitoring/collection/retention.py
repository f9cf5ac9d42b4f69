"""Keeping a service's collected data (and its request traces) under a size and an age.

Whole day folders go, oldest first: those older than ``retention_days``, then as many more as it
takes to bring the total under ``max_bytes``; today's folder is never deleted (it is being written
to); when it alone passes the limit the writer drops new rows instead (see writer.py).
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from modelport.monitoring.collection import layout

__all__ = ["Pruned", "folder_size", "prune"]

log = logging.getLogger("modelport.monitoring")


@dataclass(frozen=True, slots=True)
class Pruned:
    """What :func:`prune` left: the bytes still used, and the day folders it deleted."""

    total_bytes: int
    removed: list[Path]


def folder_size(folder: Path) -> int:
    """Bytes of the files under ``folder`` (0 if it is missing)."""
    total = 0
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except OSError:  # deleted meanwhile (another worker pruning)
                        continue
        except OSError:
            continue
    return total


def prune(service: Path, retention_days: int, max_bytes: int, today: datetime.date | None = None) -> Pruned:
    """Delete a service's old day folders (see the module docstring); safe to run from several
    workers at once (a folder another one deleted first is skipped)."""
    today = today or datetime.datetime.now(datetime.UTC).date()
    days: dict[tuple[datetime.date, Path], int] = {}
    for f in layout.files(service):
        key = (f.day, f.path.parent)
        days[key] = days.get(key, 0) + f.size
    total = folder_size(service)
    removed: list[Path] = []
    oldest_kept = today - datetime.timedelta(days=retention_days) if retention_days else None
    for (day, folder), size in sorted(days.items()):
        if day >= today:
            break
        too_old = oldest_kept is not None and day < oldest_kept
        if not too_old and total <= max_bytes:
            continue
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("cannot delete old collected data %s: %s", folder, exc)
            continue
        total -= size
        removed.append(folder)
        _remove_empty_parents(folder.parent, service)
    return Pruned(max(total, 0), removed)


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone): done
            return
        folder = folder.parent
