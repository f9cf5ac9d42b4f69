"""Reading the end of a service's text files (its log, its traces)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["json_lines", "tail"]


def tail(path: str | Path | None, num_lines: int = 50) -> str:
    """The last ``num_lines`` lines of a text file ("" when there is none)."""
    if not path or not Path(path).is_file():
        return ""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - max(num_lines, 1) * 400))
        lines = f.read().decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-num_lines:])


def json_lines(path: str | Path, num: int) -> list[dict[str, Any]]:
    """The last ``num`` JSON objects of a JSON-lines file (whole lines only), oldest first."""
    if not Path(path).is_file():
        return []
    out: list[dict[str, Any]] = []
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        chunk = 1 << 16
        data = b""
        while end > 0 and data.count(b"\n") <= num:
            start = max(0, end - chunk)
            f.seek(start)
            data = f.read(end - start) + data
            end = start
            chunk *= 2
    lines = data.split(b"\n")
    if end > 0:
        lines = lines[1:]  # the first may be the end of a line that began before what was read
    for line in lines[-num - 1 :]:
        if line.strip():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line being written now
    return out[-num:]
