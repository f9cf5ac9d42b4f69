"""The batch worker a Ray actor runs (:class:`BatchActor`); the ``ray`` executor
(:mod:`.ray`) starts it, and :mod:`.warm` keeps it between runs."""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from modelport.jobs.batch.executors import ship
from modelport.jobs.batch.executors.base import Slot

__all__ = ["BatchActor"]


class BatchActor:
    """One batch worker on a Ray node (wrapped with ``ray.remote`` by :class:`RayExecutor`).

    It works in a private folder of its own on its node (removed by :meth:`close`): the source
    folder unpacked from the zip it was given, each mini-batch's inputs written from the bytes
    that came with it (:mod:`.ship`), its stdout, stderr and ``EntryScript`` logs and the files
    ``run()`` writes to ``AZUREML_BI_OUTPUT_PATH`` kept there and sent back with each answer."""

    def __init__(self, *run: Any) -> None:
        """``run``: the run's part, as :meth:`_begin` takes it."""
        self._begin(*run)

    def _begin(
        self,
        config: dict[str, Any],
        node: int,
        process: int,
        variables: dict[str, str],
        source: bytes,
        entry: str,
        view: str,
    ) -> None:
        """Set up for a run: the private folder, the source, the run's variables."""
        self.private = Path(tempfile.mkdtemp(prefix="modelport-batch-"))
        src, run, outputs = self.private / "src", self.private / "run", self.private / "outputs"
        outputs.mkdir()
        ship.unzip(source, src)
        self.config = {
            **config,
            "entry_script": str(src / entry),
            "source_directory": str(src),
            "run_folder": str(run),
            "output_dir": str(outputs),
        }
        # The run's variables, set before anything of the run is imported (see RayExecutor).
        os.environ.update({**variables, "AZUREML_BI_OUTPUT_PATH": str(outputs)})
        self.slot = Slot(node, process)
        self.outbox = ship.Outbox(run, outputs)
        self.same_view = bool(view) and ship.fs_view() == view
        self.runtime: Any = None

    def start(self) -> tuple[Any, ...]:
        """Load the entry script and call its ``init()``: ``("ready", pid, seconds, where, node id,
        same view, files)`` or ``("init_failed", error, traceback, files)`` (files:
        :meth:`ship.Outbox.collect`; same view: this worker sees the supervisor's file system)."""
        import ray

        node_id = ray.get_runtime_context().get_node_id()
        where = f"Ray node {ray.util.get_node_ip_address()} ({node_id[:8]})"
        try:
            self._redirect()
            from modelport.jobs.batch.script import EntryRuntime

            os.chdir(self.config["source_directory"])
            self.runtime = EntryRuntime(self.config, self.slot)
            self.runtime.setup()
            seconds = self.runtime.init()
        except BaseException as exc:  # the user's init() or import
            from modelport.jobs.batch.script import error_line

            return ("init_failed", f"{error_line(exc)} (on {where})", traceback.format_exc(), self._files())
        return ("ready", os.getpid(), seconds, where, node_id, self.same_view, self._files())

    def _redirect(self) -> None:
        user = Path(self.config["run_folder"]) / "logs" / "user"
        for stream, fd in (("stdout", 1), ("stderr", 2)):
            path = user / stream / self.slot.node_name / f"{self.slot.process_name}.{stream}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "ab") as f:
                sys.stdout.flush() if fd == 1 else sys.stderr.flush()
                os.dup2(f.fileno(), fd)

    def run(self, tasks: list[tuple[int, dict[str, Any], bool]]) -> dict[str, Any]:
        """Run a bunch of mini-batches, in order: ``{"results": [(task, result), ...], "files": ...}``.
        A task is ``(index, payload, packed)``: packed, its inputs came with it (:func:`ship.pack`)."""
        import ray

        done = []
        for task, packed, shipped in tasks:
            if not shipped:  # a worker that sees the supervisor's files reads them in place
                done.append((task, self.runtime.run(packed).to_wire()))
                continue
            folder = self.private / "in" / str(task)
            try:
                payload = ship.unpack(packed, folder, fetch=ray.get)
                done.append((task, self.runtime.run(payload).to_wire()))
            finally:
                ship.remove(folder)
        return {"results": done, "files": self._files()}

    def _files(self) -> dict[str, list[tuple[str, bytes]]]:
        sys.stdout.flush()
        sys.stderr.flush()
        return self.outbox.collect()

    def close(self) -> dict[str, list[tuple[str, bytes]]]:
        """What is left to send, then the private folder removed (the actor is killed next)."""
        try:
            return self._files()
        finally:
            ship.remove(self.private)
