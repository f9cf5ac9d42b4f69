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


class DriftGauges:
    """The latest results of the drift detectors watching this service, as gauges, read from
    the files they leave in ``folder`` (one JSON per detector; re-read when it changes)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._seen: dict[Path, tuple[int, dict[str, Any]]] = {}

    def _results(self) -> list[dict[str, Any]]:
        import json

        out = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                stamp = path.stat().st_mtime_ns
                known = self._seen.get(path)
                if known is None or known[0] != stamp:
                    known = (stamp, json.loads(path.read_text()))
                    self._seen[path] = known
                out.append(known[1])
            except (OSError, ValueError):
                continue  # being replaced: the next scrape reads it
        return out

    def collect(self) -> Any:
        import datetime

        from prometheus_client.core import GaugeMetricFamily

        share = GaugeMetricFamily(
            "modelport_drift_share",
            "Fraction of features that drifted in the latest window.",
            labels=["detector"],
        )
        detected = GaugeMetricFamily(
            "modelport_drift_detected",
            "1 when the latest window's drift share reached its threshold.",
            labels=["detector"],
        )
        threshold = GaugeMetricFamily(
            "modelport_drift_threshold", "The detector's drift threshold.", labels=["detector"]
        )
        window = GaugeMetricFamily(
            "modelport_drift_window_start_seconds",
            "Start of the latest window compared (Unix time).",
            labels=["detector"],
        )
        feature = GaugeMetricFamily(
            "modelport_drift_feature_value",
            "Each feature's deciding figure in the latest window (a distance, or a p-value for ks/chi2).",
            labels=["detector", "feature", "test"],
        )
        drifted = GaugeMetricFamily(
            "modelport_drift_feature_drifted",
            "1 for a feature that drifted in the latest window.",
            labels=["detector", "feature"],
        )
        for r in self._results():
            name = str(r.get("detector", ""))
            share.add_metric([name], float(r.get("drift_share", 0.0)))
            detected.add_metric([name], 1.0 if r.get("has_drift") else 0.0)
            threshold.add_metric([name], float(r.get("drift_threshold", 0.0)))
            try:
                start = datetime.datetime.fromisoformat(str(r["start_date"])).replace(tzinfo=datetime.UTC)
                window.add_metric([name], start.timestamp())
            except (KeyError, ValueError):
                pass
            for f in r.get("features") or []:
                if f.get("value") is not None:
                    feature.add_metric([name, str(f["name"]), str(f["method"])], float(f["value"]))
                drifted.add_metric([name, str(f["name"])], 1.0 if f.get("drifted") else 0.0)
        yield from (share, detected, threshold, window, feature, drifted)


class Metrics:
    """The server's metrics. Each instance has its own registry, so tests can make many."""

    def __init__(self, drift_folder: Path | None = None) -> None:
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
        self.collected = Counter(
            "modelport_collected_rows",
            "Rows ModelDataCollector wrote to disk, by designation.",
            ["designation"],
            registry=r,
        )
        self.collect_dropped = Counter(
            "modelport_collect_dropped_rows",
            "Rows collected but not written, by designation and reason (buffer_full, disk_full, "
            "write_error, retention, stopped).",
            ["designation", "reason"],
            registry=r,
        )
        self.drift = DriftGauges(drift_folder) if drift_folder is not None else None
        if self.drift is not None:
            r.register(self.drift)
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
        if self.drift is not None:  # read from files, the same in every worker: not summed
            merged.register(self.drift)
        return generate_latest(merged)
