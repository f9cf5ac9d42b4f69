"""Cutting a batch run's inputs into mini-batches, deterministically.

- file inputs: ``mini_batch_size`` files per mini-batch, in the input's order;
- tabular inputs: about ``mini_batch_size`` bytes of each file per mini-batch, cut at record
  boundaries and never across files (CSV records may hold quoted newlines; JSON lines are lines;
  Parquet is cut by rows, using the file's metadata);
- with ``partition_keys``: one mini-batch per combination of the keys' values (all the files
  holding it), whatever ``mini_batch_size`` says.

Inputs are planned one after the other and never mixed in a mini-batch (v1: each input is
partitioned separately). The same spec over the same files gives the same plan; the plan is
stored in the run's journal, so a resumed run works through exactly the same mini-batches.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from modelport.errors import InvalidInputError
from modelport.jobs.batch.spec import BatchInput, BatchSpec

__all__ = ["MiniBatch", "csv_segments", "plan"]

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class MiniBatch:
    """One unit of work: ``payload`` is what the worker reads (see :mod:`.worker`); ``items`` the
    number of files or records it holds (for tabular inputs, counted when planned; the worker's
    count of what it read is the one that decides failures)."""

    index: int
    input: str
    items: int
    payload: dict[str, Any]

    def payload_json(self) -> str:
        return json.dumps(self.payload, sort_keys=True)


def plan(spec: BatchSpec) -> list[MiniBatch]:
    out: list[MiniBatch] = []
    for inp in spec.inputs:
        for items, payload in _plan_input(spec, inp):
            out.append(MiniBatch(len(out), inp.name, items, payload))
    return out


def _plan_input(spec: BatchSpec, inp: BatchInput) -> Iterator[tuple[int, dict[str, Any]]]:
    partitions = list(inp.partition_values) or [{} for _ in inp.files]
    base: dict[str, Any] = {"input": inp.name, "kind": inp.kind}
    if inp.kind == "tabular":
        base["format"] = inp.format
        base["reader"] = inp.reader
    if spec.partition_keys:
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, values in enumerate(partitions):
            groups.setdefault(tuple(str(values[k]) for k in spec.partition_keys), []).append(i)
        for key, members in groups.items():
            payload = {**base, "partition_key_value": dict(zip(spec.partition_keys, key, strict=True))}
            if inp.kind == "files":
                files = [inp.files[i] for i in members]
                yield len(files), {**payload, "files": files, "partitions": [partitions[i] for i in members]}
            else:
                parts = [p for i in members for p in _whole_file(inp, inp.files[i], partitions[i])]
                yield sum(p["rows"] for p in parts), {**payload, "parts": parts}
        return
    if inp.kind == "files":
        size = spec.mini_batch_size
        for start in range(0, len(inp.files), size):
            files = list(inp.files[start : start + size])
            payload = {**base, "files": files}
            if inp.partition_values:
                payload["partitions"] = partitions[start : start + size]
            yield len(files), payload
        return
    for path, values in zip(inp.files, partitions, strict=True):
        for part in _tabular_parts(inp, path, values, spec.mini_batch_size):
            yield part["rows"], {**base, "parts": [part]}


# -- tabular files ---------------------------------------------------------------------------------
def _whole_file(inp: BatchInput, path: str, values: dict[str, str]) -> list[dict[str, Any]]:
    return _tabular_parts(inp, path, values, None)


def _tabular_parts(
    inp: BatchInput, path: str, values: dict[str, str], target: int | None
) -> list[dict[str, Any]]:
    """The parts of one file: ``{"file", "start", "end", "rows", "header_end", "partition"}`` for
    text formats (byte ranges), ``{"file", "row_start", "row_end", "rows", "partition"}`` for
    Parquet. ``target`` None: the whole file as one part."""
    fmt = inp.format
    try:
        if fmt == "parquet":
            return [{**p, "file": path, "partition": values} for p in _parquet_parts(path, target)]
        header = fmt == "csv" and bool(inp.reader.get("header", True))
        quote = b'"' if fmt == "csv" else None
        header_end, segments = csv_segments(path, target, header=header, quote=quote)
    except OSError as exc:
        raise InvalidInputError(f"input '{inp.name}': cannot read {path}: {exc}") from None
    return [
        {"file": path, "start": s, "end": e, "rows": n, "header_end": header_end, "partition": values}
        for s, e, n in segments
    ]


def csv_segments(
    path: str, target: int | None, *, header: bool, quote: bytes | None = b'"'
) -> tuple[int, list[tuple[int, int, int]]]:
    """Cut a text file of records into byte ranges of at least ``target`` bytes (the last may be
    smaller), each ending at a record boundary: a newline outside quotes (``quote`` None: every
    newline). Returns the header's end offset (0 without a header) and ``(start, end, records)``
    per range. Blank lines count as records here; the worker counts what it actually read."""
    segments: list[tuple[int, int, int]] = []
    header_end = 0
    in_quote = False
    seg_start = 0
    records = 0
    offset = 0  # of the chunk in the file
    need_header = header
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            pos = 0
            fast = quote is None or (not in_quote and quote not in chunk)
            while pos < len(chunk):
                if fast and not need_header:
                    # No quotes in play: jump to the first newline past the target, counting lines.
                    goal = len(chunk) if target is None else max(pos, seg_start + target - offset - 1)
                    if goal >= len(chunk):
                        records += chunk.count(b"\n", pos)
                        pos = len(chunk)
                        break
                    nl = chunk.find(b"\n", goal)
                    if nl < 0:
                        records += chunk.count(b"\n", pos)
                        pos = len(chunk)
                        break
                    records += chunk.count(b"\n", pos, nl) + 1
                    end = offset + nl + 1
                    segments.append((seg_start, end, records))
                    seg_start, records, pos = end, 0, nl + 1
                    continue
                nl = chunk.find(b"\n", pos)
                if nl < 0:
                    if quote is not None and chunk.count(quote, pos) % 2:
                        in_quote = not in_quote
                    pos = len(chunk)
                    break
                if quote is not None and chunk.count(quote, pos, nl) % 2:
                    in_quote = not in_quote
                pos = nl + 1
                if in_quote:
                    continue
                end = offset + pos
                if need_header:
                    header_end = seg_start = end
                    need_header = False
                    fast = quote is None or quote not in chunk[pos:]
                    continue
                records += 1
                if target is not None and end - seg_start >= target:
                    segments.append((seg_start, end, records))
                    seg_start, records = end, 0
            offset += len(chunk)
    if need_header:  # a header and nothing after it, without a final newline
        header_end = seg_start = offset
    if offset > seg_start:
        # The last record may lack its newline: it still is one.
        last_nl = _ends_with_newline(path, offset)
        segments.append((seg_start, offset, records + (0 if last_nl else 1)))
    return header_end, segments


def _ends_with_newline(path: str, size: int) -> bool:
    with open(path, "rb") as f:
        f.seek(size - 1)
        return f.read(1) == b"\n"


def _parquet_parts(path: str, target: int | None) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InvalidInputError(
            f"cannot plan {path}: Parquet inputs need pyarrow in modelport's Python (pip install pyarrow)"
        ) from None
    meta = pq.ParquetFile(path).metadata
    rows = meta.num_rows
    if rows == 0:
        return []
    if target is None:
        return [{"row_start": 0, "row_end": rows, "rows": rows}]
    size = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) or 1
    per = max(1, int(rows * target / size))
    return [
        {"row_start": s, "row_end": min(rows, s + per), "rows": min(rows, s + per) - s}
        for s in range(0, rows, per)
    ]
