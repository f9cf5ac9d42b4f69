"""v1's ``DataDriftDetector`` (``azureml.datadrift``), computed on this machine with scipy.

A detector compares a baseline (a model's training data, or any tabular dataset) with a target
over time windows of its ``frequency``: a time-series dataset (collected data carries
``$aml_dc_scoring_timestamp``) or, for a detector made with :meth:`create_from_model`, what the
given services collected. Results are kept in the workspace (modelport/monitoring/drift/store.py);
each ``run()`` or ``backfill()`` is also a run of the experiment named after the detector, with the
drift share logged and the HTML report attached.

What the figures mean: modelport/monitoring/drift/metrics.py and docs/monitoring.md.
"""

from __future__ import annotations

import builtins
import csv
import datetime
import hashlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from modelport.core.dataset import dataset_from_ref, dataset_ref
from modelport.core.experiment import Experiment
from modelport.core.workspace import Workspace
from modelport.errors import InvalidInputError, NotFoundError, NotSupported
from modelport.monitoring.collection import layout
from modelport.monitoring.drift import report, store
from modelport.monitoring.drift.metrics import compare
from modelport.monitoring.drift.profile import Profile, profile
from modelport.monitoring.drift.table import Table, columns_of, is_metadata, read_dataset
from modelport.monitoring.drift.windows import (
    FREQUENCIES,
    Window,
    as_datetime,
    collected_rows,
    dataset_rows,
    step,
    windows,
)
from modelport.registry import datasets as dataset_registry
from modelport.registry import datastores

__all__ = ["DEFAULT_DRIFT_THRESHOLD", "DataDriftDetector", "model_data_root", "workspace_id"]

DEFAULT_DRIFT_THRESHOLD = 0.2
"""v1's default; here the drift share (the fraction of drifted features) that means drift."""
LOOKBACK_CYCLES = 10
DATASET_BASED, MODEL_BASED = "DatasetBased", "ModelBased"
_MODELDATA_PATH = re.compile(r"^modeldata/[^/]+/[^/]+/[^/]+/([^/*?\[]+)/")


def workspace_id(ws: Any) -> str:
    """v1's ``{subscription_id}/{resource_group}/{workspace_name}`` of a workspace, lower-case
    (the first folders of its collected data)."""
    return layout.workspace_identity(ws.path, ws.name)


def model_data_root(ws: Any) -> Path:
    """The default datastore's ``modeldata`` folder, where services collect."""
    return datastores.root(ws, datastores.DEFAULT) / layout.MODELDATA


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def _mismatch(baseline: list[str], target: list[str], features: list[str] | None) -> str | None:
    def names(items: builtins.list[str]) -> str:
        shown = ", ".join(items[:8])
        return shown + (f" and {len(items) - 8} more" if len(items) > 8 else "")

    if features:
        missing_b = [f for f in features if f not in baseline]
        missing_t = [f for f in features if f not in target]
        parts = []
        if missing_b:
            parts.append(f"not in the baseline: {names(missing_b)}")
        if missing_t:
            parts.append(f"not in the target: {names(missing_t)}")
        return "feature_list names columns " + "; ".join(parts) if parts else None
    only_b = [c for c in baseline if c not in set(target)]
    only_t = [c for c in target if c not in set(baseline)]
    if not only_b and not only_t:
        return None
    parts = []
    if only_b:
        parts.append(f"only in the baseline: {names(only_b)}")
    if only_t:
        parts.append(f"only in the target: {names(only_t)}")
    return "baseline and target have different columns (" + "; ".join(parts) + "); pass feature_list"


class DataDriftDetector:
    """Detects drift between a baseline and a target over time (v1's ``azureml.datadrift``).

    Example (v1's cells, ``azureml`` renamed)::

        from modelport.datadrift import DataDriftDetector
        monitor = DataDriftDetector.create_from_datasets(
            ws, "mnist-drift", baseline_dataset=train_ds, target_dataset=collected_ds,
            frequency="Day", drift_threshold=0.2)
        monitor.backfill(datetime(2024, 5, 1), datetime(2024, 5, 7))
        results, metrics = monitor.get_output(start_time=datetime(2024, 5, 1))
        monitor.show()

    Runs happen in the calling process (``compute_target`` is kept, not used); schedules and
    e-mail alerts are refused: call :meth:`run` from cron, and read the drift gauges on a
    service's ``/metrics``.
    """

    def __init__(self, workspace: Any, model_name: Any = ..., model_version: Any = ...) -> None:
        """v1's constructor: the detector made with :meth:`create_from_model` for this model."""
        if model_name is ...:
            return  # filled in by the static constructors
        found = DataDriftDetector.list(workspace, model_name=model_name, model_version=model_version)
        if not found:
            raise NotFoundError(
                f"no DataDriftDetector for model {model_name}:{model_version}; make one with "
                "DataDriftDetector.create_from_model()"
            )
        self._init(workspace, found[0]._definition)

    def _init(self, workspace: Any, definition: dict[str, Any]) -> DataDriftDetector:
        if not isinstance(workspace, Workspace):
            raise InvalidInputError(f"workspace must be a Workspace, got {type(workspace).__name__}")
        self._workspace = workspace
        self._definition = definition
        return self

    # -- creating and finding ------------------------------------------------------------------------
    @staticmethod
    def create_from_datasets(
        workspace: Any,
        name: str,
        baseline_dataset: Any = None,
        target_dataset: Any = None,
        compute_target: Any = None,
        frequency: str | None = None,
        feature_list: builtins.list[str] | None = None,
        alert_config: Any = None,
        drift_threshold: float | None = None,
        latency: int | None = None,
        **aliases: Any,
    ) -> DataDriftDetector:
        """A detector comparing ``target_dataset`` (a time series: its windows) with
        ``baseline_dataset``. Datasets with different columns are refused (one line naming them)
        unless ``feature_list`` names columns both have. (``baseline_data_set`` and
        ``target_data_set``, the spelling of some v1 samples, are accepted.)"""
        baseline_dataset = (
            baseline_dataset if baseline_dataset is not None else aliases.pop("baseline_data_set", None)
        )
        target_dataset = (
            target_dataset if target_dataset is not None else aliases.pop("target_data_set", None)
        )
        if aliases:
            raise InvalidInputError(
                f"create_from_datasets: unknown parameter(s) {', '.join(sorted(aliases))}"
            )
        if baseline_dataset is None or target_dataset is None:
            raise InvalidInputError("create_from_datasets needs baseline_dataset and target_dataset")
        ws = _workspace(workspace)
        store.check_name(name)
        features = _feature_list(feature_list)
        problem = _mismatch(columns_of(baseline_dataset), columns_of(target_dataset), features)
        if problem:
            raise InvalidInputError(problem)
        definition = _definition(
            name, DATASET_BASED, compute_target, frequency, features, alert_config, drift_threshold, latency
        )
        definition["baseline"] = dataset_ref(baseline_dataset, "baseline_dataset")
        definition["target"] = dataset_ref(target_dataset, "target_dataset")
        service = _service_of(definition["target"])
        definition["services"] = [service] if service else []
        store.save(ws.path, definition, new=True)
        return DataDriftDetector(ws)._init(ws, definition)

    @staticmethod
    def create_from_model(
        workspace: Any,
        model_name: str,
        model_version: int,
        services: builtins.list[str],
        compute_target: Any = None,
        frequency: str | None = None,
        feature_list: builtins.list[str] | None = None,
        alert_config: Any = None,
        drift_threshold: float | None = None,
        latency: int | None = None,
        name: str | None = None,
    ) -> DataDriftDetector:
        """A detector comparing what ``services`` collected (their ``inputs``) with the model's
        registered training dataset (``Model.register(..., datasets=[("training", ds)])``)."""
        ws = _workspace(workspace)
        if isinstance(services, str):
            services = [services]
        if not services or not all(isinstance(s, str) for s in services):
            raise InvalidInputError("services must be a list of service names")
        baseline = _training_dataset(ws, model_name, int(model_version))
        features = _feature_list(feature_list)
        name = name or f"{model_name}-{model_version}-drift"
        store.check_name(name)
        definition = _definition(
            name, MODEL_BASED, compute_target, frequency, features, alert_config, drift_threshold, latency
        )
        definition.update(
            baseline=dataset_ref(baseline, "the model's training dataset"),
            target=None,
            model_name=model_name,
            model_version=int(model_version),
            services=[layout.check_part("service", s) for s in services],
        )
        detector = DataDriftDetector(ws)._init(ws, definition)
        collected = detector._collected_columns()
        if collected is not None:
            problem = _mismatch(columns_of(baseline), collected, features)
            if problem:
                raise InvalidInputError(problem)
        store.save(ws.path, definition, new=True)
        return detector

    @staticmethod
    def get_by_name(workspace: Any, name: str) -> DataDriftDetector:
        ws = _workspace(workspace)
        return DataDriftDetector(ws)._init(ws, store.load(ws.path, store.check_name(name)))

    @staticmethod
    def get(workspace: Any, model_name: str, model_version: int) -> DataDriftDetector:
        return DataDriftDetector(workspace, model_name, model_version)

    @staticmethod
    def list(
        workspace: Any,
        model_name: str | None = None,
        model_version: int | None = None,
        baseline_dataset: Any = None,
        target_dataset: Any = None,
    ) -> builtins.list[DataDriftDetector]:
        """The workspace's detectors, those of a model (version) or of datasets when given."""
        ws = _workspace(workspace)
        found = []
        for n in store.names(ws.path):
            d = DataDriftDetector.get_by_name(ws, n)
            if model_name is not None and d.model_name != model_name:
                continue
            if model_version is not None and d.model_version != int(model_version):
                continue
            if (
                baseline_dataset is not None
                and d._definition["baseline"].get("name") != baseline_dataset.name
            ):
                continue
            if (
                target_dataset is not None
                and (d._definition.get("target") or {}).get("name") != target_dataset.name
            ):
                continue
            found.append(d)
        return found

    # -- properties --------------------------------------------------------------------------------
    @property
    def workspace(self) -> Any:
        return self._workspace

    @property
    def name(self) -> str:
        return str(self._definition["name"])

    @property
    def id(self) -> str:
        return str(self._definition["id"])

    @property
    def drift_type(self) -> str:
        return str(self._definition["type"])

    @property
    def frequency(self) -> str:
        return str(self._definition["frequency"])

    @property
    def interval(self) -> int:
        return 1

    @property
    def feature_list(self) -> builtins.list[str]:
        return list(self._definition.get("feature_list") or [])

    @property
    def drift_threshold(self) -> float:
        return float(self._definition["drift_threshold"])

    @property
    def latency(self) -> int:
        return int(self._definition.get("latency") or 0)

    @property
    def compute_target(self) -> str | None:
        return self._definition.get("compute_target")

    @property
    def services(self) -> builtins.list[str]:
        return list(self._definition.get("services") or [])

    @property
    def model_name(self) -> str | None:
        return self._definition.get("model_name")

    @property
    def model_version(self) -> int | None:
        return self._definition.get("model_version")

    @property
    def state(self) -> str:
        return "Disabled"  # no schedule runs here

    @property
    def alert_config(self) -> None:
        return None

    @property
    def baseline_dataset(self) -> Any:
        return dataset_from_ref(self._workspace, self._definition["baseline"])

    @property
    def target_dataset(self) -> Any:
        ref = self._definition.get("target")
        return dataset_from_ref(self._workspace, ref) if ref else None

    def __repr__(self) -> str:
        return (
            f"DataDriftDetector(name={self.name!r}, type={self.drift_type!r}, frequency={self.frequency!r}, "
            f"drift_threshold={self.drift_threshold})"
        )

    # -- changing ------------------------------------------------------------------------------------
    def update(
        self,
        services: Any = ...,
        compute_target: Any = ...,
        feature_list: Any = ...,
        schedule_start: Any = ...,
        alert_config: Any = ...,
        drift_threshold: Any = ...,
        wait_for_completion: bool = True,
    ) -> DataDriftDetector:
        """Change the detector's settings (v1's; a value left out keeps its current one)."""
        d = dict(self._definition)
        if services is not ...:
            d["services"] = [layout.check_part("service", s) for s in (services or [])]
        if compute_target is not ...:
            d["compute_target"] = _compute_name(compute_target)
        if feature_list is not ...:
            d["feature_list"] = _feature_list(feature_list)
        if schedule_start is not ...:
            raise NotSupported(
                "schedule_start: schedules are not run by a local workspace; call run() from cron"
            )
        if alert_config is not ...:
            _no_alerts(alert_config)
        if drift_threshold is not ...:
            d["drift_threshold"] = _threshold(drift_threshold)
        store.save(self._workspace.path, d)
        self._definition = d
        return self

    def enable_schedule(self, create_compute_target: bool = False, wait_for_completion: bool = True) -> None:
        raise NotSupported(
            "enable_schedule: a local workspace runs no schedules; call detector.run(datetime.utcnow()) "
            "from cron (or `modelport monitor drift --detector NAME`)"
        )

    def disable_schedule(self, wait_for_completion: bool = True) -> None:
        raise NotSupported("disable_schedule: a local workspace runs no schedules")

    def delete(self, wait_for_completion: bool = True) -> None:
        """Delete the detector and its results."""
        store.remove(self._workspace.path, self.name)

    # -- running -------------------------------------------------------------------------------------
    def run(
        self,
        target_date: Any,
        services: builtins.list[str] | None = None,
        compute_target: Any = None,
        create_compute_target: bool = False,
        feature_list: builtins.list[str] | None = None,
        drift_threshold: float | None = None,
    ) -> Any:
        """Compare the window of ``frequency`` starting on ``target_date``'s day with the baseline
        (the whole target when it has no times); returns the run (completed)."""
        start = as_datetime(target_date, "target_date")
        start = datetime.datetime(start.year, start.month, start.day)
        if services and self.drift_type == DATASET_BASED:
            raise InvalidInputError("services: a dataset-based DataDriftDetector takes no services")
        span = Window(start, step(start, self.frequency))
        features = _feature_list(feature_list) or None
        threshold = _threshold(drift_threshold) if drift_threshold is not None else None
        return self._execute([span], services, features, threshold, "adhoc")

    def backfill(
        self, start_date: Any, end_date: Any, compute_target: Any = None, create_compute_target: bool = False
    ) -> Any:
        """Every window of ``frequency`` from ``start_date`` through ``end_date`` (inclusive);
        windows without target rows are skipped. Returns the run (completed)."""
        start = as_datetime(start_date, "start_date")
        end = as_datetime(end_date, "end_date")
        if end < start:
            raise InvalidInputError(f"end_date {end.date()} is before start_date {start.date()}")
        return self._execute(windows(start, end, self.frequency), None, None, None, "backfill")

    def _execute(
        self,
        spans: builtins.list[Window],
        services: builtins.list[str] | None,
        features: builtins.list[str] | None,
        threshold: float | None,
        kind: str,
    ) -> Any:
        run = Experiment(self._workspace, self.name).start_logging(outputs=False)
        run.tag("datadrift_run_type", kind)
        try:
            computed = self._compute(spans, services, features, threshold, run.id)
        except Exception as exc:
            run.fail(error_details=str(exc))
            raise
        for result, path in computed:
            run.log("drift_share", result["drift_share"])
            run.log("has_drift", int(result["has_drift"]))
            run.upload_file(f"outputs/{path.name}", str(path))
        if not computed:
            print(
                f"{self.name}: no target rows in {spans[0].keys()[0]} .. {spans[-1].keys()[1]}; "
                "nothing compared"
            )
        run.complete()
        return run

    def _compute(
        self,
        spans: builtins.list[Window],
        services: builtins.list[str] | None,
        features: builtins.list[str] | None,
        threshold: float | None,
        run_id: str,
    ) -> builtins.list[tuple[dict[str, Any], Path]]:
        baseline = self._profile()
        wanted = features or self.feature_list or self._baseline_columns(baseline)
        threshold = threshold if threshold is not None else self.drift_threshold
        overall = Window(spans[0].start, spans[-1].end)
        out = []
        targets: builtins.list[tuple[str | None, Table]] = []
        if self.drift_type == MODEL_BASED:
            root = model_data_root(self._workspace)
            for name in services or self.services:
                folder = layout.service_folder(root, workspace_id(self._workspace), name)
                targets.append(
                    (name, collected_rows(folder, self.model_name, str(self.model_version), overall))
                )
        else:
            target = dataset_rows(self.target_dataset, overall)
            targets.append((self.services[0] if self.services else None, target))
        for service, table in targets:
            missing = [f for f in wanted if f not in table.columns]
            if missing and table.rows:
                raise InvalidInputError(
                    f"the target has no column {', '.join(missing[:8])}"
                    + (f" and {len(missing) - 8} more" if len(missing) > 8 else "")
                )
            if len(spans) > 1 and table.times is None:
                raise InvalidInputError(
                    "backfill needs a target with times ($aml_dc_scoring_timestamp, as collected data has)"
                )
            for span in spans:
                part = table if table.times is None else table.select(span.mask(table.times))
                if part.rows == 0:
                    continue
                result = compare(baseline, part, wanted, threshold)
                record = self._record(span, service, result.to_dict(), run_id)
                html = report.html_report(record, self.name)
                out.append((record, store.write_result(self._workspace.path, self.name, record, html)))
        return out

    def _record(
        self, span: Window, service: str | None, result: dict[str, Any], run_id: str
    ) -> dict[str, Any]:
        d = self._definition
        start, end = span.keys()
        return {
            "drift_type": self.drift_type,
            "detector": self.name,
            "service_name": service,
            "model_name": d.get("model_name"),
            "model_version": d.get("model_version"),
            "start_date": start,
            "end_date": end,
            "base_dataset_id": _ref_id(d["baseline"]),
            "target_dataset_id": _ref_id(d.get("target")),
            "run_id": run_id,
            "computed_at": _utcnow().isoformat(timespec="seconds"),
            **result,
        }

    # -- the baseline ----------------------------------------------------------------------------------
    def _profile(self) -> Profile:
        """The baseline's profile, computed once and kept until its files change."""
        baseline = self.baseline_dataset
        folder = store.detector_folder(self._workspace.path, self.name)
        path = folder / f"baseline-{_fingerprint(self._definition['baseline'], baseline)}.npz"
        if path.is_file():
            try:
                return Profile.load(path)
            except (OSError, ValueError, KeyError):
                path.unlink(missing_ok=True)
        made = profile(read_dataset(baseline))
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("baseline-*.npz"):
            old.unlink(missing_ok=True)
        made.save(path)
        return made

    def _baseline_columns(self, baseline: Profile) -> builtins.list[str]:
        return [*baseline.numeric_names, *baseline.categories]

    def _collected_columns(self) -> builtins.list[str] | None:
        root = model_data_root(self._workspace)
        for service in self.services:
            folder = layout.service_folder(root, workspace_id(self._workspace), service)
            for f in layout.files(folder, "inputs"):
                if f.model == self.model_name and f.version == str(self.model_version):
                    with open(f.path, encoding="utf-8") as handle:
                        header = next(csv.reader([handle.readline()]))
                    return [c for c in header if not is_metadata(c)]
        return None

    # -- reading results -------------------------------------------------------------------------------
    def _results(self, start_time: Any, end_time: Any, run_id: str | None) -> builtins.list[dict[str, Any]]:
        if run_id is not None and (start_time is not None or end_time is not None):
            raise InvalidInputError("give either run_id or start_time/end_time, not both")
        kept = list(store.results(self._workspace.path, self.name))
        if run_id is not None:
            return [r for r in kept if r.get("run_id") == run_id]
        start, end = self._range(start_time, end_time)
        return [
            r
            for r in kept
            if r["start_date"] <= end.date().isoformat() and r["end_date"] >= start.date().isoformat()
        ]

    def _range(self, start_time: Any, end_time: Any) -> tuple[datetime.datetime, datetime.datetime]:
        """v1's default: the last 10 cycles of ``frequency`` up to today."""
        start = as_datetime(start_time, "start_time") if start_time is not None else None
        end = as_datetime(end_time, "end_time") if end_time is not None else None
        if end is None:
            if start is None:
                now = _utcnow()
                end = datetime.datetime(now.year, now.month, now.day)
            else:
                end = start
                for _ in range(LOOKBACK_CYCLES):
                    end = step(end, self.frequency)
        if start is None:
            start = end - {"Day": datetime.timedelta(days=10), "Week": datetime.timedelta(weeks=10)}.get(
                self.frequency, datetime.timedelta(days=310)
            )
        return start, end

    def get_output(
        self, start_time: Any = None, end_time: Any = None, run_id: str | None = None
    ) -> tuple[builtins.list[dict[str, Any]], builtins.list[dict[str, Any]]]:
        """``(results, metrics)`` in v1's shape for the windows overlapping ``[start_time,
        end_time]`` (default: the last 10 cycles up to today), or for one run."""
        kept = self._results(start_time, end_time, run_id)
        groups: dict[str | None, builtins.list[dict[str, Any]]] = {}
        for r in kept:
            groups.setdefault(r.get("service_name"), []).append(r)
        results, metrics = [], []
        for service, items in groups.items():
            head: dict[str, Any] = {"drift_type": self.drift_type}
            if service:
                head["service_name"] = service
            results.append({**head, "result": [_v1_result(r) for r in items]})
            metrics.append({**head, "metrics": [_v1_metrics(r) for r in items]})
        return results, metrics

    def show(self, start_time: Any = None, end_time: Any = None) -> dict[str, Any]:
        """Drift over time, drawn with matplotlib: the drift share per window against the
        threshold, and the features that drifted most. Returns the figures by title."""
        from modelport.monitoring.drift.plot import figures

        return figures(self.name, self._results(start_time, end_time, None), self.drift_threshold)


# -- helpers ----------------------------------------------------------------------------------------
def _workspace(workspace: Any) -> Any:
    if not isinstance(workspace, Workspace):
        raise InvalidInputError(f"workspace must be a Workspace, got {type(workspace).__name__}")
    return workspace


def _feature_list(value: Any) -> builtins.list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not all(isinstance(v, str) and v for v in value):
        raise InvalidInputError(f"feature_list must be a list of column names, got {value!r}")
    return list(value)


def _threshold(value: Any) -> float:
    if value is None:
        return DEFAULT_DRIFT_THRESHOLD
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise InvalidInputError(f"drift_threshold must be a number from 0 to 1, got {value!r}")
    return float(value)


def _compute_name(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return str(getattr(value, "name", value))


def _no_alerts(alert_config: Any) -> None:
    if alert_config is not None:
        raise NotSupported(
            "alert_config: a local workspace sends no e-mail alerts; watch the drift gauges on the "
            "service's /metrics (modelport_drift_share) or the result of run()"
        )


def _definition(
    name: str,
    kind: str,
    compute_target: Any,
    frequency: str | None,
    features: builtins.list[str],
    alert_config: Any,
    drift_threshold: Any,
    latency: Any,
) -> dict[str, Any]:
    _no_alerts(alert_config)
    frequency = frequency or "Day"
    if frequency not in FREQUENCIES:
        raise InvalidInputError(f"frequency must be one of {', '.join(FREQUENCIES)}, got {frequency!r}")
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, int) or latency < 0):
        raise InvalidInputError(f"latency must be a number of hours (0 or more), got {latency!r}")
    return {
        "name": name,
        "id": str(uuid.uuid4()),
        "type": kind,
        "compute_target": _compute_name(compute_target),
        "frequency": frequency,
        "feature_list": features,
        "drift_threshold": _threshold(drift_threshold),
        "latency": latency or 0,
        "created_time": _utcnow().isoformat(timespec="seconds"),
    }


def _training_dataset(ws: Any, model_name: str, model_version: int) -> Any:
    extras = dataset_registry.model_extras(ws, model_name, model_version)
    for purpose, ref in extras.get("datasets") or []:
        if str(purpose).lower() == "training":
            return dataset_from_ref(ws, ref)
    raise NotFoundError(
        f"model {model_name}:{model_version} has no training dataset: register it with "
        "Model.register(..., datasets=[('training', train_ds)]), or use create_from_datasets"
    )


def _service_of(ref: dict[str, Any]) -> str | None:
    """The service whose collected data a dataset reads, when its sources are in v1's layout."""
    found = set()
    for src in ref["definition"].get("sources") or []:
        m = _MODELDATA_PATH.match(str(src.get("path") or "").lstrip("/")) if "datastore" in src else None
        if m is None:
            return None
        found.add(m.group(1))
    return found.pop() if len(found) == 1 else None


def _ref_id(ref: dict[str, Any] | None) -> str | None:
    if not ref:
        return None
    if ref.get("name"):
        return f"{ref['name']}:{ref['version']}"
    digest = hashlib.sha256(json.dumps(ref["definition"], sort_keys=True).encode()).hexdigest()
    return f"unregistered:{digest[:12]}"


def _fingerprint(ref: dict[str, Any], dataset: Any) -> str:
    """What the baseline is now: its definition and, for files, their sizes and times."""
    h = hashlib.sha256(json.dumps(ref, sort_keys=True, default=str).encode())
    if hasattr(dataset, "_partitioned"):
        try:
            for f, _values in dataset._partitioned():
                if not f.is_remote:
                    st = os.stat(f.source)
                    h.update(f"{f.source}:{st.st_size}:{st.st_mtime_ns}".encode())
        except (OSError, NotFoundError):
            pass
    return h.hexdigest()[:16]


def _v1_result(r: dict[str, Any]) -> dict[str, Any]:
    out = {
        "has_drift": r["has_drift"],
        "drift_threshold": r["drift_threshold"],
        "start_date": r["start_date"],
        "end_date": r["end_date"],
        "base_dataset_id": r["base_dataset_id"],
        "target_dataset_id": r["target_dataset_id"],
    }
    if r.get("model_name"):
        out.update(datetime=r["start_date"], model_name=r["model_name"], model_version=r["model_version"])
    return out


def _v1_metrics(r: dict[str, Any]) -> dict[str, Any]:
    columns = []
    for f in r["features"]:
        values = [{"name": "drift_" + f["method"], "value": f["value"]}]
        for key in ("wasserstein", "p_value", "jensenshannon", "psi"):
            if f.get(key) is not None:
                values.append({"name": key, "value": f[key]})
        for side in ("baseline", "target"):
            for stat in ("mean", "min", "max"):
                if (f.get(side) or {}).get(stat) is not None:
                    values.append({"name": f"{side}_{stat}", "value": f[side][stat]})
        values.append({"name": "drifted", "value": f["drifted"]})
        columns.append({f["name"]: values})
    return {
        "schema_version": "modelport-1",
        "start_date": r["start_date"],
        "end_date": r["end_date"],
        "baseline_dataset_id": r["base_dataset_id"],
        "target_dataset_id": r["target_dataset_id"],
        "dataset_metrics": [
            {"name": "drift_share", "value": r["drift_share"]},
            {"name": "drifted_features", "value": len(r["drifted_features"])},
            {"name": "tested_features", "value": r["tested_features"]},
        ],
        "column_metrics": columns,
    }
