"""Collected values as CSV lines: what the writer thread does with them, never the request.

v1's shapes: a list of numbers is one row; a 1-D array is one row; a 2-D array or a list of
equal-length lists is one row per item; a DataFrame is its rows, its columns the header. Anything
else (a dict, nested objects, rows of mixed widths, a 3-D array) is not tabular: each value (or
each item of a 3-D array) is written as JSON in the first feature column, the other feature
columns left empty, so the file stays rectangular and the request never fails. A row whose width
is not the file's is written the same way.

Numbers go through orjson (the whole array at once: a row of 784 floats in a few microseconds of
C, where Python's csv module takes ~150); anything else through the csv module.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import orjson

__all__ = [
    "NOT_TABULAR",
    "csv_line",
    "encode",
    "encode_many",
    "estimate_bytes",
    "feature_width",
    "header_names",
    "suffix_bytes",
]

NOT_TABULAR = -1
"""What :func:`feature_width` says of a value that is not a table."""
_SCALARS = (int, float, str, bool, np.generic, type(None))


def csv_line(values: Iterable[Any]) -> bytes:
    """One CSV line (with its newline) of plain values."""
    return (",".join(_field(v) for v in values) + "\n").encode()


def _field(value: Any) -> str:
    """One CSV field as the csv module writes it (quoted only when it must be), ~10x faster for
    the few plain values of a row's correlation columns."""
    kind = type(value)
    if kind is str:
        text = value
    elif kind is int:
        return str(value)
    elif kind is float:
        return repr(value)  # nan, inf, -inf included: what pandas reads back as such
    else:
        value = _cell(value)
        if value is None:
            return ""
        if isinstance(value, bool | int | float):
            return str(value) if isinstance(value, bool | int) else repr(value)
        text = str(value)
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _cell(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # nan, inf, -inf: what pandas reads back as such
    if isinstance(value, _SCALARS):
        return value
    return _json(value)


def _json(value: Any) -> str:
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_dict"):  # a pandas Series or DataFrame inside a value
        return value.to_dict()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _is_frame(value: Any) -> bool:
    return type(value).__name__ == "DataFrame" and hasattr(value, "columns") and hasattr(value, "to_numpy")


def _list_rows(value: list[Any]) -> list[list[Any]] | None:
    """A list as rows: scalars are one row; equal-length lists of scalars are rows; else None."""
    if all(isinstance(v, _SCALARS) for v in value):
        return [value]
    if all(isinstance(v, list | tuple) for v in value) and value:
        width = len(value[0])
        if all(len(v) == width and all(isinstance(c, _SCALARS) for c in v) for v in value):
            return [list(v) for v in value]
    return None


def feature_width(value: Any) -> int:
    """How many feature columns ``value``'s rows have, or NOT_TABULAR."""
    if isinstance(value, np.ndarray):
        if value.ndim == 1:
            return len(value)
        if value.ndim == 2:
            return value.shape[1]
        return NOT_TABULAR
    if _is_frame(value):
        return len(value.columns)
    if isinstance(value, list | tuple):
        rows = _list_rows(list(value))
        return len(rows[0]) if rows else NOT_TABULAR
    return NOT_TABULAR


def header_names(value: Any, feature_names: Sequence[str] | None) -> list[str]:
    """The feature columns of a new file: the collector's ``feature_names``, else a DataFrame's
    columns, else ``0..n-1`` (the names pandas gives the columns of an array, so a training set
    saved with ``pd.DataFrame(X).to_csv(index=False)`` has the same), else ``data`` (JSON)."""
    if feature_names:
        return [str(n) for n in feature_names]
    if _is_frame(value):
        return [str(c) for c in value.columns]
    width = feature_width(value)
    if width == NOT_TABULAR or width == 0:
        return ["data"]
    return [str(i) for i in range(width)]


def estimate_bytes(value: Any) -> int:
    """A cheap estimate of the memory a buffered value holds (for the buffer's bound)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes) + 112
    if _is_frame(value):
        return int(value.shape[0] * value.shape[1] * 8) + 1024
    if isinstance(value, list | tuple):
        size = 64 + 8 * len(value)
        if value and isinstance(value[0], list | tuple):
            size += sum(64 + 32 * len(v) for v in value if isinstance(v, list | tuple))
        else:
            size += 24 * len(value)
        return size
    if isinstance(value, str | bytes):
        return 64 + len(value)
    return 256


def suffix_bytes(values: Sequence[Any]) -> bytes:
    """The correlation columns as the end of a CSV line: ``,v1,v2,...`` (empty for none)."""
    return b"," + csv_line(values)[:-1] if values else b""


def encode(value: Any, width: int, extra: Sequence[Any] = ()) -> tuple[bytes, int, int]:
    """``value`` as CSV lines of ``width`` feature columns, each followed by the ``extra`` values
    (the correlation columns): (bytes, rows, rows written as JSON)."""
    suffix = suffix_bytes(extra)
    if isinstance(value, np.ndarray) and value.ndim in (1, 2):
        array = value.reshape(1, -1) if value.ndim == 1 else value
        if array.shape[1] == width:
            fast = _numeric_lines(array, suffix)
            if fast is not None:
                return fast, array.shape[0], 0
        return _lines(array.tolist(), width, extra)
    if _is_frame(value):
        if value.shape[1] == width:
            numeric = all(dtype.kind in "biuf" for dtype in value.dtypes)
            if numeric:
                fast = _numeric_lines(value.to_numpy(), suffix)
                if fast is not None:
                    return fast, value.shape[0], 0
        return _lines([list(r) for r in value.itertuples(index=False, name=None)], width, extra)
    if isinstance(value, np.ndarray):  # 3-D and more: each item of the first axis as JSON
        return _json_lines([_json(v) for v in value], width, extra)
    if isinstance(value, list | tuple):
        rows = _list_rows(list(value))
        if rows is not None:
            return _lines(rows, width, extra)
    return _json_lines([_json(value)], width, extra)


def _numeric_lines(array: np.ndarray[Any, Any], suffix: bytes) -> bytes | None:
    """Numbers through orjson: ``[[1,2],[3,4]]`` becomes ``1,2<suffix>\\n3,4<suffix>\\n``."""
    kind = array.dtype.kind
    if kind == "b":
        array = array.astype(np.int8)
    elif kind == "f":
        if array.dtype.itemsize < 4:
            array = array.astype(np.float32)
        if not np.isfinite(array).all():
            return None  # orjson writes NaN and inf as null: the csv path keeps them
    elif kind not in "iu":
        return None
    if array.shape[0] == 0 or array.shape[1] == 0:
        return None
    try:
        body = orjson.dumps(np.ascontiguousarray(array), option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:  # a dtype orjson does not take (e.g. float128)
        return None
    end = suffix + b"\n"
    return body[2:-2].replace(b"],[", end) + end


def _lines(rows: list[list[Any]], width: int, extra: Sequence[Any]) -> tuple[bytes, int, int]:
    tail = "".join("," + _field(v) for v in extra) + "\n"
    out: list[str] = []
    misfits = 0
    for row in rows:
        if len(row) == width:
            out.append(",".join(_field(v) for v in row) + tail)
        else:
            misfits += 1
            out.append(_field(_json(row)) + "," * (max(width, 1) - 1) + tail)
    return "".join(out).encode(), len(rows), misfits


def _json_lines(cells: list[str], width: int, extra: Sequence[Any]) -> tuple[bytes, int, int]:
    tail = "".join("," + _field(v) for v in extra) + "\n"
    text = "".join(_field(cell) + "," * (max(width, 1) - 1) + tail for cell in cells)
    return text.encode(), len(cells), len(cells)


def encode_many(items: Sequence[tuple[Any, Sequence[Any]]], width: int) -> tuple[bytes, int, int]:
    """Several ``(value, extra)`` as :func:`encode` would, in order, the runs of numeric arrays
    of the file's width stacked and serialised by orjson at once (the tutorial's single-row
    requests: one orjson call per flush instead of one per request)."""
    chunks: list[bytes] = []
    rows_total = as_json = 0
    run: list[tuple[np.ndarray[Any, Any], Sequence[Any]]] = []

    def flush_run() -> None:
        nonlocal rows_total
        if not run:
            return
        data, n = _numeric_run(run)
        if data is None:  # not finite, or a dtype orjson does not take: one by one
            for array, extra in run:
                d, n1, _j = encode(array, width, extra)
                chunks.append(d)
                rows_total += n1
        else:
            chunks.append(data)
            rows_total += n
        run.clear()

    for value, extra in items:
        if isinstance(value, np.ndarray) and value.ndim in (1, 2) and value.dtype.kind in "biuf":
            array = value.reshape(1, -1) if value.ndim == 1 else value
            if array.shape[1] == width and array.shape[0] > 0:
                run.append((array, extra))
                continue
        flush_run()
        data, n, j = encode(value, width, extra)
        chunks.append(data)
        rows_total += n
        as_json += j
    flush_run()
    return b"".join(chunks), rows_total, as_json


def _numeric_run(run: list[tuple[np.ndarray[Any, Any], Sequence[Any]]]) -> tuple[bytes | None, int]:
    """Numeric rows, each through orjson on its own (slicing off the brackets costs less than
    replacing them in one large text), each followed by its item's correlation columns."""
    out: list[bytes] = []
    rows = 0
    for array, extra in run:
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            return None, 0
        end = suffix_bytes(extra) + b"\n"
        if array.shape[0] == 1:
            out.append(_row_text(array[0]) + end)
        else:
            body = _numeric_lines(array, b"")
            if body is None:
                return None, 0
            out.append(body.replace(b"\n", end))
        rows += array.shape[0]
    return b"".join(out), rows


def _row_text(row: np.ndarray[Any, Any]) -> bytes:
    if row.dtype.kind == "b":
        row = row.astype(np.int8)
    elif row.dtype.kind == "f" and row.dtype.itemsize < 4:
        row = row.astype(np.float32)
    return orjson.dumps(np.ascontiguousarray(row), option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]
