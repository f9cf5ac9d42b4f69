"""``modelport job ...``: submit a script, and list, show, follow the logs of, resume and cancel
runs of every kind (script runs, batch runs, pipelines and their steps), on this machine or on an
AmlCompute target's Ray cluster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from modelport.cli._commands import Subparsers, command, group
from modelport.cli._output import emit
from modelport.cli.workspace import workspace_of
from modelport.errors import InvalidInputError


def _row(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "experiment": r.experiment,
        "kind": r.kind,
        "status": r.status,
        "name": r.display_name,
        "parent": r.parent_id,
        "created": r.created_time,
        "error": r.error,
        "target": r.details.get("target", "local"),
    }


def cmd_list(args: argparse.Namespace) -> int:
    from modelport.registry import runs

    ws = workspace_of(args)
    names = [args.experiment] if args.experiment else runs.experiments(ws)
    rows = [_row(r) for e in names for r in runs.list_runs(ws, e, include_children=args.all)]
    if args.status:
        rows = [r for r in rows if r["status"] == args.status]
    if args.kind:
        rows = [r for r in rows if r["kind"] == args.kind]
    rows.sort(key=lambda r: r["created"], reverse=True)
    emit(args, rows[: args.limit] if args.limit else rows, ["id", "kind", "status", "name", "created"])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from modelport.jobs import batch
    from modelport.jobs.batch import progress
    from modelport.registry import runs

    ws = workspace_of(args)
    r = runs.get_run(ws, args.run)
    data = _row(r)
    data["started"], data["ended"] = r.start_time, r.end_time
    data["children"] = [c.id for c in runs.children(ws, r.id)]
    if r.kind == batch.KIND:
        p = progress.snapshot(ws, r.id)
        data["miniBatches"] = f"{p.finished_batches}/{p.mini_batches} finished ({p.failed_batches} failed)"
        data["items"] = f"{p.done_items}/{p.planned_items} processed ({p.failed_items} failed)"
        data["output"] = r.details.get("outputFile")
        data["reusedFrom"] = r.details.get("reuseFrom")
    if r.details.get("rayJob"):
        data["rayJob"] = r.details["rayJob"]["submissionId"]
    data["folder"] = str(ws.path / "runs" / r.id)
    emit(args, data)
    return 0


def first_error(folder: Path) -> tuple[str, str] | None:
    """Where a run's first error is: ``(file, its first line)``."""
    result = folder / "logs" / "job_result.txt"
    errors = folder / "logs" / "user" / "error.txt"
    for f in (errors, result):
        if f.is_file():
            lines = [ln for ln in f.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
            if lines and (f is errors or lines[0].startswith("Failed")):
                return str(f), lines[0]
    return None


def cmd_logs(args: argparse.Namespace) -> int:
    from modelport import jobs
    from modelport.registry import runs

    ws = workspace_of(args)
    r = runs.get_run(ws, args.run)
    folder = ws.path / "runs" / r.id
    log = jobs.log_file(ws, r.id)
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    lines = text.splitlines()
    if args.tail:
        lines = lines[-args.tail :]
    if args.json:
        where = first_error(folder)
        emit(args, {"run": r.id, "status": r.status, "log": str(log), "firstError": where, "lines": lines})
        return 0
    print("\n".join(lines))
    print(f"\n-- run {r.id}: {r.status}" + (f": {r.error}" if r.error else ""), file=sys.stderr)
    where = first_error(folder)
    if where is not None:
        print(f"-- first error: {where[1]}\n   in {where[0]}", file=sys.stderr)
    if (folder / "logs").is_dir():
        print(
            f"-- all logs: {folder / 'logs'} (v1's layout: logs/user, logs/sys, job_result.txt)",
            file=sys.stderr,
        )
    for child in runs.children(ws, r.id):
        print(f"-- step run {child.id} ({child.display_name}): {child.status}", file=sys.stderr)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from modelport.jobs import batch
    from modelport.jobs.batch import progress

    ws = workspace_of(args)
    saved = batch.load(ws, args.run)
    compute = None
    name = args.cluster or (saved.get("compute") or {}).get("name")
    if name:
        from modelport.core.compute import run_compute

        # Looked up again: a cluster started again under its name answers at a new address.
        compute = run_compute(ws, name, "--cluster")
    record = batch.resume(ws, args.run, compute=compute)
    if args.detach:
        emit(args, {"run": record.id} if args.json else record.id)
        return 0
    if record.id != args.run:
        print(f"run {args.run} goes on as run {record.id}", file=sys.stderr)
    final = progress.follow(ws, record.id, file=sys.stderr)
    emit(args, {"run": final.id, "status": final.status} if args.json else f"{final.id}: {final.status}")
    return 0 if final.status == "Completed" else 1


def cmd_submit(args: argparse.Namespace) -> int:
    from modelport.core import Environment, Experiment, ScriptRunConfig

    ws = workspace_of(args)
    script = Path(args.script)
    source = Path(args.source_directory) if args.source_directory else script.parent
    name = str(script.relative_to(source)) if args.source_directory else script.name
    env = None
    if args.environment:
        env_name, _, version = args.environment.partition(":")
        env = Environment.get(ws, env_name, version or None)
    config = ScriptRunConfig(
        source_directory=str(source),
        script=name,
        arguments=list(args.arguments),
        compute_target=args.cluster or "local",
        environment=env,
    )
    run = Experiment(ws, args.experiment).submit(config)
    if args.detach:
        emit(args, {"run": run.id} if args.json else run.id)
        return 0
    run.wait_for_completion(show_output=not args.json, raise_on_error=False)
    status = run.get_status()
    emit(args, {"run": run.id, "status": status} if args.json else f"{run.id}: {status}")
    return 0 if status == "Completed" else 1


def cmd_cancel(args: argparse.Namespace) -> int:
    from modelport import jobs
    from modelport.registry import runs

    ws = workspace_of(args)
    r = runs.get_run(ws, args.run)
    if r.status in runs.FINAL:
        raise InvalidInputError(f"run '{r.id}' already ended ({r.status})")
    for child in runs.children(ws, r.id):
        if child.status not in runs.FINAL:
            jobs.cancel(ws, child)
    jobs.cancel(ws, r)
    emit(args, {"canceled": r.id} if args.json else f"canceled {r.id}")
    return 0


def configure(top: Subparsers, common: argparse.ArgumentParser) -> None:
    sub = group(
        top,
        "job",
        "list, show, read the logs of, resume and cancel runs (scripts, batch runs, pipelines)",
        "modelport job list",
        "modelport job logs RUN_ID",
    )
    p = command(
        sub,
        "submit",
        cmd_submit,
        "run a script as a run of an experiment, here or on a cluster (a Ray job), and follow its log",
        "modelport job submit train.py -- --alpha 0.5",
        "modelport job submit --source-directory src --cluster cpu-cluster src/train.py -- --alpha 0.5",
        parents=[common],
    )
    p.add_argument("script", help="the script to run (after the options; its own arguments after --)")
    p.add_argument("--source-directory", help="the folder that is copied and run in (default: the script's)")
    p.add_argument("--cluster", metavar="NAME", help="an AmlCompute target: run there as a Ray job")
    p.add_argument(
        "--environment", metavar="NAME[:VERSION]", help="a registered environment (default: this Python)"
    )
    p.add_argument("-e", "--experiment", default="job-submit", help="the experiment the run is recorded in")
    p.add_argument("--detach", action="store_true", help="print the run id and return at once")
    p.add_argument("arguments", nargs="*", help="after --: the script's arguments")
    p = command(
        sub, "list", cmd_list, "list runs, newest first", "modelport job list --kind batch", parents=[common]
    )
    p.add_argument("-e", "--experiment", help="only this experiment's runs")
    p.add_argument("--status", help="only runs in this state (Running, Failed, ...)")
    p.add_argument("--kind", help="only runs of this kind (script, batch, pipeline, ...)")
    p.add_argument("--all", action="store_true", help="also the steps of pipelines")
    p.add_argument("--limit", type=int, help="at most this many")
    p = command(
        sub, "show", cmd_show, "show a run and its progress", "modelport job show RUN_ID", parents=[common]
    )
    p.add_argument("run", metavar="RUN_ID", help="the run (modelport job list shows them)")
    p = command(
        sub,
        "logs",
        cmd_logs,
        "print a run's log and say where its first error is",
        "modelport job logs RUN_ID --tail 50",
        parents=[common],
    )
    p.add_argument("run", metavar="RUN_ID", help="the run (modelport job list shows them)")
    p.add_argument("--tail", type=int, help="only the last N lines")
    p = command(
        sub,
        "resume",
        cmd_resume,
        "score what a batch run left unfinished (each item exactly once)",
        "modelport job resume RUN_ID",
        parents=[common],
    )
    p.add_argument("run", metavar="RUN_ID", help="a batch run that did not complete")
    p.add_argument(
        "--cluster",
        metavar="NAME",
        help="go on on this AmlCompute target (default: the run's own, looked up again by name)",
    )
    p.add_argument("--detach", action="store_true", help="return at once")
    p = command(sub, "cancel", cmd_cancel, "stop a run", "modelport job cancel RUN_ID", parents=[common])
    p.add_argument("run", metavar="RUN_ID", help="the run to stop (a pipeline's steps stop too)")
