"""Reading one tabular mini-batch in a worker: its parts (byte or row ranges of files) as one
pandas DataFrame, the way the dataset reads them, with partition columns last (as v1 did)."""

from __future__ import annotations

import io
from typing import Any

__all__ = ["read_frame"]


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(
            "a tabular input gives run() a pandas DataFrame, and pandas is not installed in the batch "
            "run's environment: add pandas to the environment's pip packages"
        ) from None
    return pandas


def read_frame(payload: dict[str, Any]) -> Any:
    pd = _pandas()
    reader = payload.get("reader") or {}
    fmt = payload["format"]
    frames = []
    for part in payload["parts"]:
        if fmt == "parquet":
            frame = _read_parquet(part)
        else:
            with open(part["file"], "rb") as f:
                head = f.read(part["header_end"]) if part.get("header_end") else b""
                f.seek(part["start"])
                data = f.read(part["end"] - part["start"])
            if fmt == "csv":
                frame = pd.read_csv(
                    io.BytesIO(head + data),
                    sep=reader.get("separator", ","),
                    header=0 if reader.get("header", True) else None,
                    encoding=reader.get("encoding", "utf-8"),
                    skip_blank_lines=True,
                    keep_default_na=not reader.get("empty_as_string", False),
                )
            else:
                frame = (
                    pd.read_json(io.BytesIO(data), lines=True, encoding=reader.get("encoding", "utf-8"))
                    if data.strip()
                    else pd.DataFrame()
                )
        if reader.get("include_path"):
            # The dataset's path, also when a Ray worker reads a copy of the file (.executors.ship).
            frame.insert(0, "Path", part.get("path", part["file"]))
        for key, value in (part.get("partition") or {}).items():
            # v1 puts a partitioned dataset's partition columns after the file's own columns.
            if key in frame.columns:
                frame = frame.drop(columns=[key])
            frame[key] = value
        frames.append(frame)
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


def _read_parquet(part: dict[str, Any]) -> Any:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(part["file"])
    meta = pf.metadata
    start, end = part["row_start"], part["row_end"]
    groups, first, row = [], None, 0
    for i in range(meta.num_row_groups):
        n = meta.row_group(i).num_rows
        if row + n > start and row < end:
            groups.append(i)
            first = row if first is None else first
        row += n
    frame = pf.read_row_groups(groups).to_pandas()
    offset = start - (first or 0)
    return frame.iloc[offset : offset + (end - start)].reset_index(drop=True)
