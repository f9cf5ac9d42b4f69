"""An orjson-backed ``json.loads`` that returns exactly what the standard library returns.

A v1 scoring script parses its own body (``json.loads(raw_data)``); on the tutorial's 10,000-row
request that call is most of the request's time (see docs/performance.md). The scoring server's
workers replace ``json.loads`` with :func:`loads` (``fast_json_loads``, on by default; turn it off
with ``--no-fast-json-loads`` or ``"fast_json_loads": false``).

:func:`loads` gives the same value, or raises the same exception, as ``json.loads`` for every
input (``tests/server/test_fastjson.py`` checks that with hypothesis). orjson is used only where
it is known to agree; everything else goes to the standard library itself:

- keyword arguments (``object_hook``, ``parse_float``, ``cls``...) and argument types other than
  exactly ``str``, ``bytes`` and ``bytearray``;
- anything orjson refuses: ``NaN``/``Infinity``, numbers that overflow a double (``1e400``), lone
  surrogates, a BOM, non-UTF-8 bytes, invalid JSON (so the error raised is the standard one);
- integer literals of 19 digits or more, which orjson would turn into floats beyond 64 bits;
- nesting deep enough that the standard library could hit the recursion limit where orjson
  would not.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import orjson

from modelport.runtime.request import Body

__all__ = ["forget", "install", "installed", "loads", "remember", "uninstall"]

_std_loads = json.loads
_BIG_INT = b"0" * 19  # 19+ digits in a row: maybe an integer beyond 64 bits (orjson makes it a float)
# Digits become "0", brackets and braces "[" / "]", quotes and backslashes stay, all else ",".
_DIGITS = bytes.maketrans(b"0123456789{}", b"0000000000[]")
_DIGITS = bytes(c if chr(c) in '0[]"\\' else ord(",") for c in _DIGITS)
_NOT_SKELETON = bytes(c for c in range(256) if chr(c) not in '[]"')
_DEPTH_MARGIN = 50
_known: tuple[str, Body] | None = None  # a text whose UTF-8 bytes we already have (the body)


def loads(s: Any, *args: Any, **kwargs: Any) -> Any:
    """``json.loads(s, ...)``: the same result or exception, faster on large documents."""
    kind = type(s)
    if args or kwargs or not (kind is str or kind is bytes or kind is bytearray):
        return _std_loads(s, *args, **kwargs)
    try:
        value = orjson.loads(s)
    except orjson.JSONDecodeError:
        return _std_loads(s)
    if isinstance(value, dict | list) or kind is not str or len(s) > 18:
        known = _known
        if known is not None and s is known[0]:
            data = known[1]  # the request body run() got decoded: no need to encode it again
        else:
            data = s.encode("utf-8") if kind is str else bytes(s)
        if not _agrees(data, value):
            return _std_loads(s)
    return value


def _agrees(data: Body, value: Any) -> bool:
    """Whether orjson's ``value`` for ``data`` is certainly what ``json.loads`` gives."""
    mapped = data.translate(_DIGITS)
    if _BIG_INT in mapped:
        return False
    if not isinstance(value, dict | list):
        return True
    safe_depth = _safe_depth()
    if len(mapped) <= safe_depth or (len(mapped) < 1 << 16 and mapped.count(b"[") <= safe_depth):
        return True  # too few brackets to nest that deep
    return _max_depth(mapped) <= safe_depth


def _safe_depth() -> int:
    # The C scanner of json counts each nested container against the recursion limit, on top of
    # the Python frames already on the stack (3.11); later versions have a separate, larger limit.
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    return min(sys.getrecursionlimit(), 1000) - depth - _DEPTH_MARGIN


def _max_depth(mapped: Body) -> int:
    """Nesting depth of a valid JSON text mapped by ``_DIGITS`` (string contents ignored)."""
    if b"\\" in mapped:
        # In valid JSON a backslash only starts an escape inside a string: drop escaped
        # backslashes first, then escaped quotes, so every quote left opens or closes a string.
        mapped = mapped.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = mapped.translate(None, _NOT_SKELETON)
    outside = b"".join(skeleton.split(b'"')[::2])
    import numpy as np

    steps = np.where(np.frombuffer(outside, dtype=np.uint8) == ord("["), 1, -1).astype(np.int32)
    return int(steps.cumsum().max()) if len(steps) else 0


def remember(text: str, data: Body) -> None:
    """Note that ``data`` is ``text`` in UTF-8 (the server decoded a body into ``text``), so that
    :func:`loads` of that very object need not encode it again (61 MB: 24 ms). Until :func:`forget`."""
    global _known
    _known = (text, data)


def forget() -> None:
    """Drop what :func:`remember` noted."""
    global _known
    _known = None


def install() -> None:
    """Make ``json.loads`` this function in this process (scripts that call ``json.loads``)."""
    json.loads = loads


def uninstall() -> None:
    """Give ``json.loads`` back its standard function."""
    json.loads = _std_loads


def installed() -> bool:
    """Whether :func:`install` is in effect."""
    return json.loads is loads
