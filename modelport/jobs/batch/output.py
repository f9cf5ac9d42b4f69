"""The ``append_row`` output file, kept a prefix of the journal's rows (see :mod:`.journal`).

Only the supervisor writes it, and only after the rows it appends are committed in the journal.
On a restart :meth:`OutputFile.reconcile` makes the file exactly the journal's rows: it cuts
bytes no commit covers (written by a run killed between its append and a lost commit), checks
the bytes of the entries in its last MiB, and appends what the file lacks.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import BinaryIO

from modelport.errors import InvalidInputError
from modelport.jobs.batch.journal import Journal

__all__ = ["OutputFile"]

_CHECKED_TAIL = 1024 * 1024


class OutputFile:
    def __init__(self, path: Path, journal: Journal) -> None:
        self.path = path
        self.journal = journal
        self._f: BinaryIO | None = None

    def reconcile(self, *, fresh: bool) -> str:
        """Open the file for appending and make it match the journal; ``fresh``: a new run, so
        an existing file (an older run's output) is replaced. Returns what was done, for the log."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        end = self.journal.output_end()
        f = open(self.path, "r+b" if self.path.exists() else "w+b")  # noqa: SIM115
        try:
            # One writer per output file: a second run writing it at the same time would interleave.
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise InvalidInputError(
                f"{self.path} is being written by another batch run; wait for it, cancel it, or give "
                "this run another output"
            ) from None
        if fresh:
            f.truncate(0)
        self._f = f
        size = f.seek(0, os.SEEK_END)
        note = ""
        if size > end:
            f.truncate(end)
            note = f"cut {size - end} bytes no finished mini-batch covers"
            size = end
        keep = self._verified_prefix(f, size)
        if keep < size:
            f.truncate(keep)
            note = (note + "; " if note else "") + f"rewrote from byte {keep}"
        f.seek(keep)
        added = 0
        for start, rows in self.journal.rows_from(keep):
            piece = rows[keep - start :] if start < keep else rows
            f.write(piece)
            added += len(piece)
            keep = start + len(rows)
        f.flush()
        if added:
            note = (note + "; " if note else "") + f"appended {added} bytes of finished mini-batches"
        return note

    def _verified_prefix(self, f: BinaryIO, size: int) -> int:
        """How much of the file's first ``size`` bytes agrees with the journal. The entries in
        the last MiB are compared byte for byte (after a power cut the file's tail may hold
        bytes that never reached the disk); a mismatch cuts the file where that entry starts."""
        for start, rows in self.journal.rows_from(max(0, size - _CHECKED_TAIL)):
            if start >= size:
                break
            f.seek(start)
            have = f.read(min(len(rows), size - start))
            if not rows.startswith(have):
                return start
        return size

    def append(self, start: int, rows: bytes) -> None:
        """Append one committed entry's rows (which the journal placed at ``start``)."""
        assert self._f is not None
        if rows:
            if self._f.tell() != start:  # never expected: the journal and the file disagree
                self._f.seek(start)
                self._f.truncate()
            self._f.write(rows)
            self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            self._f = None
