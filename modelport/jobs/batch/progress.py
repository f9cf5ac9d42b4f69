"""A batch run's progress, as numbers and as what a person watches.

:func:`snapshot` reads the run's journal (read-only; the supervisor keeps writing). A
:class:`ProgressView` shows it: a tqdm bar (items done, items/s, ETA, failures) on a terminal
and in a notebook, and in a non-interactive log a few milestone lines instead of bar redraws.
``PipelineRun.wait_for_completion(show_output=True)`` and ``modelport batch score`` use it;
:func:`follow` is the whole loop.

Example::

    from modelport.jobs.batch import progress
    record = progress.follow(ws, run_id)        # returns when the run has ended
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

from modelport.jobs.batch.journal import Journal
from modelport.jobs.batch.layout import RunFolder
from modelport.registry import runs as registry
from modelport.workspace import Workspace

__all__ = ["Progress", "ProgressView", "follow", "interactive", "snapshot"]

_MILESTONES = (10, 25, 50, 75, 90, 100)


@dataclass(frozen=True)
class Progress:
    run_id: str
    status: str
    planned_items: int
    done_items: int
    failed_items: int
    mini_batches: int
    finished_batches: int
    failed_batches: int
    reused_batches: int
    error: str | None

    @property
    def final(self) -> bool:
        return self.status in registry.FINAL


def snapshot(ws: Workspace, run_id: str) -> Progress:
    record = registry.get_run(ws, run_id)
    path = RunFolder.of(ws, run_id).journal
    counts: dict[str, Any] = {}
    if path.is_file():
        try:
            journal = Journal(path, readonly=True)
            try:
                t = journal.totals()
            finally:
                journal.close()
            counts = {
                "planned_items": t.planned_items,
                "done_items": t.done_items,
                "failed_items": t.failed_items,
                "mini_batches": t.mini_batches,
                "finished_batches": t.finished_batches,
                "failed_batches": t.failed_batches,
                "reused_batches": t.reused_batches,
            }
        except Exception:  # being created this very moment: no numbers yet
            counts = {}
    return Progress(
        run_id=run_id,
        status=record.status,
        planned_items=counts.get("planned_items", 0),
        done_items=counts.get("done_items", 0),
        failed_items=counts.get("failed_items", 0),
        mini_batches=counts.get("mini_batches", 0),
        finished_batches=counts.get("finished_batches", 0),
        failed_batches=counts.get("failed_batches", 0),
        reused_batches=counts.get("reused_batches", 0),
        error=record.error,
    )


def interactive(file: TextIO) -> bool:
    """Whether ``file`` is watched by a person: a terminal, or a notebook's output."""
    if _in_notebook():
        return True
    isatty = getattr(file, "isatty", None)
    return bool(isatty and isatty())


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class ProgressView:
    """Shows one batch run's progress on ``file`` (default stderr for a bar, stdout for lines).

    Call :meth:`update` as often as you like (it reads the journal), then :meth:`close`.
    """

    def __init__(
        self, ws: Workspace, run_id: str, *, file: TextIO | None = None, bar: bool | None = None
    ) -> None:
        self.ws = ws
        self.run_id = run_id
        self.file = file if file is not None else (sys.stderr if bar else sys.stdout)
        self.bar_wanted = interactive(self.file) if bar is None else bar
        self._bar: Any = None
        self._shown = 0
        self._milestone = 0
        self._started = time.monotonic()
        self._first_done: int | None = None

    def update(self) -> Progress:
        p = snapshot(self.ws, self.run_id)
        if self.bar_wanted:
            self._update_bar(p)
        else:
            self._update_lines(p)
        return p

    def _update_bar(self, p: Progress) -> None:
        if self._bar is None:
            if not p.planned_items:
                return
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=p.planned_items,
                initial=p.done_items,
                unit="item",
                desc=self.run_id if len(self.run_id) <= 40 else "batch",
                file=self.file,
                dynamic_ncols=True,
                smoothing=0.1,
            )
            self._shown = p.done_items
        if p.planned_items != self._bar.total:  # tabular counts settle as mini-batches are read
            self._bar.total = max(p.planned_items, p.done_items)
        if p.done_items > self._shown:
            self._bar.update(p.done_items - self._shown)
            self._shown = p.done_items
        self._bar.set_postfix(failed=p.failed_items, refresh=False)

    def _update_lines(self, p: Progress) -> None:
        if not p.planned_items:
            return
        if self._first_done is None:
            self._first_done = p.done_items  # reused items do not make the rate
        pct = 100 * p.done_items // p.planned_items
        reached = self._milestone
        while reached < len(_MILESTONES) and pct >= _MILESTONES[reached]:
            reached += 1
        if reached > self._milestone:  # several passed since the last look: one line for the last
            self._milestone = reached
            elapsed = time.monotonic() - self._started
            rate = (p.done_items - self._first_done) / elapsed if elapsed > 0 else 0.0
            print(
                f"{self.run_id}: {_MILESTONES[reached - 1]}% ({p.done_items}/{p.planned_items} items, "
                f"{rate:.1f} items/s, {p.failed_items} failed)",
                file=self.file,
                flush=True,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def follow(
    ws: Workspace, run_id: str, *, file: TextIO | None = None, bar: bool | None = None, poll: float = 0.25
) -> registry.RunRecord:
    """Show a batch run's progress until it ends; returns its final record."""
    view = ProgressView(ws, run_id, file=file, bar=bar)
    try:
        while True:
            p = view.update()
            if p.final:
                break
            time.sleep(poll)
    finally:
        view.close()
    return registry.get_run(ws, run_id)
