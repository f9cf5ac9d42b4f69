"""The run's journal: the plan, and every finished mini-batch with its rows, in one SQLite file.

This is what makes a batch run's output exactly-once. A finished mini-batch is committed here,
rows included, in one transaction, *before* its rows are appended to the output file; each
commit takes the next sequence number and the output offset where its rows go. The output file
is therefore always a prefix of the journal's rows in sequence order, whatever instant the
supervisor was killed at, and :func:`modelport.jobs.batch.output.OutputFile.reconcile` restores
it from the journal on restart (cut what no commit covers, append what the file lacks). A
mini-batch is either in the journal (never scored again) or not (scored again, from scratch).

WAL mode with ``synchronous=NORMAL``: a commit survives the process being killed (the WAL write
happened); a power cut may lose the last commits, and then their rows are cut from the output
and scored again.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from modelport.jobs.batch.plan import MiniBatch

__all__ = ["Finished", "Journal", "Totals"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plan (
    idx INTEGER PRIMARY KEY, input TEXT NOT NULL, items INTEGER NOT NULL, payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS finished (
    idx INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    ok INTEGER NOT NULL,            -- 1: run() returned; 0: failed after run_max_try tries
    items INTEGER NOT NULL,
    failed_items INTEGER NOT NULL,  -- items without a returned row (all of them when not ok)
    tries INTEGER NOT NULL,
    rows BLOB,                      -- the encoded append_row lines (NULL for summary_only)
    out_start INTEGER NOT NULL,     -- where they start in the output file
    out_len INTEGER NOT NULL,
    error TEXT,
    slot TEXT,
    seconds REAL,
    finished_time REAL NOT NULL,
    reused_from TEXT                -- the run it was scored in, when carried over from another run
);
"""


@dataclass(frozen=True)
class Finished:
    idx: int
    seq: int
    ok: bool
    items: int
    failed_items: int
    tries: int
    out_start: int
    out_len: int
    error: str | None


@dataclass(frozen=True)
class Totals:
    """Counts over the plan and what is finished (for progress, thresholds and reports)."""

    mini_batches: int
    planned_items: int
    done_batches: int  # finished ok
    failed_batches: int  # finished not ok
    done_items: int  # items of finished mini-batches (ok or not), as read by the workers
    failed_items: int  # items without a row: failed mini-batches' and missing rows
    reused_batches: int
    first_finished: float | None
    last_finished: float | None

    @property
    def succeeded_items(self) -> int:
        return self.done_items - self.failed_items

    @property
    def finished_batches(self) -> int:
        return self.done_batches + self.failed_batches


class Journal:
    """One run's journal file; a single writer (the supervisor), any number of readers."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        if readonly:
            self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=10)
        else:
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=30)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # -- the plan --------------------------------------------------------------------------------
    def has_plan(self) -> bool:
        return self.conn.execute("SELECT value FROM meta WHERE key = 'planned'").fetchone() is not None

    def save_plan(self, batches: Sequence[MiniBatch]) -> None:
        with self._tx():
            self.conn.execute("DELETE FROM plan")
            self.conn.executemany(
                "INSERT INTO plan (idx, input, items, payload) VALUES (?, ?, ?, ?)",
                [(b.index, b.input, b.items, b.payload_json()) for b in batches],
            )
            self.conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('planned', ?)", (str(time.time()),)
            )

    def plan(self) -> list[MiniBatch]:
        rows = self.conn.execute("SELECT idx, input, items, payload FROM plan ORDER BY idx").fetchall()
        return [MiniBatch(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- finished mini-batches -------------------------------------------------------------------
    def record(
        self,
        idx: int,
        *,
        ok: bool,
        items: int,
        failed_items: int,
        tries: int,
        rows: bytes | None,
        error: str | None = None,
        slot: str | None = None,
        seconds: float | None = None,
        reused_from: str | None = None,
    ) -> Finished:
        """Commit mini-batch ``idx`` as finished; returns where its rows go in the output file."""
        data = rows if ok else None
        with self._tx():
            # The newest record ends the output (offsets grow with seq): one index lookup, where
            # MAX(out_start + out_len) would scan every record on every commit.
            last = self.conn.execute(
                "SELECT seq, out_start + out_len FROM finished ORDER BY seq DESC LIMIT 1"
            ).fetchone()
            seq, end = (1, 0) if last is None else (last[0] + 1, last[1])
            self.conn.execute(
                "INSERT INTO finished (idx, seq, ok, items, failed_items, tries, rows, out_start, out_len, "
                "error, slot, seconds, finished_time, reused_from) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    idx,
                    seq,
                    int(ok),
                    items,
                    failed_items,
                    tries,
                    data,
                    end,
                    len(data or b""),
                    error,
                    slot,
                    seconds,
                    time.time(),
                    reused_from,
                ),
            )
        return Finished(idx, seq, ok, items, failed_items, tries, end, len(data or b""), error)

    def finished(self) -> dict[int, Finished]:
        rows = self.conn.execute(
            "SELECT idx, seq, ok, items, failed_items, tries, out_start, out_len, error FROM finished"
        ).fetchall()
        return {r[0]: Finished(r[0], r[1], bool(r[2]), r[3], r[4], r[5], r[6], r[7], r[8]) for r in rows}

    def forget_failed(self) -> int:
        """Drop mini-batches that failed (so they are tried again); their rows were none."""
        with self._tx():
            cur = self.conn.execute("DELETE FROM finished WHERE ok = 0")
        return cur.rowcount

    def output_end(self) -> int:
        row = self.conn.execute(
            "SELECT out_start + out_len FROM finished ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return 0 if row is None else int(row[0])

    def rows_from(self, offset: int) -> Iterator[tuple[int, bytes]]:
        """``(out_start, rows)`` of every entry whose rows end after ``offset``, in output order."""
        cur = self.conn.execute(
            "SELECT out_start, rows FROM finished WHERE out_len > 0 AND out_start + out_len > ? ORDER BY seq",
            (offset,),
        )
        for start, rows in cur:
            yield int(start), bytes(rows)

    def totals(self) -> Totals:
        planned = self.conn.execute("SELECT COUNT(*), COALESCE(SUM(items), 0) FROM plan").fetchone()
        done = self.conn.execute(
            "SELECT COALESCE(SUM(ok), 0), COALESCE(SUM(1 - ok), 0), COALESCE(SUM(items), 0), "
            "COALESCE(SUM(failed_items), 0), COALESCE(SUM(reused_from IS NOT NULL), 0), "
            "MIN(finished_time), MAX(finished_time) FROM finished"
        ).fetchone()
        return Totals(
            mini_batches=int(planned[0]),
            planned_items=int(planned[1]),
            done_batches=int(done[0]),
            failed_batches=int(done[1]),
            done_items=int(done[2]),
            failed_items=int(done[3]),
            reused_batches=int(done[4]),
            first_finished=done[5],
            last_finished=done[6],
        )

    def import_from(self, other: Path, run_id: str) -> int:
        """Carry over the mini-batches run ``run_id`` finished ok whose plan entry is the same as
        ours (same files, same ranges), renumbering their output offsets. Returns how many."""
        src = Journal(other, readonly=True)
        try:
            theirs = {r[0]: r[1] for r in src.conn.execute("SELECT idx, payload FROM plan")}
            ours = {r[0]: r[1] for r in self.conn.execute("SELECT idx, payload FROM plan")}
            have = set(self.finished())
            rows = src.conn.execute(
                "SELECT idx, items, failed_items, tries, rows, slot, seconds, reused_from "
                "FROM finished WHERE ok = 1 ORDER BY seq"
            ).fetchall()
        finally:
            src.close()
        n = 0
        for idx, items, failed, tries, data, slot, seconds, origin in rows:
            if (
                idx in have
                or ours.get(idx) is None
                or json.loads(ours[idx]) != json.loads(theirs.get(idx, "null"))
            ):
                continue
            self.record(
                idx,
                ok=True,
                items=items,
                failed_items=failed,
                tries=tries,
                rows=None if data is None else bytes(data),
                slot=slot,
                seconds=seconds,
                reused_from=origin or run_id,
            )
            n += 1
        return n

    def checkpoint(self) -> None:
        """Make everything durable (at the end of a run)."""
        self.conn.execute("PRAGMA wal_checkpoint(FULL)")

    def _tx(self) -> _Transaction:
        return _Transaction(self.conn)


class _Transaction:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
