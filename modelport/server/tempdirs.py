"""The temporary folders a ``modelport serve`` makes for itself (the Prometheus counters of its
workers; an empty ``AZUREML_MODEL_DIR`` when none is given), and the ones a killed server left.

A server removes its folders when it ends, but a supervisor killed with SIGKILL (a crash, an
``docker stop`` past its grace period, a test) cannot. Each folder's name carries the pid of the
supervisor that made it, so the next server removes those whose supervisor is gone (and only
the current user's): /tmp does not fill up with one folder per crash.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

_NAME = re.compile(r"^modelport-(?P<kind>metrics|model-dir)-(?P<pid>\d+)-")


def make(kind: str) -> Path:
    """A fresh folder for this process: ``<tmp>/modelport-<kind>-<pid>-<random>``."""
    return Path(tempfile.mkdtemp(prefix=f"modelport-{kind}-{os.getpid()}-"))


def remove_stale(root: Path | None = None) -> list[Path]:
    """Remove the folders of servers that are gone (made by this user); returns them."""
    root = Path(tempfile.gettempdir()) if root is None else root
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    uid = os.getuid()
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None:
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != uid:
                continue
        except OSError:
            continue
        if _alive(int(match["pid"])):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
