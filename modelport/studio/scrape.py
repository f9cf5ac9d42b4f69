"""The Metrics tab's data: each watched service's Prometheus text, scraped every few seconds and
kept in memory for the last minutes, turned into request rate, latency percentiles and errors.

The names are the scoring server's (``modelport.server.metrics``): ``modelport_requests_total``
by route and status, and the ``modelport_request_duration_seconds`` histogram by route. The
studio's own scrapes of ``/metrics`` and the engine's readiness probes (``/health/...``) are left
out of every figure.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["History", "Sample", "histogram_quantile", "parse", "series"]

KEEP_SECONDS = 600.0
"""How much history is kept per service (the charts show the last ten minutes)."""
WATCH_SECONDS = 600.0
"""A service is scraped for this long after someone last looked at its metrics."""
IGNORED_ROUTES = frozenset({"/metrics"})


@dataclass
class Sample:
    """One scrape: cumulative counts since the service started."""

    time: float
    requests: float = 0.0
    errors: float = 0.0
    """Answers with status >= 400."""
    buckets: dict[float, float] = field(default_factory=dict)
    """Latency histogram: upper bound (seconds) -> cumulative count, summed over routes."""
    in_flight: float = 0.0


def parse(text: str, at: float) -> Sample:
    """A sample from Prometheus text exposition."""
    sample = Sample(time=at)
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            route = s.labels.get("route")
            if route in IGNORED_ROUTES or (route or "").startswith("/health"):
                continue
            if s.name == "modelport_requests_total":
                sample.requests += s.value
                if int(s.labels.get("status", "0") or 0) >= 400:
                    sample.errors += s.value
            elif s.name == "modelport_request_duration_seconds_bucket":
                bound = float(s.labels["le"])
                sample.buckets[bound] = sample.buckets.get(bound, 0.0) + s.value
            elif s.name == "modelport_requests_in_flight":
                sample.in_flight += s.value
    return sample


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile``: linear interpolation inside the bucket holding the
    q-th observation; None with no observations. ``buckets`` maps upper bounds to cumulative counts."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    total = buckets[bounds[-1]]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # beyond the largest finite bucket: its bound is all we know
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return bounds[-1]


def series(samples: list[Sample]) -> list[dict[str, Any]]:
    """One point per pair of consecutive samples: time, requests/s, errors/s, p50/p90/p99 (ms)."""
    out: list[dict[str, Any]] = []
    for before, after in itertools.pairwise(samples):
        dt = after.time - before.time
        if dt <= 0:
            continue
        if after.requests < before.requests:  # the service restarted: counts began again
            continue
        delta = {b: after.buckets.get(b, 0.0) - before.buckets.get(b, 0.0) for b in after.buckets}
        point: dict[str, Any] = {
            "time": after.time,
            "rps": (after.requests - before.requests) / dt,
            "errors": (after.errors - before.errors) / dt,
            "in_flight": after.in_flight,
        }
        for q in (0.5, 0.9, 0.99):
            value = histogram_quantile(q, delta)
            point[f"p{round(q * 100)}"] = None if value is None else value * 1000.0
        out.append(point)
    return out


class History:
    """Samples per service, kept for :data:`KEEP_SECONDS`; scrapes what was watched recently.

    ``fetch(name)`` returns a service's metrics text (or raises); it is given by the app, which
    knows how to reach and authenticate to a service.
    """

    def __init__(self, fetch: Callable[[str], str], interval: float = 2.0) -> None:
        self.fetch = fetch
        self.interval = interval
        self._samples: dict[str, deque[Sample]] = {}
        self._watched: dict[str, float] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()

    def watch(self, name: str) -> None:
        with self._lock:
            self._watched[name] = time.monotonic()

    def scrape(self, name: str) -> None:
        """Take one sample of ``name`` now (an error is remembered, not raised)."""
        try:
            sample = parse(self.fetch(name), time.time())
        except Exception as exc:  # a service down or gone: the chart says so instead of failing
            with self._lock:
                self._errors[name] = f"{type(exc).__name__}: {exc}"
            return
        with self._lock:
            self._errors.pop(name, None)
            kept = self._samples.setdefault(name, deque())
            kept.append(sample)
            while kept and kept[0].time < sample.time - KEEP_SECONDS:
                kept.popleft()

    def scrape_watched(self) -> None:
        now = time.monotonic()
        with self._lock:
            for name, seen in list(self._watched.items()):
                if now - seen > WATCH_SECONDS:
                    del self._watched[name]
            names = list(self._watched)
        for name in names:
            self.scrape(name)

    def report(self, name: str) -> dict[str, Any]:
        with self._lock:
            samples = list(self._samples.get(name, ()))
            error = self._errors.get(name)
        last = samples[-1] if samples else None
        return {
            "interval": self.interval,
            "points": series(samples),
            "total_requests": last.requests if last else None,
            "total_errors": last.errors if last else None,
            "error": error,
        }

    def forget(self, name: str) -> None:
        with self._lock:
            self._samples.pop(name, None)
            self._watched.pop(name, None)
            self._errors.pop(name, None)
