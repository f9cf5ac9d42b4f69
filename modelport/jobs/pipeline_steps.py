"""One step of a pipeline run: its environment, its inputs, reuse, its child run, and its end.

Called by the pipeline supervisor (:mod:`modelport.jobs.pipeline_supervisor`) in a thread per
running step. A step's run is a child of the pipeline run: a script run
(:func:`modelport.jobs.submit`) or a batch run (:func:`modelport.jobs.batch.submit`).

Reuse (v1's ``allow_reuse=True``): a step's *reuse key* is a sha256 over what it runs: the content
of its source directory, its script and arguments, the content of its inputs, its parameters, its
environment (the spec, or the interpreter) and its settings. A completed earlier step run with the
same key whose outputs are still there is reused: the new step run is recorded Completed at once,
its outputs are the earlier run's folders, and its log says so. ``regenerate_outputs=True`` (or
``allow_reuse=False``) runs the step again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelport import _settings, jobs
from modelport.errors import EnvironmentBuildError, ModelportError
from modelport.jobs.pipeline_types import Inputs, StepContext, StepResult, step_details
from modelport.jobs.ray import RayCompute
from modelport.opendatasets._filedataset import DatasetFile, FileDataset
from modelport.registry import datasets as dataset_records
from modelport.registry import datastores as stores
from modelport.registry import runs as registry
from modelport.workspace import Workspace

__all__ = ["run_step"]

POLL_S = 0.2
CANCEL_GRACE_S = 30.0


# -- environment --------------------------------------------------------------------------------
def _interpreter(ctx: StepContext, step: dict[str, Any]) -> str:
    spec = step.get("environment")
    name = step["name"]
    python = str(step["interpreter"])
    if spec:
        from modelport.environments import EnvSpec, resolve_interpreter

        python = str(
            resolve_interpreter(
                EnvSpec.from_dict(spec),
                _settings.env_cache_root(),
                log=lambda line: ctx.log(f"[{name}] {line}"),
            )
        )
    if step.get("compute") and step["kind"] == "batch":
        # A ParallelRunStep's workers are Ray actors in this interpreter: it must import the
        # cluster's Ray (added to an environment modelport builds; else the step fails saying so).
        from modelport.environments.ray_check import WORKER, with_ray

        python = with_ray(
            python, spec, _settings.env_cache_root(), lambda line: ctx.log(f"[{name}] {line}"), WORKER
        )
    return python


def _compute(step: dict[str, Any]) -> RayCompute | None:
    return RayCompute.from_json(step["compute"]) if step.get("compute") else None


# -- inputs -------------------------------------------------------------------------------------
_digests: dict[tuple[str, int, int], str] = {}
_digest_lock = threading.Lock()


def _file_digest(path: Path) -> str:
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _digest_lock:
        if key in _digests:
            return _digests[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    with _digest_lock:
        _digests[key] = digest
    return digest


def _tree_digest(root: Path, skip: Callable[[str, list[str]], set[str]] | None = None) -> str:
    """sha256 over every file under ``root`` (relative path and content), in a stable order."""
    h = hashlib.sha256()
    if root.is_file():
        h.update(_file_digest(root).encode())
        return h.hexdigest()
    for folder, dirs, names in os.walk(root):
        left_out = skip(folder, [*dirs, *names]) if skip else set()
        dirs[:] = sorted(d for d in dirs if d not in left_out)
        for name in sorted(n for n in names if n not in left_out):
            path = Path(folder) / name
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + _file_digest(path).encode())
    return h.hexdigest()


def _files_digest(files: list[tuple[str, str]]) -> str:
    h = hashlib.sha256()
    for source, rel in files:
        h.update(rel.encode() + b"\0" + _file_digest(Path(source)).encode())
    return h.hexdigest()


def _local_files(spec: dict[str, Any], folder: Path) -> list[tuple[str, str]]:
    """``(absolute local path, relative path)`` of an input's files; files that are URLs are
    downloaded (verified) under ``folder`` first."""
    files = [DatasetFile(path=f["path"], source=f["source"]) for f in spec["files"]]
    if any(f.is_remote for f in files):
        paths = FileDataset(files).download(folder, overwrite=True)
        return [(p, f.path) for p, f in zip(paths, files, strict=True)]
    return [(f.source, f.path) for f in files]


def _materialize(ctx: StepContext, step: dict[str, Any], workdir: Path) -> Inputs:
    out = Inputs()
    # A ParallelRunStep's main inputs are read where they are; its side inputs are given as paths.
    read_in_place = set((step.get("batch") or {}).get("input_names") or [])
    for name, spec in (step.get("inputs") or {}).items():
        kind = spec["kind"]
        folder = workdir / "inputs" / name
        if kind == "path":
            out.paths[name] = spec["path"]
            out.digests[name] = _tree_digest(Path(spec["path"])) if os.path.exists(spec["path"]) else "absent"
        elif kind == "step":
            produced = ctx.outputs_of(spec["step"])[spec["output"]]
            out.paths[name] = produced
            out.files[name] = [
                (str(p), p.relative_to(produced).as_posix())
                for p in sorted(Path(produced).rglob("*"))
                if p.is_file()
            ]
            out.digests[name] = _tree_digest(Path(produced))
        elif kind == "tabular":
            files = _local_files(spec, folder)
            out.files[name] = files
            out.tabular[name] = spec["dataset"]
            out.paths[name] = name
            out.digests[name] = _files_digest(files) + json.dumps(
                spec["dataset"]["definition"], sort_keys=True
            )
        else:  # files
            files = _local_files(spec, folder)
            out.files[name] = files
            out.digests[name] = _files_digest(files)
            if name in read_in_place:
                continue
            # Mounted, a datastore or local folder is given in place (v1 mounted it read-only);
            # downloaded, or made of several places or URLs, it is copied into the step's folder.
            if spec["mode"] == "mount" and spec.get("root"):
                out.paths[name] = files[0][0] if spec.get("single") else spec["root"]
            else:
                for source, rel in files:
                    target = folder / rel
                    if Path(source) != target:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(source, target)
                out.paths[name] = str(folder / files[0][1]) if spec.get("single") else str(folder)
    return out


# -- outputs ------------------------------------------------------------------------------------
def _output_folders(ctx: StepContext, step: dict[str, Any]) -> dict[str, dict[str, str]]:
    found = {}
    for name, spec in (step.get("outputs") or {}).items():
        rel = spec["path"].replace("{run-id}", ctx.pipeline_run_id).replace("{output-name}", name).strip("/")
        absolute = stores.resolve(ctx.ws, spec["datastore"], rel)
        found[name] = {"datastore": spec["datastore"], "path": rel, "absolute": str(absolute)}
    return found


def _register_outputs(ctx: StepContext, step: dict[str, Any], outputs: dict[str, dict[str, str]]) -> None:
    for name, spec in (step.get("outputs") or {}).items():
        reg = spec.get("register")
        if not reg:
            continue
        where = outputs[name]
        record = dataset_records.register(
            ctx.ws,
            reg["name"],
            "file",
            {"sources": [{"datastore": where["datastore"], "path": where["path"]}]},
            description=reg.get("description"),
            tags=reg.get("tags") or {},
            create_new_version=True,
        )
        ctx.log(
            f"[{step['name']}] output '{name}' registered as dataset '{record.name}' version {record.version}"
        )


# -- reuse --------------------------------------------------------------------------------------
def _reuse_key(ctx: StepContext, step: dict[str, Any], interpreter: str, inputs: Inputs) -> str:
    source = step.get("source_directory")
    what = {
        "kind": step["kind"],
        "script": step.get("script"),
        "arguments": step.get("arguments"),
        "command": step.get("command"),
        "source": _tree_digest(Path(source), jobs._snapshot_ignore(ctx.ws)) if source else None,
        "environment": step.get("environment") or {"interpreter": interpreter},
        "environment_variables": step.get("environment_variables"),
        "inputs": inputs.digests,
        "input_kinds": {
            n: (s["kind"], s.get("mode"), s.get("as")) for n, s in (step.get("inputs") or {}).items()
        },
        "outputs": {n: (o["datastore"], o["path"]) for n, o in (step.get("outputs") or {}).items()},
        "batch": step.get("batch"),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()


def _earlier(ws: Workspace, key: str) -> registry.RunRecord | None:
    """The newest completed step run with reuse key ``key`` whose outputs are all still there."""
    rows = ws.db.query(
        "SELECT id FROM runs WHERE status = 'Completed' AND json_extract(details, '$.reuseKey') = ? "
        "ORDER BY created_time DESC LIMIT 5",
        (key,),
    )
    for row in rows:
        record = registry.get_run(ws, row["id"])
        outputs = record.details.get("outputs") or {}
        if all(Path(o["absolute"]).is_dir() for o in outputs.values()):
            return record
    return None


def _reuse(ctx: StepContext, step: dict[str, Any], earlier: registry.RunRecord, key: str) -> StepResult:
    original = earlier.details.get("reusedRunId") or earlier.id
    outputs = earlier.details.get("outputs") or {}
    record = registry.create_run(
        ctx.ws,
        ctx.experiment,
        earlier.kind,
        "Preparing",  # a run in Preparing with no supervisor yet is not taken for dead
        display_name=step["name"],
        parent_id=ctx.pipeline_run_id,
        details={
            **step_details(step, key, outputs),
            "reusedRunId": original,
            "target": (step.get("compute") or {}).get("name", "local"),
        },
    )
    message = (
        f"Step '{step['name']}' reused the output of run {original}: its script (source_directory "
        "content), inputs, parameters and environment are unchanged. Submit with "
        "regenerate_outputs=True, or build the step with allow_reuse=False, to run it again.\n"
    )
    log = jobs.log_file(ctx.ws, record.id)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(message)
    registry.add_file(ctx.ws, record.id, jobs.LOG_NAME, log)
    registry.set_status(ctx.ws, record.id, "Completed")
    ctx.on_child(step["id"], record.id)
    ctx.log(f"[{step['name']}] reused run {original} (unchanged script, inputs, parameters and environment)")
    return StepResult(
        "Completed",
        record.id,
        outputs={n: o["absolute"] for n, o in outputs.items()},
        reused_from=original,
    )


# -- running ------------------------------------------------------------------------------------
def _argument(item: dict[str, Any], outputs: dict[str, dict[str, str]]) -> str:
    """An argument item as the command line gets it; an input stays a placeholder that
    :func:`modelport.jobs.submit` fills with the input's path."""
    if "v" in item:
        return str(item["v"])
    if "input" in item:
        return "{input:" + item["input"] + "}"
    return outputs[item["output"]]["absolute"]


def _given(path: str) -> Callable[[Path], str]:
    """An input for :func:`modelport.jobs.submit` that is already where the script reads it."""
    return lambda _folder: path


def _failed_record(ctx: StepContext, step: dict[str, Any], error: str) -> StepResult:
    record = registry.create_run(
        ctx.ws,
        ctx.experiment,
        "script",
        "Preparing",
        display_name=step["name"],
        parent_id=ctx.pipeline_run_id,
        details={"nodeId": step["id"], "stepName": step["name"], "target": "local"},
    )
    log = jobs.log_file(ctx.ws, record.id)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(error + "\n")
    registry.add_file(ctx.ws, record.id, jobs.LOG_NAME, log)
    registry.set_status(ctx.ws, record.id, "Failed", error)
    ctx.on_child(step["id"], record.id)
    return StepResult("Failed", record.id, error)


def _start_script(
    ctx: StepContext,
    step: dict[str, Any],
    interpreter: str,
    inputs: Inputs,
    outputs: dict[str, dict[str, str]],
    key: str,
) -> registry.RunRecord:
    args = [_argument(i, outputs) for i in step.get("arguments") or []]
    if step.get("command"):
        command = [_argument(i, outputs) for i in step["command"]]
        if command and command[0] in ("python", "python3"):
            command[0] = interpreter
    else:
        command = [interpreter, str(step["script"]), *args]
    env = dict((step.get("environment") or {}).get("environment_variables") or {})
    env.update(step.get("environment_variables") or {})
    return jobs.submit(
        ctx.ws,
        ctx.experiment,
        source_directory=step["source_directory"],
        command=command,
        interpreter=interpreter,
        environment_variables=env,
        environment_name=(step.get("environment") or {}).get("name"),
        inputs={name: _given(path) for name, path in inputs.paths.items()},
        display_name=step["name"],
        parent_id=ctx.pipeline_run_id,
        details={
            **step_details(step, key, outputs),
            "inputTabular": inputs.tabular,
            "script": step.get("script"),
            "arguments": args,
        },
        compute=_compute(step),
    )


def _wait(ctx: StepContext, step: dict[str, Any], record: registry.RunRecord) -> registry.RunRecord:
    cancel_deadline: float | None = None
    while True:
        record = registry.get_run(ctx.ws, record.id)
        if record.status in registry.FINAL:
            return record
        if ctx.cancelled.is_set():
            if cancel_deadline is None:
                from modelport.jobs.pipeline import cancel_step

                cancel_step(ctx.ws, record)
                cancel_deadline = time.monotonic() + CANCEL_GRACE_S
            elif time.monotonic() > cancel_deadline:
                return registry.set_status(ctx.ws, record.id, "Canceled", "canceled with its pipeline run")
        elif record.details.get("supervisor") and not jobs.supervisor_alive(record):
            return registry.set_status(
                ctx.ws, record.id, "Failed", "the step's supervising process ended without finishing the run"
            )
        time.sleep(POLL_S)


def run_step(ctx: StepContext, step: dict[str, Any]) -> StepResult:
    """Run ``step`` (from a plan) as a child run of the pipeline run and wait for its end."""
    name = step["name"]
    try:
        ctx.log(f"[{name}] preparing")
        interpreter = _interpreter(ctx, step)
    except EnvironmentBuildError as exc:
        return _failed_record(ctx, step, f"its environment could not be built: {exc}")
    workdir = jobs.run_dir(ctx.ws, ctx.pipeline_run_id) / "steps" / step["id"]
    try:
        inputs = _materialize(ctx, step, workdir)
        outputs = _output_folders(ctx, step)
        key = _reuse_key(ctx, step, interpreter, inputs)
    except (ModelportError, OSError) as exc:
        return _failed_record(ctx, step, f"its inputs could not be prepared: {exc}")
    if step.get("allow_reuse", True) and not ctx.regenerate_outputs:
        earlier = _earlier(ctx.ws, key)
        if earlier is not None:
            return _reuse(ctx, step, earlier, key)
    if ctx.cancelled.is_set():
        return StepResult("Canceled", None, "canceled with its pipeline run")
    for where in outputs.values():
        Path(where["absolute"]).mkdir(parents=True, exist_ok=True)
    try:
        if step["kind"] == "batch":
            from modelport.jobs.pipeline_batch import start_batch

            record = start_batch(ctx, step, interpreter, inputs, outputs, key, _compute(step))
        else:
            record = _start_script(ctx, step, interpreter, inputs, outputs, key)
    except ModelportError as exc:
        return _failed_record(ctx, step, f"it could not start: {exc}")
    ctx.on_child(step["id"], record.id)
    ctx.log(f"[{name}] started as run {record.id}")
    record = _wait(ctx, step, record)
    folders = {n: o["absolute"] for n, o in outputs.items()}
    if record.status == "Completed":
        try:
            _register_outputs(ctx, step, outputs)
        except ModelportError as exc:
            return StepResult("Failed", record.id, f"its output could not be registered: {exc}", folders)
    return StepResult(record.status, record.id, record.error, folders)
