"""What a batch worker on another machine needs, carried as bytes: inputs out, files back.

A Ray node need not see the workspace (issue 25): the supervisor, which does, reads each
mini-batch's inputs (:func:`pack`: the files of a file input, the byte range of a CSV or JSON
lines slice with its header, a Parquet file whole) and sends the bytes with the task; the worker
writes them into a private folder of its own (:func:`unpack`) and calls ``run()`` with those
paths, so ``run()`` sees files as it does on this machine. The entry script's source folder
travels once per run as a zip (:func:`zip_folder`, :func:`unzip`).

What the worker writes goes the other way: its stdout, stderr and ``EntryScript`` log files grow
in a private copy of the run's ``logs/user`` folder, and the files ``run()`` writes to
``AZUREML_BI_OUTPUT_PATH`` in a private output folder; :class:`Outbox` collects what is new
there after each call (the new end of a log file; an output file whole, when it changed), and
:func:`write_back` writes it into the workspace before the supervisor commits the mini-batches
it came with (so a worker lost before that loses nothing that was committed).

Nothing here imports Ray: the executor moves these values; this module only makes and reads them.
"""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Outbox", "fs_view", "pack", "unpack", "unzip", "write_back", "zip_folder"]

_SKIP_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints"}


def fs_view() -> str:
    """Which file system this process sees: the machine (its kernel's boot id), the mount
    namespace and the root folder. Two processes with the same view read the same file at the
    same path; a Ray node in a container, in a mount namespace of its own or on another machine
    has another view. "" where it cannot be told (not Linux): never the same as another."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        mounts = os.readlink("/proc/self/ns/mnt")
        root = os.stat("/")
    except OSError:
        return ""
    return f"{boot} {mounts} {root.st_dev}:{root.st_ino}"


# -- inputs: supervisor -> worker ------------------------------------------------------------------
def pack(payload: dict[str, Any], parquet: dict[str, Any]) -> dict[str, Any]:
    """The payload with its inputs' bytes (``data``); the original paths stay, for names and for
    ``include_path``. ``parquet`` maps a Parquet file's path to what stands for its bytes (sent
    once per run by the caller, an object reference for Ray), filled by the caller."""
    out = dict(payload)
    if payload["kind"] == "files":
        data = []
        for name in payload["files"]:
            with open(name, "rb") as f:
                data.append(f.read())
        out["data"] = data
        return out
    parts = []
    for part in payload["parts"]:
        part = dict(part)
        if payload["format"] == "parquet":
            part["data"] = parquet[part["file"]]
        else:
            with open(part["file"], "rb") as f:
                head = f.read(part["header_end"]) if part.get("header_end") else b""
                f.seek(part["start"])
                part["data"] = head + f.read(part["end"] - part["start"])
                part["header_end"] = len(head)
                part["start"], part["end"] = len(head), len(part["data"])
        parts.append(part)
    out["parts"] = parts
    return out


def unpack(payload: dict[str, Any], folder: Path, fetch: Any = None) -> dict[str, Any]:
    """Write a packed payload's inputs under ``folder`` (made here; the caller removes it) and
    return the payload ``run()`` reads: the same, with paths in ``folder``. ``fetch`` turns a
    Parquet part's ``data`` into bytes (``ray.get``)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {k: v for k, v in payload.items() if k != "data"}
    if payload["kind"] == "files":
        names = [os.path.basename(p) for p in payload["files"]]
        # A file keeps its name (scripts write rows named after it); only names that occur twice
        # in one mini-batch get a folder each.
        unique = len(set(names)) == len(names)
        files = []
        for i, (name, data) in enumerate(zip(names, payload["data"], strict=True)):
            path = folder / name if unique else folder / str(i) / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            files.append(str(path))
        out["files"] = files
        return out
    parts = []
    for i, part in enumerate(payload["parts"]):
        part = dict(part)
        data = part.pop("data")
        if not isinstance(data, bytes):
            data = fetch(data)
        path = folder / f"{i}-{os.path.basename(part['file'])}"
        path.write_bytes(data)
        part["path"] = part["file"]  # the dataset's path, for include_path
        part["file"] = str(path)
        parts.append(part)
    out["parts"] = parts
    return out


# -- the source folder: supervisor -> worker, once ---------------------------------------------------
def zip_folder(folder: str, script: str) -> tuple[bytes, str]:
    """The source folder as a zip, and the entry script's path inside it (a script outside the
    folder is added at the zip's top)."""
    root = Path(folder).resolve()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in _SKIP_DIRS]
            for name in filenames:
                path = Path(dirpath) / name
                z.write(path, path.relative_to(root).as_posix())
        entry = Path(script).resolve()
        if entry.is_relative_to(root):
            inside = entry.relative_to(root).as_posix()
        else:
            inside = entry.name
            z.write(entry, inside)
    return buf.getvalue(), inside


def unzip(data: bytes, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        z.extractall(folder)


# -- files: worker -> supervisor ---------------------------------------------------------------------
@dataclass
class Outbox:
    """A worker's private log and output folders, and what of them has been sent."""

    logs: Path  # the private run folder: logs/user/... below it, as in the workspace's
    outputs: Path
    sent_logs: dict[str, int] = field(default_factory=dict)  # relative path -> bytes sent
    sent_outputs: dict[str, tuple[int, int]] = field(default_factory=dict)  # -> (size, mtime_ns)

    def collect(self) -> dict[str, list[tuple[str, bytes]]]:
        """What is new: ``{"logs": [(path, bytes)], "outputs": [(path, bytes)]}``, paths relative
        to the run folder and the output folder."""
        logs = []
        for path in _files(self.logs):
            rel = path.relative_to(self.logs).as_posix()
            offset = self.sent_logs.get(rel, 0)
            if path.stat().st_size > offset:
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read()
                logs.append((rel, data))
                self.sent_logs[rel] = offset + len(data)
        outputs = []
        for path in _files(self.outputs):
            st = path.stat()
            rel = path.relative_to(self.outputs).as_posix()
            if self.sent_outputs.get(rel) != (st.st_size, st.st_mtime_ns):
                outputs.append((rel, path.read_bytes()))
                self.sent_outputs[rel] = (st.st_size, st.st_mtime_ns)
        return {"logs": logs, "outputs": outputs}


def _files(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, _dirnames, filenames in os.walk(root):
        out.extend(Path(dirpath) / n for n in filenames)
    return out


def write_back(files: dict[str, list[tuple[str, bytes]]], run_folder: str, output_dir: str) -> None:
    """Write what a worker sent into the workspace: log bytes appended (each piece is sent once;
    a replacement worker's files continue its slot's, as a local worker's do), output files whole
    (replaced atomically)."""
    for rel, data in files.get("logs", ()):
        path = _inside(Path(run_folder), rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as f:
            f.write(data)
    for rel, data in files.get("outputs", ()):
        path = _inside(Path(output_dir), rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_bytes(data)
        os.replace(tmp, path)


def _inside(root: Path, rel: str) -> Path:
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"a worker sent a file outside its folder: {rel}")
    return path


def remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
