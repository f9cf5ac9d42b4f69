"""A script run's ``outputs/`` and metrics back from a Ray node that cannot see the workspace.

On a cluster whose nodes may not see this machine (:mod:`modelport.jobs.ray.job`), the job's
entrypoint is this module: ``python -m modelport.jobs.ray.handback RUN_ID -- COMMAND...``, in
Ray's copy of the run's snapshot (its ``working_dir``) on the node. It runs the user's command
(``python`` there: the environment Ray built on the node), forwarding a stop, and when the
command ends, hands back what the run made there through the cluster's key-value store (the
GCS), which the run's supervisor fetches and deletes (:func:`receive`):

- the files under ``outputs/`` (what a local run uploads), zipped;
- what the script logged (``run.log*``, tags, properties): where the node cannot see the
  workspace, ``Run.get_context()`` writes it to a journal (``MODELPORT_RUN_JOURNAL``, one JSON
  line an entry) instead of the workspace's database, and the supervisor replays it
  (:func:`replay`). A node that sees the workspace logs straight into it, as a local run does.

The zip travels in chunks of :data:`CHUNK` bytes (the GCS keeps its key-value store in memory and
takes one gRPC message an entry), at most :data:`LIMIT` bytes in all: more fails the run with one
line naming the size and the limit (write such files to a datastore instead). The chunks are
written first and the manifest last, so a manifest names a complete set.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["CHUNK", "ENV_GCS", "ENV_JOURNAL", "LIMIT", "NAMESPACE", "main", "receive", "replay"]

NAMESPACE = "modelport-runs"
CHUNK = 8 * 2**20
LIMIT = 512 * 2**20
"""The most a run's ``outputs/`` (zipped) and journal may hold to come back through the cluster."""
ENV_GCS = "MODELPORT_RAY_GCS"
"""The cluster's GCS address, as the supervisor reaches it (Ray gives a job ``RAY_ADDRESS=auto``)."""
ENV_JOURNAL = "MODELPORT_RUN_JOURNAL"
"""Where ``Run.get_context()`` journals what a script logs when it cannot see the workspace
(``modelport.jobs.ENV_RUN_JOURNAL``)."""
_JOURNAL = "journal.jsonl"
_LOG = "log.txt"


def _key(run_id: str, what: str) -> bytes:
    return f"{run_id}/{what}".encode()


# -- on the node ----------------------------------------------------------------------------------
def pack(outputs: Path, journal: Path | None, log: Path | None = None) -> bytes:
    """``outputs/``, the journal and the command's log as one zip (``outputs/...``,
    ``journal.jsonl``, ``log.txt``)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        if outputs.is_dir():
            for root, _dirs, files in os.walk(outputs):
                for name in sorted(files):
                    path = Path(root) / name
                    z.write(path, f"outputs/{path.relative_to(outputs).as_posix()}")
        if journal is not None and journal.is_file():
            z.write(journal, _JOURNAL)
        if log is not None and log.is_file():
            z.write(log, _LOG)
    return buf.getvalue()


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def _put() -> Any:
    """A function putting (key, value) into the cluster's key-value store, from the job."""
    address = os.environ.get(ENV_GCS, "")
    if address and "://" not in address and address != "auto":
        from ray._raylet import GcsClient  # type: ignore[attr-defined]

        # A client of the GCS alone: no driver, no worker of this job (ray.init costs seconds).
        gcs = GcsClient(address=address)
        ns = NAMESPACE.encode()
        return lambda key, value: gcs.internal_kv_put(key, value, overwrite=True, namespace=ns, timeout=60)
    import logging

    import ray
    from ray.experimental.internal_kv import _internal_kv_put

    ray.init(logging_level=logging.WARNING, log_to_driver=False)  # the job's cluster (RAY_ADDRESS)
    return lambda key, value: _internal_kv_put(key, value, overwrite=True, namespace=NAMESPACE)


def send(run_id: str, data: bytes | None, error: str | None = None) -> None:
    """Put ``data`` in the GCS in chunks, then its manifest (or only a manifest with ``error``)."""
    put = _put()
    chunks = [] if data is None else [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
    for i, chunk in enumerate(chunks):
        put(_key(run_id, str(i)), chunk)
    manifest = {
        "chunks": len(chunks),
        "size": len(data or b""),
        "sha256": hashlib.sha256(data or b"").hexdigest(),
        "error": error,
    }
    put(_key(run_id, "manifest"), json.dumps(manifest).encode())


def main(argv: list[str]) -> int:
    """Run the command after ``--``, then hand back ``outputs/`` and the journal."""
    run_id, sep, *command = argv
    if sep != "--" or not command:
        print("usage: python -m modelport.jobs.ray.handback RUN_ID -- COMMAND...", file=sys.stderr)
        return 2
    if command[0] == "python":
        command[0] = sys.executable  # the node's environment (Ray's uv virtualenv)
    workspace = os.environ.get("MODELPORT_RUN_WORKSPACE", "")
    env = dict(os.environ)
    journal: Path | None = None
    if not (workspace and os.path.isdir(workspace)):
        journal = Path.cwd() / ".modelport-journal.jsonl"
        env[ENV_JOURNAL] = str(journal)
    (Path.cwd() / "outputs").mkdir(exist_ok=True)
    # Ray stops a job with SIGTERM to its process group; the command gets it too, and this process
    # waits for it and sends nothing back (a stopped run keeps no outputs, as a canceled local run).
    stopped: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.append(signum))
    log = Path.cwd() / ".modelport-log.txt"
    code = _tee(command, env, log)
    if stopped:
        return 128 + signal.SIGTERM
    size = _size(Path.cwd() / "outputs") + sum(p.stat().st_size for p in (journal, log) if p and p.is_file())
    if size > LIMIT:
        error = (
            f"the run's outputs/ ({size / 2**20:.0f} MB) pass the {LIMIT / 2**20:.0f} MB a run on a Ray node "
            "that cannot see the workspace brings back; write big files to a datastore"
        )
        print(f"modelport: {error}", file=sys.stderr, flush=True)
        data = None
    else:
        error, data = None, pack(Path.cwd() / "outputs", journal, log)
    try:
        send(run_id, data, error)
    except Exception as exc:  # the run fails with the cause; its log has the line
        why = f"{type(exc).__name__}: {exc}"
        print(f"modelport: could not send the run's outputs back: {why}", file=sys.stderr, flush=True)
        return code or 1
    return code


def _tee(command: list[str], env: dict[str, str], log: Path) -> int:
    """Run ``command``, its output to this process's (Ray's log of the job) and to ``log`` (sent
    back: Ray's Jobs API does not serve the log of a driver on another node than the head's)."""
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert child.stdout is not None
    with open(log, "wb") as copy:
        while True:
            try:
                chunk = os.read(child.stdout.fileno(), 65536)
            except InterruptedError:  # pragma: no cover - PEP 475 retries reads
                continue
            if not chunk:
                break
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            copy.write(chunk)
    return child.wait()


# -- in the run's supervisor ----------------------------------------------------------------------
class Handback:
    """What came back: the zip's ``outputs/`` written, the journal's entries, or an error."""

    def __init__(self, journal: list[dict[str, Any]], error: str | None, log: bytes = b"") -> None:
        self.journal = journal
        self.error = error
        self.log = log


def receive(run_id: str, snapshot: Path) -> Handback | None:
    """Fetch what the run's job handed back (the driver must be connected to the cluster), write
    its ``outputs/`` into ``snapshot/outputs`` and delete it from the cluster. None: nothing came
    back (the job ended before its command did)."""
    from ray.experimental.internal_kv import _internal_kv_del, _internal_kv_get

    try:
        raw = _internal_kv_get(_key(run_id, "manifest"), namespace=NAMESPACE)
        if raw is None:
            return None
        manifest = json.loads(raw)
        if manifest.get("error"):
            return Handback([], str(manifest["error"]))
        parts = []
        for i in range(int(manifest["chunks"])):
            chunk = _internal_kv_get(_key(run_id, str(i)), namespace=NAMESPACE)
            if chunk is None:
                return Handback([], f"the run's outputs came back incomplete (chunk {i} is missing)")
            parts.append(chunk)
        data = b"".join(parts)
        if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
            return Handback([], "the run's outputs came back damaged (their sha256 differs)")
        journal, log = _unpack(data, snapshot)
        return Handback(journal, None, log)
    finally:
        _internal_kv_del(f"{run_id}/".encode(), del_by_prefix=True, namespace=NAMESPACE)


def _unpack(data: bytes, snapshot: Path) -> tuple[list[dict[str, Any]], bytes]:
    outputs = (snapshot / "outputs").resolve()
    journal: list[dict[str, Any]] = []
    log = b""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            if info.filename == _LOG:
                log = z.read(info)
                continue
            if info.filename == _JOURNAL:
                lines = z.read(info).decode("utf-8").splitlines()
                journal = [json.loads(line) for line in lines if line.strip()]
                continue
            target = (snapshot / info.filename).resolve()
            if not info.filename.startswith("outputs/") or not target.is_relative_to(outputs):
                raise ValueError(f"a run's node sent a file outside outputs/: {info.filename}")
            if info.is_dir():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(info))
    return journal, log


def replay(ws: Any, run_id: str, journal: list[dict[str, Any]]) -> None:
    """Record in the workspace what the script logged on the node, in the order it logged it."""
    from modelport.registry import runs as registry

    for entry in journal:
        if "metric" in entry:
            registry.log_metric(ws, run_id, entry["metric"], entry["kind"], entry["value"], entry.get("step"))
        elif "tags" in entry:
            registry.update_run(ws, run_id, tags=entry["tags"])
        elif "properties" in entry:
            registry.update_run(ws, run_id, properties=entry["properties"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
