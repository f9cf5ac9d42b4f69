"""How a build shows its progress: live on a terminal, a few milestones in a log.

A build's phases (resolve, download, install, compile) reach the caller's ``log`` as lines. The
steps inside a phase (each download, each compiled package: 30 of them for the tutorial's
environment) are a bar redrawn in place on one line, and only when standard output is a
terminal, where the deploying person watches; in a notebook, a pipe or a CI log they are left
out, since a line per step there is noise (issue 19: the tutorial's first deploy printed 33 bar
lines into a non-interactive log). Milestones (a phase starts, a phase ends) are logged either way.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress", "bar", "steps_of"]


def bar(done: int, total: int, width: int = 20) -> str:
    """``[#####...............] 250/1000``."""
    filled = round(width * done / total) if total else width
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


class Progress:
    """The ``log`` of a build, plus :meth:`step`: a status line redrawn in place on a terminal.

    ``prefix`` starts every line (``"environment 'tutorial-env': "``). A logged line first clears
    the status line, so the two never mix; :meth:`done` clears it at the end. ``stream`` is where
    the caller's lines appear (standard output: where ``Model.deploy`` and the CLI print).
    """

    def __init__(self, log: Callable[[str], None], prefix: str = "", stream: TextIO | None = None) -> None:
        self._log = log
        self.prefix = prefix
        self.stream = stream if stream is not None else sys.stdout
        isatty = getattr(self.stream, "isatty", None)
        self.live = bool(isatty is not None and isatty())
        self._shown = False

    def __call__(self, line: str) -> None:
        """Log a milestone line."""
        self._clear()
        self._log(self.prefix + line)

    def step(self, text: str) -> None:
        """Show where a phase is, on a terminal only (replacing the previous step)."""
        if not self.live:
            return
        width = shutil.get_terminal_size((100, 24)).columns - 1
        self.stream.write("\r" + (self.prefix + text)[:width] + "\x1b[K")
        self.stream.flush()
        self._shown = True

    def done(self) -> None:
        """Clear the status line (a build ends or fails)."""
        self._clear()

    def _clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


def steps_of(log: Callable[[str], None]) -> Callable[[str], None]:
    """Where ``log``'s steps go: a :class:`Progress`'s status line, else nowhere (a plain ``log``
    hears milestones only)."""
    return log.step if isinstance(log, Progress) else (lambda _text: None)
