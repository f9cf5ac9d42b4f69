"""``modelport monitor ...``: what a service collected, and whether it drifted.

Only the v1 facade and the monitoring package are used, as a user's script would.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
from pathlib import Path
from typing import Any

from modelport.cli._commands import Subparsers, command, group
from modelport.cli._output import emit, model_version, split_ref
from modelport.errors import InvalidInputError, NotFoundError


def _v1_workspace(args: argparse.Namespace) -> Any:
    from modelport.cli.workspace import workspace_of
    from modelport.core.workspace import Workspace

    ws = workspace_of(args)
    return Workspace(ws.name, ws.path)


def _date(value: str | None, flag: str) -> datetime.datetime | None:
    if value is None:
        return None
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(f"{flag} must be a date like 2024-05-01, got {value!r}") from None


def _dataset(ws: Any, ref: str) -> Any:
    from modelport.core import Dataset

    name, version = split_ref(ref)
    return Dataset.get_by_name(ws, name, version or "latest")


def _service_target(ws: Any, service: str, model: str, version: int) -> Any:
    """A v1 dataset over what ``service`` collected of ``model:version``."""
    from modelport.core import Dataset
    from modelport.monitoring.drift.detector import workspace_id

    datastore = ws.get_default_datastore()
    path = f"modeldata/{workspace_id(ws)}/{service}/{model}/{version}/inputs/**/data.csv"
    return Dataset.Tabular.from_delimited_files(datastore.path(path), validate=False)


def _detector(args: argparse.Namespace, ws: Any) -> Any:
    """The detector to run: ``--detector``, else one made (once) for ``--service`` or for
    ``--baseline`` and ``--target``."""
    from modelport.datadrift import DataDriftDetector
    from modelport.monitoring.drift import store

    features = [f for f in (args.features or "").split(",") if f] or None
    options = {"frequency": args.frequency, "feature_list": features, "drift_threshold": args.threshold}
    if args.detector:
        if args.service or args.baseline or args.target:
            raise InvalidInputError(
                "--detector runs an existing detector: no --service, --baseline or --target"
            )
        return DataDriftDetector.get_by_name(ws, args.detector)
    if args.service:
        if args.model:
            name, version = model_version(args.model)
        else:
            from modelport.core.webservice import Webservice

            first = Webservice(ws, args.service).models[0]
            name, version = first.name, first.version
        if version is None:
            raise InvalidInputError("--model NAME:VERSION: the version of the model the service serves")
        detector_name = args.name or f"{args.service}-drift"
        if store.exists(ws.path, detector_name):
            return DataDriftDetector.get_by_name(ws, detector_name)
        if args.baseline:
            target = _service_target(ws, args.service, name, version)
            return DataDriftDetector.create_from_datasets(
                ws, detector_name, _dataset(ws, args.baseline), target, **options
            )
        return DataDriftDetector.create_from_model(
            ws, name, version, [args.service], name=detector_name, **options
        )
    if not (args.baseline and args.target):
        raise InvalidInputError(
            "say what to compare: --detector NAME, --service NAME, or --baseline and --target"
        )
    detector_name = args.name or f"{split_ref(args.baseline)[0]}-vs-{split_ref(args.target)[0]}"
    if store.exists(ws.path, detector_name):
        return DataDriftDetector.get_by_name(ws, detector_name)
    return DataDriftDetector.create_from_datasets(
        ws, detector_name, _dataset(ws, args.baseline), _dataset(ws, args.target), **options
    )


def cmd_drift(args: argparse.Namespace) -> int:
    from modelport.monitoring.drift import report, store

    ws = _v1_workspace(args)
    detector = _detector(args, ws)
    start, end = _date(args.start, "--start"), _date(args.end, "--end")
    if (start is None) != (end is None):
        raise InvalidInputError("--start and --end go together (a backfill); --date runs one window")
    if start is not None and end is not None:
        run = detector.backfill(start, end)
    else:
        when = _date(args.date, "--date") or datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        run = detector.run(when)
    results = [r for r in store.results(ws.path, detector.name) if r.get("run_id") == run.id]
    if args.json:
        emit(args, results)
        return 0
    if not results:
        print(f"{detector.name}: no target rows in the window(s) asked for; nothing compared")
        return 0
    for result in results:
        print(report.text_table(result, limit=None if args.all else 20))
        print()
    latest = results[-1]
    written = store.report_path(ws.path, detector.name, latest)
    out = Path(args.report) if args.report else Path.cwd() / f"{detector.name}-drift.html"
    shutil.copyfile(written, out)
    print(f"report: {out}")
    return 0


def cmd_collected(args: argparse.Namespace) -> int:
    from modelport.monitoring.collection import inventory, layout
    from modelport.monitoring.drift.detector import model_data_root, workspace_id

    ws = _v1_workspace(args)
    folder = layout.service_folder(model_data_root(ws), workspace_id(ws), args.name)
    rows = [c.to_dict() for c in inventory.daily_counts(folder)]
    if not rows and not folder.exists():
        raise NotFoundError(
            f"service '{args.name}' has collected nothing in workspace '{ws.name}' (deploy or update it "
            "with collect_model_data=True, and collect in score.py with ModelDataCollector)"
        )
    emit(args, rows, ["day", "model", "version", "designation", "rows", "bytes"])
    return 0


def configure(top: Subparsers, common: argparse.ArgumentParser) -> None:
    sub = group(
        top,
        "monitor",
        "what services collected (ModelDataCollector) and drift against a baseline (DataDriftDetector)",
        "modelport monitor drift --service mnist-svc",
        "modelport monitor collected mnist-svc",
    )
    p = command(
        sub,
        "drift",
        cmd_drift,
        "compare a target with its baseline for one window (--date, default today) or every window "
        "from --start to --end; print a table per window and write the HTML report (--report). "
        "--service compares what it collected with its model's training dataset (or --baseline); "
        "--baseline/--target compare two registered datasets; --detector runs an existing detector.",
        "modelport monitor drift --service mnist-svc --date 2024-05-02",
        "modelport monitor drift --service mnist-svc --start 2024-05-01 --end 2024-05-07 --report drift.html",
        "modelport monitor drift --baseline mnist-train --target mnist-new --features pixel300,pixel301",
        parents=[common],
    )
    p.add_argument("--detector", help="an existing DataDriftDetector's name")
    p.add_argument("--service", help="a service whose collected inputs are the target")
    p.add_argument("--model", help="NAME:VERSION the service serves (default: its first model)")
    p.add_argument("--baseline", help="baseline dataset NAME[:VERSION] (default with --service: the model's)")
    p.add_argument("--target", help="target dataset NAME[:VERSION]")
    p.add_argument(
        "--name", help="the detector's name when one is made (default from the service or datasets)"
    )
    p.add_argument("--date", help="the window to compare starts on this day (default: today, UTC)")
    p.add_argument("--start", help="backfill from this day ...")
    p.add_argument("--end", help="... through this day")
    p.add_argument("--frequency", choices=["Day", "Week", "Month"], help="window length of a new detector")
    p.add_argument("--features", help="comma-separated columns to compare (default: all)")
    p.add_argument("--threshold", type=float, help="drift share that means drift (default 0.2)")
    p.add_argument("--report", help="where to write the HTML report (default: ./<detector>-drift.html)")
    p.add_argument("--all", action="store_true", help="list every feature, not the first 20")
    p = command(
        sub,
        "collected",
        cmd_collected,
        "rows and bytes a service collected, per day, model and designation",
        "modelport monitor collected mnist-svc --json",
        parents=[common],
    )
    p.add_argument("name", help="the service")
