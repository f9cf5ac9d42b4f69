"""Time windows (v1's frequency: a day, a week or a month) and the target rows inside one.

A target is a time series when its rows carry ``$aml_dc_scoring_timestamp`` (collected data does)
or a partition date; a window is ``[start, end)``. Files of v1's modeldata layout whose day folder
(``.../yyyy/mm/dd/``) lies outside the window are not read at all.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import numpy as np

from modelport.errors import InvalidInputError
from modelport.monitoring.collection import layout
from modelport.monitoring.drift.table import Table, read_csv, read_dataset

__all__ = ["FREQUENCIES", "Window", "collected_rows", "dataset_rows", "windows"]

FREQUENCIES = ("Day", "Week", "Month")
_DAY_IN_PATH = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/[^/]*$")


class Window:
    """``[start, end)`` in UTC (naive datetimes)."""

    def __init__(self, start: datetime.datetime, end: datetime.datetime) -> None:
        self.start = start
        self.end = end

    def __repr__(self) -> str:
        return f"Window({self.start.isoformat()}, {self.end.isoformat()})"

    def keys(self) -> tuple[str, str]:
        return self.start.date().isoformat(), self.end.date().isoformat()

    def has_day(self, day: datetime.date) -> bool:
        return (
            self.start.date()
            <= day
            < (self.end - datetime.timedelta(microseconds=1)).date() + datetime.timedelta(days=1)
        )

    def mask(self, times: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        lo = np.datetime64(self.start, "us")
        hi = np.datetime64(self.end, "us")
        return (times >= lo) & (times < hi)


def as_datetime(value: Any, what: str) -> datetime.datetime:
    """A date, a datetime or an ISO string as a naive UTC datetime."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, datetime.date):
        return datetime.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return as_datetime(datetime.datetime.fromisoformat(value), what)
        except ValueError:
            pass
    raise InvalidInputError(f"{what} must be a datetime (or an ISO date like 2024-05-01), got {value!r}")


def step(start: datetime.datetime, frequency: str) -> datetime.datetime:
    if frequency == "Day":
        return start + datetime.timedelta(days=1)
    if frequency == "Week":
        return start + datetime.timedelta(weeks=1)
    month = start.month % 12 + 1
    year = start.year + (1 if start.month == 12 else 0)
    return start.replace(year=year, month=month, day=min(start.day, 28))


def windows(start: datetime.datetime, end: datetime.datetime, frequency: str) -> list[Window]:
    """The windows of ``frequency`` from ``start`` (a day's start) until ``end`` (inclusive)."""
    first = datetime.datetime(start.year, start.month, start.day)
    out = []
    current = first
    while current <= end:
        nxt = step(current, frequency)
        out.append(Window(current, nxt))
        current = nxt
        if len(out) > 10_000:
            raise InvalidInputError("a backfill covers at most 10,000 windows")
    return out


def _day_of(path: str) -> datetime.date | None:
    m = _DAY_IN_PATH.search(path.replace("\\", "/"))
    if m is None:
        return None
    try:
        return datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def dataset_rows(dataset: Any, span: Window | None) -> Table:
    """The dataset's rows in ``span`` (all of them when None, or when it has no times)."""
    definition = getattr(dataset, "_definition", None) or {}
    read = definition.get("read") or {}
    if span is not None and read.get("format") == "delimited" and not definition.get("ops"):
        files = [(f, v) for f, v in dataset._partitioned() if not f.is_remote]
        days = [_day_of(f.source) for f, _ in files]
        if files and all(d is not None for d in days):
            tables = []
            for (f, values), day in zip(files, days, strict=True):
                if day is not None and not span.has_day(day):
                    continue
                table = read_csv(Path(f.source), read.get("separator", ","))
                for key, value in values.items():
                    table.other[key] = np.full(table.rows, value, dtype=object)
                tables.append(table)
            return _in_window(Table.concat(tables), span)
    return _in_window(read_dataset(dataset), span)


def _in_window(table: Table, span: Window | None) -> Table:
    if span is None or table.times is None:
        return table
    return table.select(span.mask(table.times))


def collected_rows(
    service_folder: Path, model: str | None, version: str | None, span: Window | None
) -> Table:
    """A service's collected inputs (of one model and version, if given) in ``span``."""
    tables = []
    for f in layout.files(service_folder, "inputs"):
        if model is not None and f.model != model:
            continue
        if version is not None and f.version != str(version):
            continue
        if span is not None and not span.has_day(f.day):
            continue
        tables.append(read_csv(f.path))
    return _in_window(Table.concat(tables), span)
