"""Writing v1's log layout for one supervisor session (see :mod:`.layout` for the files).

Lines are timestamped and written as they happen (line-buffered), so ``modelport job logs``
and ``tail -f`` see them at once; the progress overview is rewritten whole (atomically).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TextIO

import psutil

from modelport.jobs.batch.executors.base import Slot
from modelport.jobs.batch.layout import RunFolder

__all__ = ["RunLogs", "stamp"]


def stamp(t: float | None = None) -> str:
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


class RunLogs:
    def __init__(self, folder: RunFolder, started: float) -> None:
        self.folder = folder
        folder.logs.mkdir(parents=True, exist_ok=True)
        self.overview_path = (
            folder.logs
            / f"job_progress_overview.{time.strftime('%Y%m%d%H%M%S', time.localtime(started))}.txt"
        )
        self._files: dict[Path, TextIO] = {}
        self.errors = 0

    def _open(self, path: Path) -> TextIO:
        f = self._files.get(path)
        if f is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            f = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (kept open; closed in close())
            self._files[path] = f
        return f

    def master(self, line: str) -> None:
        """The supervisor's view (``logs/sys/master_role.txt``)."""
        self._open(self.folder.master_role).write(f"{stamp()} {line}\n")

    def driver(self, line: str) -> None:
        """A milestone: the driver log (what ``show_output`` and non-interactive logs show) and the
        master role file."""
        self._open(self.folder.driver_log).write(f"{stamp()} {line}\n")
        self.master(line)

    def node(self, slot: Slot, line: str) -> None:
        self._open(self.folder.node_log(slot.node_name, slot.process_name)).write(f"{stamp()} {line}\n")

    def perf(self, slot: Slot, pid: int) -> None:
        """One line of a worker's resource use (``logs/perf/<node>/<process>.csv``)."""
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                cpu, mem = proc.cpu_times(), proc.memory_info()
        except psutil.Error:
            return
        path = self.folder.logs / "perf" / slot.node_name / f"{slot.process_name}.csv"
        new = path not in self._files and not path.exists()
        f = self._open(path)
        if new:
            f.write("time,pid,cpu_user_s,cpu_system_s,rss_mb\n")
        f.write(f"{stamp()},{pid},{cpu.user:.2f},{cpu.system:.2f},{mem.rss / 2**20:.1f}\n")

    def user_error(self, slot: Slot, what: str, error: str, traceback: str) -> str:
        """An error of the user's script: one line in ``logs/user/error.txt``, the traceback in
        ``logs/user/error/<node>/<process>.txt``. Returns where it is (for the first cause)."""
        detail = self.folder.error_detail(slot.node_name, slot.process_name)
        rel = detail.relative_to(self.folder.root).as_posix()
        self.errors += 1
        self._open(self.folder.user_error).write(f"{stamp()} {slot} {what}: {error} (traceback: {rel})\n")
        self._open(detail).write(f"{stamp()} {what}: {error}\n{traceback.rstrip()}\n\n")
        return rel

    def overview(self, text: str) -> None:
        tmp = self.overview_path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.overview_path)

    def result(self, text: str) -> None:
        self.folder.job_result.write_text(text.rstrip() + "\n", encoding="utf-8")

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
