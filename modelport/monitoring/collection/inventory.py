"""What a service has collected: rows and bytes per day and designation, read from its files.

Rows are counted as lines (less the header); a file's count is kept while its size and time do
not change, so looking again (the studio polls) reads only the files still being written.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from modelport.monitoring.collection import layout

__all__ = ["DayCount", "daily_counts"]

_cache: dict[Path, tuple[int, int, int]] = {}
_lock = threading.Lock()
_BLOCK = 1 << 20


@dataclass(frozen=True, slots=True)
class DayCount:
    day: str
    model: str
    version: str
    designation: str
    rows: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rows(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return 0, 0
    with _lock:
        known = _cache.get(path)
    if known is not None and known[0] == st.st_size and known[1] == st.st_mtime_ns:
        return known[2], st.st_size
    lines = 0
    try:
        with open(path, "rb") as f:
            while block := f.read(_BLOCK):
                lines += block.count(b"\n")
    except OSError:
        return 0, 0
    rows = max(lines - 1, 0)  # the header
    with _lock:
        _cache[path] = (st.st_size, st.st_mtime_ns, rows)
    return rows, st.st_size


def daily_counts(service_folder: Path) -> list[DayCount]:
    """Rows and bytes of each day's file, oldest first."""
    out = []
    for f in layout.files(service_folder):
        rows, size = _rows(f.path)
        out.append(DayCount(f.day.isoformat(), f.model, f.version, f.designation, rows, size))
    return out
