"""The Monitoring tab's data: whether a service collects, what it collected per day, its
collection counters, and the drift detectors watching it (their results over time and the latest
report)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from modelport.deploy.records import ServiceRecord
from modelport.monitoring.collection import inventory, layout
from modelport.monitoring.drift import report, store
from modelport.monitoring.drift.detector import model_data_root, workspace_id
from modelport.workspace import Workspace

__all__ = ["counters", "monitoring", "report_file"]

DAYS = 30
TOP_FEATURES = 8


def _v1(ws: Workspace) -> Any:
    from modelport.core.workspace import Workspace as V1Workspace

    return ws if isinstance(ws, V1Workspace) else V1Workspace(ws.name, ws.path)


def counters(metrics_text: str | None) -> dict[str, Any] | None:
    """Rows collected and dropped (by reason) since the service started, from its /metrics."""
    if metrics_text is None:
        return None
    out: dict[str, Any] = {"collected": 0.0, "dropped": {}}
    for family in text_string_to_metric_families(metrics_text):
        for s in family.samples:
            if s.name == "modelport_collected_rows_total":
                out["collected"] += s.value
            elif s.name == "modelport_collect_dropped_rows_total":
                reason = s.labels.get("reason", "")
                out["dropped"][reason] = out["dropped"].get(reason, 0.0) + s.value
    return out


def _detector_view(ws: Workspace, name: str, service: str) -> dict[str, Any] | None:
    results = [r for r in store.results(ws.path, name) if r.get("service_name") in (service, None)]
    if not results:
        return None
    latest = results[-1]
    counts: dict[str, int] = {}
    for r in results:
        for f in r["drifted_features"]:
            counts[f] = counts.get(f, 0) + 1
    top = sorted(counts, key=lambda f: (-counts[f], f))[:TOP_FEATURES]
    series = []
    for r in results:
        point: dict[str, Any] = {
            "start_date": r["start_date"],
            "drift_share": r["drift_share"],
            "has_drift": r["has_drift"],
        }
        by_name = {f["name"]: f for f in r["features"] if f["name"] in top}
        point["features"] = {n: by_name[n]["value"] if n in by_name else None for n in top}
        series.append(point)
    return {
        "name": name,
        "threshold": latest["drift_threshold"],
        "latest": {
            "start_date": latest["start_date"],
            "end_date": latest["end_date"],
            "drift_share": latest["drift_share"],
            "has_drift": latest["has_drift"],
            "tested_features": latest["tested_features"],
            "drifted_features": len(latest["drifted_features"]),
            "baseline_rows": latest["baseline_rows"],
            "target_rows": latest["target_rows"],
            "computed_at": latest.get("computed_at"),
            "features": [
                {k: f.get(k) for k in ("name", "kind", "method", "value", "threshold", "drifted", "psi")}
                for f in report.ordered_features(latest)[:20]
            ],
        },
        "top_features": top,
        "series": series,
    }


def _watching(ws: Workspace, service: str) -> list[str]:
    names = []
    for name in store.names(ws.path):
        try:
            definition = store.load(ws.path, name)
        except Exception:  # a definition being written: next time
            continue
        if service in (definition.get("services") or []):
            names.append(name)
    return names


def monitoring(ws: Workspace, record: ServiceRecord, metrics_text: str | None) -> dict[str, Any]:
    """Everything the tab shows for ``record``'s service."""
    v1 = _v1(ws)
    folder = layout.service_folder(model_data_root(v1), workspace_id(v1), record.name)
    since = (datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=DAYS)).isoformat()
    days = [c.to_dict() for c in inventory.daily_counts(folder) if c.day >= since]
    settings = record.spec.settings
    detectors = [v for n in _watching(ws, record.name) if (v := _detector_view(ws, n, record.name))]
    return {
        "collecting": settings.collect_model_data,
        "retention_days": settings.retention_days,
        "retention_mb": settings.retention_mb,
        "folder": str(folder),
        "days": days,
        "counters": counters(metrics_text),
        "detectors": detectors,
    }


def report_file(ws: Workspace, record: ServiceRecord, detector: str) -> Path | None:
    """The latest HTML report of ``detector`` for the service, if there is one."""
    store.check_name(detector)
    results = [r for r in store.results(ws.path, detector) if r.get("service_name") in (record.name, None)]
    if not results:
        return None
    path = store.report_path(ws.path, detector, results[-1])
    return path if path.is_file() else None
