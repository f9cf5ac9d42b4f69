"""``modelport batch score``: v1's ParallelRunStep engine without a pipeline.

The input is a folder (each file is an item: ``run()`` gets lists of paths), a CSV, TSV,
JSON-lines or Parquet file (rows are items: ``run()`` gets DataFrames), a glob pattern, or a
registered dataset's name. Every flag is checked before any process starts. With ``--cluster``
the workers are Ray actors on that AmlCompute target's cluster (``--nodes`` x ``--processes``).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from pathlib import Path
from typing import Any

from modelport.cli._commands import Subparsers, command, group
from modelport.cli._output import emit, pairs
from modelport.cli.workspace import workspace_of
from modelport.errors import InvalidInputError, NotFoundError

_TABULAR = {
    ".csv": ("csv", ","),
    ".tsv": ("csv", "\t"),
    ".parquet": ("parquet", None),
    ".jsonl": ("jsonl", None),
}


def _input(ws: Any, text: str, index: int) -> Any:
    """One ``--input``: a folder, a tabular file, a file, a glob pattern or a dataset name."""
    from modelport.jobs.batch import BatchInput

    path = Path(text).expanduser()
    name = f"input{index}" if index else "input"
    if path.is_dir():
        files = sorted(
            str(p.resolve()) for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
        )
        if not files:
            raise InvalidInputError(f"--input {text}: the folder holds no files")
        return BatchInput(path.name or name, "files", tuple(files))
    if path.is_file():
        fmt = _TABULAR.get(path.suffix.lower())
        if fmt is None:
            return BatchInput(path.stem, "files", (str(path.resolve()),))
        reader: dict[str, Any] = {"format": fmt[0]}
        if fmt[1]:
            reader.update(separator=fmt[1], header=True, encoding="utf-8")
        return BatchInput(path.stem, "tabular", (str(path.resolve()),), reader)
    if any(c in text for c in "*?["):
        matches = sorted(str(Path(m).resolve()) for m in glob.glob(text, recursive=True) if Path(m).is_file())
        if not matches:
            raise NotFoundError(f"--input {text}: the pattern matches no file")
        kinds = {_TABULAR.get(Path(m).suffix.lower()) for m in matches}
        if len(kinds) == 1 and None not in kinds:
            fmt = next(iter(kinds))
            assert fmt is not None
            reader = {"format": fmt[0], **({"separator": fmt[1], "header": True} if fmt[1] else {})}
            return BatchInput(name, "tabular", tuple(matches), reader)
        return BatchInput(name, "files", tuple(matches))
    return _dataset_input(ws, text)


def _dataset_input(ws: Any, ref: str) -> Any:
    from modelport.core.dataset import Dataset, FileDataset, _files
    from modelport.jobs.batch import BatchInput

    dname, _, version = ref.partition(":")
    try:
        ds = Dataset.get_by_name(ws, dname, version or "latest")
    except NotFoundError:
        raise NotFoundError(f"--input {ref}: no such folder, file or registered dataset") from None
    if isinstance(ds, FileDataset):
        found = list(ds.files)
        kind, reader = "files", {}
    else:
        found = _files(ds._sources, ds._workspace)
        kind, reader = "tabular", dict(ds._definition["read"])
        if ds._definition.get("ops"):
            raise InvalidInputError(
                f"--input {ref}: a tabular dataset with take/skip/column selections cannot be cut into "
                "mini-batches; register the dataset without them"
            )
    remote = [f.source for f in found if f.is_remote]
    if remote:
        raise InvalidInputError(f"--input {ref}: dataset files must be local; {remote[0]} is a URL")
    return BatchInput(dname, kind, tuple(f.source for f in found), reader)


def _interpreter(ws: Any, environment: str | None, on_cluster: bool) -> str:
    from modelport import _settings

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    if not environment:
        return sys.executable
    from modelport.core.environment import Environment
    from modelport.environments import EnvSpec, resolve_interpreter

    name, _, version = environment.partition(":")
    spec = Environment.get(ws, name, version or None).to_spec()
    python = str(resolve_interpreter(EnvSpec.from_dict(spec), _settings.env_cache_root(), log=log))
    if on_cluster:  # the workers are Ray actors in this interpreter: it needs the cluster's Ray
        from modelport.environments.ray_check import WORKER, with_ray

        python = with_ray(python, spec, _settings.env_cache_root(), log, WORKER)
    return python


def spec_from_args(args: argparse.Namespace, ws: Any) -> Any:
    """The BatchSpec the flags describe, validated (no process started yet)."""
    from modelport.jobs.batch import BatchSpec, check_entry_script, parse_mini_batch_size

    script = Path(args.entry_script)
    source = Path(args.source_directory).resolve() if args.source_directory else script.resolve().parent
    entry = os.path.relpath(script.resolve(), source) if args.source_directory else script.name
    check_entry_script(source, entry)
    inputs = tuple(_input(ws, text, i) for i, text in enumerate(args.input))
    kinds = {i.kind for i in inputs}
    if len(kinds) > 1:
        raise InvalidInputError(
            "--input: all inputs must be of one kind, files or tables: "
            + ", ".join(f"{t} ({i.kind})" for t, i in zip(args.input, inputs, strict=True))
        )
    kind = inputs[0].kind
    size = parse_mini_batch_size(args.mini_batch_size, kind)
    if args.output_action == "append_row" and not args.output:
        raise InvalidInputError(
            "--output FILE is required (where the rows go), unless --output-action summary_only"
        )
    output = Path(args.output).resolve() if args.output else Path.cwd() / "batch-output" / "out.txt"
    if output.is_dir():
        raise InvalidInputError(f"--output {args.output} is a folder; give the file the rows go to")
    spec = BatchSpec(
        entry_script=entry,
        source_directory=str(source),
        interpreter=_interpreter(ws, args.environment, bool(args.cluster)),
        inputs=inputs,
        output_dir=str(output.parent),
        mini_batch_size=size,
        process_count_per_node=args.processes or os.cpu_count() or 1,
        node_count=args.nodes or 1,
        error_threshold=args.error_threshold,
        allowed_failed_count=args.allowed_failed_count,
        allowed_failed_percent=args.allowed_failed_percent,
        output_action=args.output_action,
        append_row_file_name=output.name,
        run_invocation_timeout=args.timeout,
        run_max_try=args.max_tries,
        environment_variables=pairs(args.env, "--env"),
        logging_level=args.logging_level,
        arguments=tuple(args.arguments),
    )
    spec.validate()
    return spec


def cmd_score(args: argparse.Namespace) -> int:
    from modelport.jobs import batch
    from modelport.jobs.batch import progress

    ws = workspace_of(args)
    compute = None
    if args.cluster:
        from modelport.core.compute import run_compute

        compute = run_compute(ws, args.cluster, "--cluster")
    elif args.nodes not in (None, 1):
        raise InvalidInputError("--nodes needs --cluster: this machine is one node")
    spec = spec_from_args(args, ws)
    record = batch.submit(ws, args.experiment, spec, compute=compute)
    if args.detach:
        emit(args, {"run": record.id, "status": record.status} if args.json else record.id)
        return 0
    if not args.json:
        where = f" on compute target '{args.cluster}'" if args.cluster else ""
        print(
            f"run {record.id}: {spec.node_count * spec.process_count_per_node} worker(s){where}",
            file=sys.stderr,
        )
    try:
        final = progress.follow(ws, record.id, file=sys.stderr)
    except KeyboardInterrupt:
        batch.cancel(ws, record.id)
        print(
            f"canceled; what finished is kept. Go on with: modelport job resume {record.id}",
            file=sys.stderr,
        )
        return 130
    p = progress.snapshot(ws, record.id)
    summary = {
        "run": final.id,
        "status": final.status,
        "items": p.done_items,
        "failed_items": p.failed_items,
        "output": str(spec.output_file) if spec.output_action == "append_row" else None,
    }
    if args.json:
        emit(args, summary)
    else:
        line = f"{final.status}: {p.done_items - p.failed_items} items scored, {p.failed_items} failed"
        if summary["output"] and final.status == "Completed":
            line += f"; rows in {summary['output']}"
        print(line)
        if final.status != "Completed":
            print(f"cause: {final.error}\nlogs: modelport job logs {final.id}", file=sys.stderr)
    return 0 if final.status == "Completed" else 1


def configure(top: Subparsers, common: argparse.ArgumentParser) -> None:
    sub = group(
        top,
        "batch",
        "score files or tables with an entry script's init()/run() on worker processes (ParallelRunStep)",
        "modelport batch score --entry-script score.py --input images/ --output out.txt",
    )
    p = command(
        sub,
        "score",
        cmd_score,
        "run an entry script over a folder, a table or a dataset in mini-batches; rows go to --output",
        "modelport batch score --entry-script score.py --input images/ --output preds.txt --processes 2",
        "modelport batch score --entry-script score.py --input iris.csv -o out.txt --mini-batch-size 1MB",
        "modelport batch score --entry-script score.py --input mnist_test -o out.txt -- --model_name mnist",
        "modelport batch score --entry-script score.py --input images/ -o out.txt --cluster cpu --nodes 2",
        parents=[common],
    )
    p.add_argument("--entry-script", required=True, help="the script with init() and run(mini_batch)")
    p.add_argument(
        "-i",
        "--input",
        action="append",
        required=True,
        metavar="FOLDER|FILE|PATTERN|DATASET",
        help="a folder (its files), a .csv/.tsv/.parquet/.jsonl file (its rows), a glob pattern or a "
        "registered dataset NAME[:VERSION]; repeatable (all of one kind)",
    )
    p.add_argument("-o", "--output", help="the file the rows run() returns are appended to")
    p.add_argument(
        "--mini-batch-size",
        help="files per mini-batch (default 10), or for tables a size such as 1MB (default) or 64KB",
    )
    p.add_argument("--processes", type=int, help="worker processes (per node; default: one per CPU core)")
    p.add_argument(
        "--cluster",
        metavar="NAME",
        help="an AmlCompute target: the workers are Ray actors on its cluster (modelport cluster start)",
    )
    p.add_argument(
        "--nodes", type=int, help="with --cluster: v1's node_count (at most the cluster's max nodes)"
    )
    p.add_argument(
        "--environment", metavar="NAME[:VERSION]", help="a registered environment (default: this Python)"
    )
    p.add_argument("--source-directory", help="the folder the script runs in (default: the script's folder)")
    p.add_argument("--experiment", default="batch-score", help="the experiment the run is recorded in")
    p.add_argument(
        "--output-action",
        choices=("append_row", "summary_only"),
        default="append_row",
        help="append_row: keep the rows; summary_only: only count them",
    )
    p.add_argument("--error-threshold", type=int, default=-1, help="failed items allowed (-1: any number)")
    p.add_argument("--allowed-failed-count", type=int, help="failed mini-batches allowed")
    p.add_argument("--allowed-failed-percent", type=float, help="failed mini-batches allowed, in percent")
    p.add_argument("--timeout", type=int, default=60, help="seconds a run() call may take (default 60)")
    p.add_argument("--max-tries", type=int, default=3, help="tries of a failing mini-batch (default 3)")
    p.add_argument(
        "--env", action="append", metavar="KEY=VALUE", help="an environment variable for the script"
    )
    p.add_argument("--logging-level", default="INFO", help="EntryScript().logger's level (default INFO)")
    p.add_argument("--detach", action="store_true", help="print the run id and return at once")
    p.add_argument("arguments", nargs="*", help="after --: arguments the script reads from sys.argv")
