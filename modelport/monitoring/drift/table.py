"""A dataset's rows as drift needs them: numeric features as one float32 matrix, the others as
object arrays, and each row's time when the dataset has one.

Reading is most of a drift run's cost: 100,000 collected rows of 784 pixels are ~500 MB of CSV,
which pandas' parser takes ~13 s to read on this machine class. CSV files whose numeric columns
come first (collected data: the features, then v1's ``$aml_*`` columns) are read with simdjson
instead (a core dependency, already used for request bodies): the numeric part of each line
becomes a JSON array and simdjson parses a few MB of them at once straight into a buffer of
doubles, ~3x faster. Any file that does not fit (quoted or empty numeric cells, NaN, other column
orders) is read by pandas, so the fast path changes speed, never results.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from modelport.errors import InvalidInputError

__all__ = ["TIMESTAMP_COLUMN", "Table", "is_metadata", "read_csv", "read_dataset"]

log = logging.getLogger("modelport.monitoring")

TIMESTAMP_COLUMN = "$aml_dc_scoring_timestamp"
"""The column that makes collected data a time series."""
_CHUNK = 4 << 20
_SAMPLE_LINES = 200


def is_metadata(name: str) -> bool:
    """Columns that are never features: v1's correlation columns (``$aml_...``) and ``Path``."""
    return name.startswith("$aml_") or name == "Path"


@dataclass
class Table:
    """Rows of a dataset: ``numeric`` (rows x len(numeric_names), float32, NaN for missing),
    ``other`` (one object array per column), ``times`` (datetime64[us] per row, or None)."""

    numeric_names: list[str]
    numeric: np.ndarray[Any, Any]
    other: dict[str, np.ndarray[Any, Any]] = field(default_factory=dict)
    times: np.ndarray[Any, Any] | None = None

    @property
    def rows(self) -> int:
        if self.numeric_names:
            return int(self.numeric.shape[0])
        for column in self.other.values():
            return len(column)
        return 0 if self.times is None else len(self.times)

    @property
    def columns(self) -> list[str]:
        return [*self.numeric_names, *self.other]

    def select(self, mask: np.ndarray[Any, Any]) -> Table:
        """The rows where ``mask`` is True."""
        return Table(
            list(self.numeric_names),
            self.numeric[mask],
            {k: v[mask] for k, v in self.other.items()},
            None if self.times is None else self.times[mask],
        )

    def keep(self, names: list[str]) -> Table:
        """Only the columns ``names`` (in the table's order)."""
        wanted = set(names)
        index = [i for i, n in enumerate(self.numeric_names) if n in wanted]
        return Table(
            [self.numeric_names[i] for i in index],
            self.numeric[:, index] if index != list(range(len(self.numeric_names))) else self.numeric,
            {k: v for k, v in self.other.items() if k in wanted},
            self.times,
        )

    @classmethod
    def concat(cls, tables: list[Table]) -> Table:
        if not tables:
            return cls([], np.empty((0, 0), dtype=np.float32))
        if len(tables) == 1:
            return tables[0]
        first = tables[0]
        for t in tables[1:]:
            if t.numeric_names != first.numeric_names or list(t.other) != list(first.other):
                return cls.from_frame(_pd().concat([t.to_frame() for t in tables], ignore_index=True))
        times = None
        if all(t.times is not None for t in tables):
            times = np.concatenate([t.times for t in tables if t.times is not None])
        return cls(
            list(first.numeric_names),
            np.concatenate([t.numeric for t in tables]),
            {k: np.concatenate([t.other[k] for t in tables]) for k in first.other},
            times,
        )

    @classmethod
    def from_frame(cls, frame: Any) -> Table:
        """A pandas DataFrame as a table (the time from ``$aml_dc_scoring_timestamp`` if present)."""
        pd = _pd()
        times = None
        if TIMESTAMP_COLUMN in frame.columns:
            times = _times(frame[TIMESTAMP_COLUMN].astype(str).to_numpy())
        names = [str(c) for c in frame.columns]
        numeric_names, numeric_cols, other = [], [], {}
        for name, column in zip(names, frame.columns, strict=True):
            if is_metadata(name):
                continue
            series = frame[column]
            if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
                other[name] = series.astype(object).to_numpy()
            else:
                numeric_names.append(name)
                numeric_cols.append(series.to_numpy(dtype=np.float32, na_value=np.nan))
        matrix = (
            np.column_stack(numeric_cols) if numeric_cols else np.empty((len(frame), 0), dtype=np.float32)
        )
        return cls(numeric_names, matrix, other, times)

    def to_frame(self) -> Any:
        pd = _pd()
        frame = pd.DataFrame(self.numeric, columns=self.numeric_names)
        for name, column in self.other.items():
            frame[name] = column
        if self.times is not None:
            frame[TIMESTAMP_COLUMN] = self.times
        return frame


def _pd() -> Any:
    try:
        import pandas as pd
    except ImportError:
        raise InvalidInputError(
            "drift needs pandas to read this dataset: pip install 'modelport[monitoring]'"
        ) from None
    return pd


def _times(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[us]")
    for i, v in enumerate(values):
        try:
            out[i] = np.datetime64(str(v).rstrip("Z")[:26], "us")
        except ValueError:
            continue
    return out


def read_csv(path: Path, separator: str = ",") -> Table:
    """One CSV file (with a header) as a table: the fast path when it fits, else pandas."""
    if separator == ",":
        try:
            fast = _fast_csv(path)
        except (OSError, ValueError, RuntimeError, IndexError, TypeError) as exc:
            log.debug("drift: %s read by pandas (%s)", path, exc)
            fast = None
        if fast is not None:
            return fast
    pd = _pd()
    try:
        frame = pd.read_csv(path, sep=separator)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {path} as CSV: {exc}") from None
    return Table.from_frame(frame)


def _fast_csv(path: Path) -> Table | None:
    """The simdjson path (module docstring); None when the file does not fit it."""
    import simdjson

    data = path.read_bytes()
    end = data.find(b"\n")
    if end < 0:
        return None
    header = next(csv.reader([data[:end].decode("utf-8").rstrip("\r")]))
    body_start = end + 1
    if body_start >= len(data):
        return None
    sample_end = body_start
    for _ in range(_SAMPLE_LINES):
        nxt = data.find(b"\n", sample_end)
        if nxt < 0:
            sample_end = len(data)
            break
        sample_end = nxt + 1
    sample = _pd().read_csv(io.BytesIO(data[:sample_end]))
    kinds = ["f" if sample[c].dtype.kind in "iuf" else "o" for c in sample.columns]
    k = kinds.index("o") if "o" in kinds else len(kinds)
    # The collector's own columns after the features mix text and numbers ($aml_dc_boundary,
    # $aml_model_version): they are never features, so they are taken as text here.
    if len(kinds) != len(header):
        return None
    if k == 0 or any(
        kind == "f" and not is_metadata(name) for name, kind in zip(header[k:], kinds[k:], strict=True)
    ):
        return None  # no numeric prefix, or features that are numbers after text: pandas reads it
    tail = len(kinds) - k
    if tail and b'"' in data[body_start:sample_end]:
        return None  # quoted text cells could hold commas
    body = data[body_start:]
    del data
    if body.endswith(b"\n"):
        body = body[:-1]
    if b"\r" in body[:sample_end]:
        body = body.replace(b"\r\n", b"\n")
    parser = simdjson.Parser()
    parts: list[np.ndarray[Any, Any]] = []
    tails: list[list[bytes]] = []
    pos = 0
    while pos < len(body):
        stop = body.find(b"\n", min(pos + _CHUNK, len(body)))
        stop = len(body) if stop < 0 else stop
        chunk = body[pos:stop]
        pos = stop + 1
        if tail:
            lines = chunk.split(b"\n")
            split = [line.rsplit(b",", tail) for line in lines]
            if any(len(s) != tail + 1 for s in split):
                return None
            heads = [s[0] for s in split]
            tails.extend(s[1:] for s in split)
            text = b"[[" + b"],[".join(heads) + b"]]"
        else:
            text = b"[[" + chunk.replace(b"\n", b"],[") + b"]]"
        doc: Any = parser.parse(text)
        rows = len(doc)
        flat = np.frombuffer(doc.as_buffer(of_type="d"), dtype=np.float64)
        del doc
        if flat.size != rows * k:
            return None  # ragged or empty cells
        parts.append(flat.reshape(rows, k).astype(np.float32))
    numeric = np.concatenate(parts) if parts else np.empty((0, k), dtype=np.float32)
    names = header[:k]
    other: dict[str, np.ndarray[Any, Any]] = {}
    times = None
    if tail:
        columns = list(zip(*tails, strict=True)) if tails else [() for _ in range(tail)]
        for name, values in zip(header[k:], columns, strict=True):
            if name == TIMESTAMP_COLUMN:
                times = np.array([v.decode() for v in values], dtype="datetime64[us]")
            if is_metadata(name):
                continue
            other[name] = np.array([v.decode() for v in values], dtype=object)
    keep = [i for i, n in enumerate(names) if not is_metadata(n)]
    if len(keep) != len(names):
        numeric = numeric[:, keep]
        names = [names[i] for i in keep]
    return Table(names, numeric, other, times)


def read_dataset(dataset: Any) -> Table:
    """A tabular dataset's rows. A delimited dataset without row operations is read file by file
    (the fast path); any other through its ``to_pandas_dataframe()``."""
    definition = getattr(dataset, "_definition", None) or {}
    read = definition.get("read") or {}
    if read.get("format") == "delimited" and not definition.get("ops") and hasattr(dataset, "_partitioned"):
        tables = []
        for f, values in dataset._partitioned():
            if f.is_remote:
                break
            table = read_csv(Path(f.source), read.get("separator", ","))
            for key, value in values.items():  # partition columns, as the dataset gives them
                table.other[key] = np.full(table.rows, value, dtype=object)
            tables.append(table)
        else:
            return Table.concat(tables)
    if not hasattr(dataset, "to_pandas_dataframe"):
        raise InvalidInputError(
            f"drift compares tabular datasets (Dataset.Tabular...), got {type(dataset).__name__}"
        )
    return Table.from_frame(dataset.to_pandas_dataframe())


def columns_of(dataset: Any) -> list[str]:
    """A tabular dataset's feature columns, from its first file's header when it can (cheap)."""
    definition = getattr(dataset, "_definition", None) or {}
    read = definition.get("read") or {}
    if read.get("format") == "delimited" and not definition.get("ops") and hasattr(dataset, "_partitioned"):
        for f, values in dataset._partitioned():
            if f.is_remote:
                break
            with open(f.source, newline="", encoding=read.get("encoding", "utf-8")) as handle:
                line = handle.readline()
            names = next(csv.reader([line], delimiter=read.get("separator", ","))) if line else []
            return [n for n in [*names, *values] if not is_metadata(n)]
    frame = dataset.take(1).to_pandas_dataframe() if hasattr(dataset, "take") else None
    if frame is None:
        raise InvalidInputError(
            f"drift compares tabular datasets (Dataset.Tabular...), got {type(dataset).__name__}"
        )
    return [str(c) for c in frame.columns if not is_metadata(str(c))]
