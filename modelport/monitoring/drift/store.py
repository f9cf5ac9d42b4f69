"""Where drift detectors and their results live: files in the workspace folder.

::

    <workspace>/monitoring/detectors/<name>/detector.json       the definition
        results/<start>_<end>[_<service>].json                  one per window (the latest wins)
        reports/<start>_<end>[_<service>].html                  the same, for a person
        baseline-<fingerprint>.npz                               the baseline's profile (profile.py)
    <workspace>/monitoring/services/<service>/drift/<name>.json  a service's latest result per
                                                                detector: the server's /metrics
                                                                gauges and the studio read it
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from modelport.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from modelport.monitoring.collection import layout

__all__ = [
    "detector_folder",
    "exists",
    "latest_for_service",
    "load",
    "names",
    "remove",
    "results",
    "save",
    "service_drift_folder",
    "write_result",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
DETECTOR_FILE = "detector.json"


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise InvalidInputError(
            f"invalid DataDriftDetector name {name!r}: 1-100 letters, digits, '-', '_' or '.', starting "
            "with a letter or digit"
        )
    return name


def root(workspace_path: Path) -> Path:
    return workspace_path / "monitoring"


def detector_folder(workspace_path: Path, name: str) -> Path:
    return root(workspace_path) / "detectors" / check_name(name)


def service_drift_folder(workspace_path: Path, service: str) -> Path:
    """Where a service's latest drift results are kept (one file per detector)."""
    return layout.monitoring_folder(workspace_path, service) / "drift"


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def exists(workspace_path: Path, name: str) -> bool:
    return (detector_folder(workspace_path, name) / DETECTOR_FILE).is_file()


def save(workspace_path: Path, definition: dict[str, Any], new: bool = False) -> None:
    folder = detector_folder(workspace_path, definition["name"])
    if new and (folder / DETECTOR_FILE).exists():
        raise AlreadyExistsError(
            f"DataDriftDetector '{definition['name']}' already exists; use DataDriftDetector.get_by_name() "
            "to retrieve it"
        )
    _write_json(folder / DETECTOR_FILE, definition)


def load(workspace_path: Path, name: str) -> dict[str, Any]:
    path = detector_folder(workspace_path, name) / DETECTOR_FILE
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise NotFoundError(f"DataDriftDetector '{name}' not found in this workspace") from None
    return data


def names(workspace_path: Path) -> list[str]:
    folder = root(workspace_path) / "detectors"
    if not folder.is_dir():
        return []
    return sorted(p.parent.name for p in folder.glob(f"*/{DETECTOR_FILE}"))


def remove(workspace_path: Path, name: str) -> None:
    definition = load(workspace_path, name)
    for service in definition.get("services") or []:
        (service_drift_folder(workspace_path, service) / f"{name}.json").unlink(missing_ok=True)
    shutil.rmtree(detector_folder(workspace_path, name), ignore_errors=True)


def result_key(start: str, end: str, service: str | None) -> str:
    key = f"{start}_{end}".replace(":", "").replace("-", "")
    return f"{key}_{service}" if service else key


def write_result(workspace_path: Path, name: str, result: dict[str, Any], html: str) -> Path:
    """Keep one window's result (replacing an earlier one for the same window) and its report;
    a service's result also becomes its latest, if no newer window is there already."""
    folder = detector_folder(workspace_path, name)
    key = result_key(result["start_date"], result["end_date"], result.get("service_name"))
    _write_json(folder / "results" / f"{key}.json", result)
    report = folder / "reports" / f"{key}.html"
    report.parent.mkdir(parents=True, exist_ok=True)
    tmp = report.with_name(f".{report.name}.{os.getpid()}.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, report)
    service = result.get("service_name")
    if service:
        latest = service_drift_folder(workspace_path, service) / f"{name}.json"
        try:
            known = json.loads(latest.read_text())
        except (OSError, ValueError):
            known = None
        if known is None or str(known.get("start_date", "")) <= str(result["start_date"]):
            summary = {k: v for k, v in result.items() if k != "features"}
            summary["detector"] = name
            summary["features"] = [
                {"name": f["name"], "method": f["method"], "value": f["value"], "drifted": f["drifted"]}
                for f in result["features"]
            ]
            summary["report"] = str(report)
            _write_json(latest, summary)
    return report


def results(workspace_path: Path, name: str) -> Iterator[dict[str, Any]]:
    """Every kept result of detector ``name``, oldest window first."""
    folder = detector_folder(workspace_path, name) / "results"
    if not folder.is_dir():
        return iter(())
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    found.sort(key=lambda r: (r["start_date"], r.get("service_name") or ""))
    return iter(found)


def report_path(workspace_path: Path, name: str, result: dict[str, Any]) -> Path:
    key = result_key(result["start_date"], result["end_date"], result.get("service_name"))
    return detector_folder(workspace_path, name) / "reports" / f"{key}.html"


def latest_for_service(workspace_path: Path, service: str) -> list[dict[str, Any]]:
    """The latest result of each detector that watches ``service``."""
    folder = service_drift_folder(workspace_path, service)
    out = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return out
