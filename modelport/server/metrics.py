"""Prometheus metrics, correct across worker processes.

With several workers every process writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR``
(prometheus_client's multiprocess mode) and ``/metrics`` aggregates them. The mode is chosen when
prometheus_client is imported, so :func:`enable_multiprocess` must run before any metric exists.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def enable_multiprocess(folder: Path) -> None:
    """Use ``folder`` (emptied first) for multi-process metrics, in this process and its children."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    from prometheus_client import values

    # In case prometheus_client was imported before the variable was set.
    values.ValueClass = values.get_value_class()


def multiprocess_dir() -> str | None:
    """The multi-process folder in force, if any."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def mark_process_dead(pid: int) -> None:
    """Forget a dead worker's live gauges (in-flight requests, readiness)."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


class Metrics:
    """The server's metrics. Each instance has its own registry, so tests can make many."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "modelport_requests",
            "HTTP requests answered, by route and status.",
            ["route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "modelport_request_duration_seconds",
            "Time from request to response, by route.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.run_time = Histogram(
            "modelport_run_duration_seconds",
            "Time spent in the script's run().",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "modelport_requests_in_flight",
            "Requests being handled now.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.ready_workers = Gauge(
            "modelport_ready_workers",
            "Workers whose init() succeeded.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.restarts = Counter(
            "modelport_worker_restarts", "Worker processes started to replace one that ended.", registry=r
        )
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def observe_request(self, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        key = (route, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(route, str(status)), self.latency.labels(route))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        """The text exposition of every process's metrics (or this one's, single-process)."""
        from prometheus_client import CollectorRegistry, generate_latest

        folder = multiprocess_dir()
        if folder is None:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=folder)
        return generate_latest(merged)
