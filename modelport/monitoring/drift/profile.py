"""What drift keeps of a baseline: per feature, its quantile function, moments and a sample.

A baseline (a model's training data: 60,000 rows of 784 pixels for the tutorial) is read and
summarised once per detector, then kept beside it (``baseline-<fingerprint>.npz``): later runs
read only the target. Per numeric feature: 1,001 quantiles (for the Wasserstein distance and the
PSI bins), count, missing values, mean, standard deviation, min and max; per categorical one:
its value counts. A random sample of up to ``SAMPLE_ROWS`` rows is kept for the two-sample tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelport.monitoring.drift.table import Table

__all__ = ["QUANTILES", "SAMPLE_ROWS", "Profile", "profile"]

QUANTILES = np.linspace(0.0, 1.0, 1001)
SAMPLE_ROWS = 5000
MAX_CATEGORIES = 1000
_SEED = 20240229


@dataclass
class Profile:
    """A baseline's summary (see the module docstring)."""

    rows: int
    numeric_names: list[str]
    quantiles: np.ndarray[Any, Any]  # (len(QUANTILES), features)
    count: np.ndarray[Any, Any]
    nulls: np.ndarray[Any, Any]
    mean: np.ndarray[Any, Any]
    std: np.ndarray[Any, Any]
    minimum: np.ndarray[Any, Any]
    maximum: np.ndarray[Any, Any]
    sample: np.ndarray[Any, Any]  # (<= SAMPLE_ROWS, features), NaN kept
    categories: dict[str, dict[str, int]]

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp.npz")
        names = np.array(self.numeric_names, dtype=object)
        cats = np.array([_json(self.categories)], dtype=object)
        np.savez(
            tmp,
            rows=np.array(self.rows),
            numeric_names=names,
            quantiles=self.quantiles,
            count=self.count,
            nulls=self.nulls,
            mean=self.mean,
            std=self.std,
            minimum=self.minimum,
            maximum=self.maximum,
            sample=self.sample,
            categories=cats,
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Profile:
        import json

        with np.load(path, allow_pickle=True) as z:
            return cls(
                rows=int(z["rows"]),
                numeric_names=[str(n) for n in z["numeric_names"]],
                quantiles=z["quantiles"],
                count=z["count"],
                nulls=z["nulls"],
                mean=z["mean"],
                std=z["std"],
                minimum=z["minimum"],
                maximum=z["maximum"],
                sample=z["sample"],
                categories=json.loads(str(z["categories"][0])),
            )


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def sample_rows(rows: int, limit: int = SAMPLE_ROWS) -> np.ndarray[Any, Any]:
    """The rows kept as a sample: all of them, or ``limit`` chosen at random (fixed seed)."""
    if rows <= limit:
        return np.arange(rows)
    return np.sort(np.random.default_rng(_SEED).choice(rows, limit, replace=False))


def value_counts(values: np.ndarray[Any, Any]) -> dict[str, int]:
    """How often each value occurs (missing values left out), the most frequent MAX_CATEGORIES."""
    present = [str(v) for v in values if v is not None and not (isinstance(v, float) and v != v)]
    if not present:
        return {}
    names, counts = np.unique(np.array(present, dtype=object), return_counts=True)
    order = np.argsort(-counts, kind="stable")[:MAX_CATEGORIES]
    return {str(names[i]): int(counts[i]) for i in order}


def _quantiles(x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """QUANTILES of each column of ``x`` (no NaN), as np.quantile's default (linear) gives them:
    each column sorted once, contiguous (np.quantile on the matrix took 3x longer)."""
    ordered = np.sort(np.ascontiguousarray(x.T), axis=1)
    position = QUANTILES * (x.shape[0] - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, x.shape[0] - 1)
    frac = position - low
    a = ordered[:, low].astype(np.float64)
    b = ordered[:, high].astype(np.float64)
    return (a + (b - a) * frac).T


def profile(table: Table) -> Profile:
    """Summarise ``table`` (the baseline)."""
    x = table.numeric
    features = x.shape[1]
    if table.rows and features:
        nan = np.isnan(x)
        has_nan = bool(nan.any())
        count = (~nan).sum(axis=0) if has_nan else np.full(features, table.rows)
        if has_nan:
            quantiles = np.nanquantile(x, QUANTILES, axis=0)
            mean, std = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
            minimum, maximum = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
        else:
            quantiles = _quantiles(x)
            mean, std = x.mean(axis=0, dtype=np.float64), x.std(axis=0, dtype=np.float64)
            minimum, maximum = x.min(axis=0), x.max(axis=0)
    else:
        count = np.zeros(features)
        quantiles = np.full((len(QUANTILES), features), np.nan)
        mean = std = minimum = maximum = np.full(features, np.nan)
    keep = sample_rows(table.rows)
    return Profile(
        rows=table.rows,
        numeric_names=list(table.numeric_names),
        quantiles=np.asarray(quantiles, dtype=np.float64),
        count=np.asarray(count, dtype=np.int64),
        nulls=table.rows - np.asarray(count, dtype=np.int64),
        mean=np.asarray(mean, dtype=np.float64),
        std=np.asarray(std, dtype=np.float64),
        minimum=np.asarray(minimum, dtype=np.float64),
        maximum=np.asarray(maximum, dtype=np.float64),
        sample=x[keep] if features else np.empty((len(keep), 0), dtype=np.float32),
        categories={name: value_counts(values) for name, values in table.other.items()},
    )
