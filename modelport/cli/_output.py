"""What every command shares: printing (a table, key: value lines or ``--json``) and argument parsing
helpers (``key=value`` pairs, ``NAME[:VERSION]`` references)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from modelport.errors import InvalidInputError


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """``rows`` as aligned columns under upper-case headers; a missing value is an empty cell."""
    cells = [[str(c).upper() for c in columns]] + [
        ["" if r.get(c) is None else str(r.get(c)) for c in columns] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def emit(args: argparse.Namespace, data: Any, columns: Sequence[str] | None = None) -> None:
    """Print ``data`` as JSON (``--json``), a table (a list with ``columns``), or key: value lines."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str))
    elif isinstance(data, list):
        print(table(data, columns or (list(data[0]) if data else [])) if data else "(none)")
    elif isinstance(data, dict):
        width = max((len(k) for k in data), default=0)
        for k, v in data.items():
            text = json.dumps(v) if isinstance(v, dict | list) else v
            print(f"{k.ljust(width)}  {text}")
    else:
        print(data)


def pairs(values: list[str] | None, what: str) -> dict[str, str]:
    """``["a=1", "b=2"]`` as ``{"a": "1", "b": "2"}``; ``what`` names the flag in the error."""
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"{what} must look like key=value, got {item!r}")
        out[key] = value
    return out


def split_ref(ref: str) -> tuple[str, str | None]:
    """``"name:3"`` as ``("name", "3")``, ``"name"`` as ``("name", None)``."""
    name, _, version = ref.partition(":")
    return name, version or None


def model_version(ref: str) -> tuple[str, int | None]:
    """A model reference ``NAME`` or ``NAME:VERSION`` with an integer version."""
    name, version = split_ref(ref)
    if version is not None and not version.isdigit():
        raise InvalidInputError(f"invalid model reference {ref!r}: expected NAME or NAME:VERSION")
    return name, int(version) if version else None
