"""A JSON body parsed into an array input (:class:`~modelport.runtime.arrays.ArraySpec`).

``{"<name>": [[...], ...]}`` or the bare array is parsed with simdjson straight into a flat buffer
of doubles or 64-bit integers, the nesting checked to be rectangular, then shaped; anything
simdjson cannot take (NaN, strings, 1e400...) goes through orjson/json and ``np.asarray``, with
the same checks. Either way the array is then checked against the declaration
(:meth:`ArraySpec.conform`).
"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Literal

import numpy as np

from modelport.errors import InvalidInputError
from modelport.runtime.arrays import ArraySpec
from modelport.runtime.request import Body

__all__ = ["fast_json_array", "parse_json_array"]

_SMALL_BODY = 1 << 20  # a parser is kept for bodies up to this size; larger ones get their own


class _Parsers:
    """One reusable simdjson parser per thread for small bodies (it keeps its buffers)."""

    def __init__(self) -> None:
        import threading

        self._local = threading.local()

    def get(self, size: int) -> Any:
        import simdjson

        if size > _SMALL_BODY:
            return simdjson.Parser()  # its buffers are freed with it
        parser = getattr(self._local, "parser", None)
        if parser is None:
            parser = self._local.parser = simdjson.Parser()
        return parser


_parsers = _Parsers()


def parse_json_array(body: Body, spec: ArraySpec) -> np.ndarray[Any, Any]:
    """The array in a JSON body (``{"<name>": array}`` or a bare array), checked against ``spec``."""
    array = _simdjson_array(body, spec)
    if array is None:
        array = _generic_array(body, spec)
    return spec.conform(array)


def fast_json_array(body: Body, spec: ArraySpec, bare: bool = True) -> np.ndarray[Any, Any] | None:
    """The fast path alone: the checked array, or None when the body needs the generic parser.
    ``bare=False``: only ``{"<name>": array}`` (inference-schema scripts take a JSON object)."""
    array = _simdjson_array(body, spec, bare)
    return None if array is None else spec.conform(array)


def _pattern(shape: tuple[int, ...]) -> bytes:
    """The brackets and commas of a rectangular JSON array of ``shape``, without anything else."""
    if len(shape) == 1:
        return b"[" + b"," * (shape[0] - 1) + b"]" if shape[0] else b"[]"
    inner = _pattern(shape[1:])
    return b"[" + b",".join([inner] * shape[0]) + b"]" if shape[0] else b"[]"


def _pattern_size(shape: tuple[int, ...]) -> int:
    """``len(_pattern(shape))``, computed without building it."""
    if not shape[0]:
        return 2
    inner = shape[0] - 1 if len(shape) == 1 else _pattern_size(shape[1:]) * shape[0] + shape[0] - 1
    return inner + 2


def _is_pattern(skeleton: Body, shape: tuple[int, ...]) -> bool:
    # Sizes first: the shape is read from the body, and a pattern built for a shape that does not
    # fit it could be huge (a 200 KB body nested 100,000 deep would ask for 10 GB).
    return len(skeleton) == _pattern_size(shape) and skeleton == _pattern(shape)


_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b"[],")


_WS = b" \t\n\r"
_CHUNK = 512 * 1024  # bytes of rows parsed at a time: simdjson's buffers stay small and warm


def _simdjson_array(body: Body, spec: ArraySpec, bare: bool = True) -> np.ndarray[Any, Any] | None:
    """The fast path; None when the body is not a plain rectangular numeric array (the generic
    path then parses it, and says exactly what is wrong)."""
    kind = spec.dtype.kind
    if kind not in "fiu":
        return None
    try:
        import simdjson  # noqa: F401
    except ImportError:  # pragma: no cover - a dependency; the generic path still works
        return None
    if spec.shape is None or len(spec.shape) == 2:
        rows = _rows_array(body, spec.name, "d" if kind == "f" else "i", bare)
        if rows is not None or spec.shape is not None:
            return rows
    return _whole_array(body, spec, kind, bare)


def _rows_array(
    body: Body, name: str, of_type: Literal["d", "i"], bare: bool = True
) -> np.ndarray[Any, Any] | None:
    """A 2-D array (``{"<name>": [[...], ...]}`` or ``[[...], ...]``), parsed a few hundred KB of
    rows at a time. Everything in the body is accounted for: the text around the rows by a regular
    expression; each chunk of rows by simdjson (valid JSON, nothing but numbers in them); every row
    has the first row's length; the gaps between chunks are single commas; and there are exactly as
    many ``]`` as rows (so no row holds a nested array, which ``as_buffer`` would flatten).
    The ``]`` count is one pass over the body (61 MB: 14 ms, where comparing every bracket and
    comma with the rectangular pattern took 34 ms)."""
    match = _head(name).match(body)
    if match is None or (not bare and match.group(1) is None):
        return None
    first = match.end() - 1  # the first row's "["
    end = len(body)
    closers = [b"]"] + ([b"}"] if match.group(1) else [])
    for closer in reversed(closers):
        end = _skip_back(body, end)
        if end < 1 or body[end - 1 : end] != closer:
            return None
        end -= 1
    last = _skip_back(body, end) - 1  # the last row's "]"
    if last < first or body[last : last + 1] != b"]":
        return None
    n = body.count(b"]", first, last + 1)  # the rows, if none holds an array
    dtype = np.float64 if of_type == "d" else np.int64
    out: np.ndarray[Any, Any] | None = None
    m = 0
    parser = _parsers.get(0)
    start, row = first, 0
    try:
        while True:
            stop = body.find(b"]", min(start + _CHUNK, last))
            doc = parser.parse(b"[" + body[start : stop + 1] + b"]")
            count = len(doc)
            flat = np.frombuffer(doc.as_buffer(of_type=of_type), dtype=dtype)
            if out is None:
                m = len(doc[0])
                if m < 1:
                    return None
                out = np.empty((n, m), dtype=dtype)
            ragged = any(len(r) != m for r in doc)  # (a number instead of a row: TypeError)
            del doc
            if ragged or row + count > n or len(flat) != count * m:
                return None
            out[row : row + count] = flat.reshape(count, m)
            row += count
            if stop >= last:
                break
            start = body.find(b"[", stop)
            if start < 0 or body[stop + 1 : start].strip(_WS) != b",":
                return None
    except (ValueError, TypeError, RuntimeError, IndexError):  # not numbers, NaN, 1e400, > 64-bit ints...
        return None  # (simdjson raises RuntimeError for some: BIGINT_ERROR)
    return out if row == n else None  # more "]" than rows: a row held an array


@functools.lru_cache(maxsize=16)
def _head(name: str) -> re.Pattern[bytes]:
    """What may come before the first row: ``{"<name>":`` (optional) and the two opening brackets."""
    ws = rb"[ \t\n\r]*"
    return re.compile(
        ws + rb"(\{" + ws + b'"' + re.escape(name.encode()) + b'"' + ws + rb":)?" + ws + rb"\[" + ws + rb"\["
    )


def _skip_back(body: Body, end: int) -> int:
    """``end`` moved back over JSON whitespace (at most 64 bytes of it: else -1)."""
    for _ in range(64):
        if end > 0 and body[end - 1] in _WS:
            end -= 1
        else:
            return end
    return -1


def _whole_array(body: Body, spec: ArraySpec, kind: str, bare: bool = True) -> np.ndarray[Any, Any] | None:
    """Any other number of dimensions: the whole document at once."""
    import simdjson

    parser = _parsers.get(len(body))
    try:
        doc = parser.parse(body)
        if isinstance(doc, simdjson.Object):
            keys = list(doc.keys())
            if keys != [spec.name]:
                return None
            value = doc[spec.name]
        elif bare:
            value = doc
        else:
            return None
        if not isinstance(value, simdjson.Array):
            return None
        shape: list[int] = []
        level: Any = value
        while isinstance(level, simdjson.Array):
            shape.append(len(level))
            if not shape[-1]:
                break
            level = level[0]
        if spec.shape is not None and len(shape) != len(spec.shape):
            return None
        # Nothing but numbers in rectangular nesting: the brackets and commas of the body (there
        # is no other string than the one key) must be exactly those of an array of this shape.
        if not _is_pattern(body.translate(None, _NOT_STRUCTURE), tuple(shape)):
            return None
        of_type: Literal["d", "i"] = "d" if kind == "f" else "i"
        flat = value.as_buffer(of_type=of_type)
        del value, level, doc
    except (ValueError, TypeError, KeyError, IndexError, RuntimeError):  # not numbers, NaN, 1e400,
        return None  # > 64-bit ints (simdjson: RuntimeError BIGINT_ERROR)...
    array = np.frombuffer(flat, dtype=np.float64 if of_type == "d" else np.int64)
    if array.size != math.prod(shape):
        return None  # an empty array where a number was due: "[]" and "[1]" have the same brackets
    return array.reshape(shape)


def _generic_array(body: Body, spec: ArraySpec) -> np.ndarray[Any, Any]:
    from modelport.runtime.bodies import parse_json

    payload = parse_json(body)
    if isinstance(payload, dict):
        if spec.name not in payload:
            raise InvalidInputError(f"missing parameter '{spec.name}': send {{\"{spec.name}\": <array>}}")
        unknown = sorted(k for k in payload if k != spec.name)
        if unknown:
            raise InvalidInputError(
                f"unexpected parameter {', '.join(repr(k) for k in unknown)}: run() takes only '{spec.name}'"
            )
        payload = payload[spec.name]
    if not isinstance(payload, list):
        raise InvalidInputError(f"'{spec.name}' must be a {spec.describe()} (a JSON array)")
    try:
        array = np.asarray(payload)
    except ValueError as exc:  # ragged nesting
        raise InvalidInputError(f"'{spec.name}' must be a {spec.describe()}: {_ragged(exc)}") from exc
    if array.dtype.kind not in "biuf":
        raise InvalidInputError(
            f"'{spec.name}' must be a {spec.describe()}: its values are not all numbers "
            f"(or its rows have different lengths)"
        )
    return array


def _ragged(exc: ValueError) -> str:
    return "its rows have different lengths" if "inhomogeneous" in str(exc) else str(exc)
