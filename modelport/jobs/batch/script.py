"""The entry script inside a worker: loaded by path, ``init()`` once, ``run()`` per mini-batch.

Transport-agnostic: the local executor's worker process (:mod:`.worker`) drives it over a pipe;
a Ray actor can drive the same object. Everything the user's code raises is caught here and
returned as text (the error line and its traceback), never lost.
"""

from __future__ import annotations

import importlib.util
import inspect
import keyword
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from modelport.jobs.batch import rows
from modelport.jobs.batch.context import WorkerContext, set_current
from modelport.jobs.batch.executors.base import Slot, TaskResult

__all__ = ["USER_PATH", "EntryRuntime", "MiniBatchContext", "error_line"]

#: The folder that makes ``azureml_user`` importable (appended to workers' ``sys.path``).
USER_PATH = str(Path(__file__).parent / "userpath")
_LOG_FORMAT = "%(asctime)s|%(levelname)s|%(process)d|%(name)s|%(message)s"


def error_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text.splitlines()[0] if text else type(exc).__name__


class MiniBatchContext:
    """v1's second ``run()`` argument for partitioned inputs: ``partition_key_value`` (a dict of
    the ``partition_keys`` and this mini-batch's values) and ``dataset`` (the input's dataset
    narrowed to this mini-batch's files)."""

    def __init__(self, partition_key_value: dict[str, str], payload: dict[str, Any]) -> None:
        self.partition_key_value = dict(partition_key_value)
        self._payload = payload
        self._dataset: Any = None

    @property
    def dataset(self) -> Any:
        if self._dataset is None:
            # v1 hands the script a dataset object of its own API: the facade's classes, imported
            # by name because the engine's layer may not depend on the facade (only the user's
            # code in this worker process touches them).
            facade = importlib.import_module("modelport.core.dataset")
            FileDataset, TabularDataset = facade.FileDataset, facade.TabularDataset
            p = self._payload
            if p["kind"] == "files":
                self._dataset = FileDataset([{"local": f} for f in p["files"]])
            else:
                files = list(dict.fromkeys(part["file"] for part in p["parts"]))
                reader = dict(p.get("reader") or {})
                reader["format"] = {"csv": "delimited", "jsonl": "json_lines"}.get(p["format"], p["format"])
                self._dataset = TabularDataset([{"local": f} for f in files], None, reader, validate=False)
        return self._dataset

    def __repr__(self) -> str:
        return f"MiniBatchContext(partition_key_value={self.partition_key_value!r})"


class EntryRuntime:
    """One worker's entry script. ``config`` is the run's worker config (see :mod:`.worker`)."""

    def __init__(self, config: dict[str, Any], slot: Slot) -> None:
        self.config = config
        self.slot = slot
        self.keep_rows = config["output_action"] == "append_row"
        self.module: ModuleType | None = None
        self._run: Any = None
        self._two_args = False

    def setup(self) -> None:
        """v1's worker surroundings: ``sys.argv`` holds the step's arguments, the source folder
        comes first on ``sys.path`` and ``azureml_user`` last, ``EntryScript`` knows this worker."""
        cfg = self.config
        script = cfg["entry_script"]
        sys.argv = [script, *cfg.get("arguments", [])]
        for folder in (cfg["source_directory"], str(Path(script).parent)):
            if folder in sys.path:
                sys.path.remove(folder)
            sys.path.insert(0, folder)
        if USER_PATH not in sys.path:
            sys.path.append(USER_PATH)
        node, process = self.slot.node_name, self.slot.process_name
        log_dir = Path(cfg["run_folder"]) / "logs" / "user" / "entry_script_log" / node
        log_dir.mkdir(parents=True, exist_ok=True)
        logger = logging.getLogger(f"{cfg.get('logger_name', 'ParallelRunStep')}.{node}.{process}")
        logger.setLevel(str(cfg.get("logging_level", "INFO")).upper())
        logger.propagate = False
        if not logger.handlers:
            handler = logging.FileHandler(log_dir / f"{process}.log.txt", encoding="utf-8")
            handler.setFormatter(logging.Formatter(_LOG_FORMAT))
            logger.addHandler(handler)
        set_current(WorkerContext(logger, str(log_dir), cfg["output_dir"], process, node, os.getcwd()))

    def init(self) -> float:
        """Import the script and call its ``init()`` (if it has one); the seconds it took.
        Whatever the script raises propagates (the caller reports it)."""
        t0 = time.perf_counter()
        self.module = _load(Path(self.config["entry_script"]))
        run = getattr(self.module, "run", None)
        if not callable(run):
            raise AttributeError(f"{self.config['entry_script']} defines no run() function")
        self._run = run
        # v1's mini_batch_context is optional: a partitioned run's run(mini_batch) (v1's own
        # tabular-partition sample) gets the mini-batch alone.
        self._two_args = _wants_two(run) or (bool(self.config.get("partition_keys")) and _can_take_two(run))
        init = getattr(self.module, "init", None)
        if callable(init):
            init()
        return time.perf_counter() - t0

    def run(self, payload: dict[str, Any]) -> TaskResult:
        """Read the mini-batch, call ``run()``, encode what it returned."""
        started = time.time()
        t0 = time.perf_counter()
        try:
            mini_batch = self._read(payload)
        except Exception as exc:
            return TaskResult(
                items=_planned(payload),
                error=f"cannot read the mini-batch: {error_line(exc)}",
                traceback=traceback.format_exc(),
                started=started,
                read_seconds=time.perf_counter() - t0,
            )
        items = len(mini_batch)
        t1 = time.perf_counter()
        try:
            if self._two_args:
                value = self._run(
                    mini_batch, MiniBatchContext(payload.get("partition_key_value") or {}, payload)
                )
            else:
                value = self._run(mini_batch)
            count, data = rows.encode(value, keep_rows=self.keep_rows)
        except Exception as exc:
            return TaskResult(
                items=items,
                error=error_line(exc),
                traceback=traceback.format_exc(),
                started=started,
                read_seconds=t1 - t0,
                run_seconds=time.perf_counter() - t1,
            )
        return TaskResult(
            items=items,
            row_count=count,
            rows=data,
            started=started,
            read_seconds=t1 - t0,
            run_seconds=time.perf_counter() - t1,
        )

    def _read(self, payload: dict[str, Any]) -> Any:
        if payload["kind"] == "files":
            return list(payload["files"])
        from modelport.jobs.batch.tabular import read_frame

        return read_frame(payload)


def _planned(payload: dict[str, Any]) -> int:
    if payload["kind"] == "files":
        return len(payload["files"])
    return sum(int(p.get("rows", 0)) for p in payload["parts"])


def _wants_two(run: Any) -> bool:
    """Whether ``run`` needs a second positional argument (then it gets the context even
    without partition keys, rather than failing every mini-batch with a TypeError)."""
    try:
        params = inspect.signature(run).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = [
        p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return len(positional) >= 2


def _can_take_two(run: Any) -> bool:
    """Whether ``run`` accepts a second positional argument (required, optional or ``*args``)."""
    try:
        params = list(inspect.signature(run).parameters.values())
    except (TypeError, ValueError):
        return True
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return True
    return len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) >= 2


def _load(path: Path) -> ModuleType:
    """Import the script from its path under its file stem (so ``import score`` from a helper
    module gets the same module), or a fallback name when the stem is taken."""
    stem = path.stem
    free = stem.isidentifier() and not keyword.iskeyword(stem) and stem not in sys.modules
    name = stem if free and stem not in sys.stdlib_module_names else "modelport_entry_script"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
