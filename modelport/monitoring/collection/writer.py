"""The writer: collected values reach the disk on a thread of their own, never on the request.

``collect()`` only appends to a bounded buffer (a deque under a lock held for O(1) work): when
the buffer holds ``buffer_mb`` the value is dropped and counted, and the request goes on. Every
``flush_interval_s`` the writer thread takes the whole buffer, turns it into CSV lines (orjson for
numbers) and appends them to each day's file with one ``write()`` per file (``O_APPEND``: the
workers of a service share a file without mixing lines). A graceful stop and a worker recycle
flush what is left (:meth:`Writer.close`); a worker killed with SIGKILL loses what was collected
since the last flush, at most ``flush_interval_s`` of rows (and a write in progress).

A full disk (or any other write error) stops nothing but collection: the rows are dropped and
counted, the error logged once, and writing is tried again every ``RETRY_S`` seconds.
"""

from __future__ import annotations

import atexit
import collections
import datetime
import errno
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelport.monitoring.collection import retention, rows
from modelport.monitoring.collection.config import CollectionConfig, Hooks

__all__ = ["Item", "Stats", "Writer", "get_writer", "shutdown"]

log = logging.getLogger("modelport.monitoring")

RETRY_S = 30.0
"""After a write error, how long collected rows are dropped before writing is tried again."""
PRUNE_EVERY_S = 60.0
"""How often a worker applies the retention settings (also when it starts)."""
IDLE_CLOSE_S = 120.0
"""A file not written for this long is closed (yesterday's, once the day turned)."""


@dataclass(slots=True)
class Item:
    """One ``collect()`` call waiting to be written."""

    sink: Any
    """Its collector's file identity (:class:`modelport.monitoring.collection.collector.Sink`)."""
    day: datetime.date
    value: Any
    extra: tuple[Any, ...]
    """The correlation values appended to each row (empty for none)."""
    nbytes: int


@dataclass
class Stats:
    """Rows written and dropped by this process, by designation (and reason)."""

    written: dict[str, int] = field(default_factory=dict)
    dropped: dict[tuple[str, str], int] = field(default_factory=dict)
    as_json: int = 0
    """Rows that were not tabular (or not the file's width) and went in as JSON."""


@dataclass(slots=True)
class _File:
    fd: int
    width: int
    last_write: float


class Writer:
    """The process's writer (one per worker; see :func:`get_writer`)."""

    def __init__(self, config: CollectionConfig, hooks: Hooks | None = None) -> None:
        self.config = config
        self.hooks = hooks or Hooks()
        self.stats = Stats()
        self._stats_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending: collections.deque[Item] = collections.deque()
        self._bytes = 0
        self._cap = int(config.buffer_mb * 2**20)
        self._max_bytes = int(config.max_mb * 2**20)
        self._files: dict[Path, _File] = {}
        self._paused_until = 0.0  # after a write error: drop until then
        self._pause_reason = ""
        self._over_cap_day: datetime.date | None = None
        self._used_bytes = 0  # the service's folder, at the last prune, plus what this worker wrote
        self._pruned_at = 0.0
        self._wake = threading.Event()
        self._flushed = threading.Condition()
        self._started = 0  # writing cycles begun, and finished: for flush() to wait on
        self._generation = 0
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name="modelport-collect", daemon=True)
        self._thread.start()

    # -- the request side ------------------------------------------------------------------------
    def put(self, item: Item, designation: str, rows_hint: int) -> bool:
        """Queue ``item``; False (dropped and counted) when the buffer is full or writing is paused."""
        now = time.monotonic()
        with self._lock:
            reason = None
            if self._closing:
                reason = "stopped"
            elif now < self._paused_until:
                reason = self._pause_reason
            elif self._bytes + item.nbytes > self._cap:
                reason = "buffer_full"
            else:
                self._bytes += item.nbytes
                self._pending.append(item)
                return True
        self._dropped(designation, reason, rows_hint)
        return False

    def _dropped(self, designation: str, reason: str, count: int) -> None:
        key = (designation, reason)
        with self._stats_lock:  # request threads and the writer both count
            self.stats.dropped[key] = self.stats.dropped.get(key, 0) + count
        if self.hooks.dropped is not None:
            self.hooks.dropped(designation, reason, count)

    # -- flushing ----------------------------------------------------------------------------------
    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything queued so far now; True once it is on disk (False: timed out)."""
        with self._flushed:
            target = self._started + 1  # a cycle that begins after this call
            self._wake.set()
            return self._flushed.wait_for(lambda: self._generation >= target, timeout)

    def close(self, timeout: float = 10.0) -> bool:
        """Flush, then stop the thread and close the files; later ``collect()`` calls are dropped."""
        if not self._thread.is_alive():
            return True
        done = self.flush(timeout)
        with self._lock:
            self._closing = True
        self._wake.set()
        self._thread.join(timeout)
        return done

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.config.flush_interval_s)
            self._wake.clear()
            with self._flushed:
                self._started += 1
                cycle = self._started
            closing = self._closing
            try:
                self._drain()
                self._maintain()
            except Exception:  # a bug of ours: collection must never take the worker down
                log.exception("model data collection: writing collected rows failed")
            with self._flushed:
                self._generation = cycle
                self._flushed.notify_all()
            if closing:
                self._close_files()
                return

    def _drain(self) -> None:
        with self._lock:
            if not self._pending:
                return
            batch, self._pending = self._pending, collections.deque()
            self._bytes = 0
        groups: dict[tuple[Any, datetime.date], list[Item]] = {}
        for item in batch:
            groups.setdefault((item.sink, item.day), []).append(item)
        del batch
        for (sink, day), items in groups.items():
            self._write_group(sink, day, items)

    def _write_group(self, sink: Any, day: datetime.date, items: list[Item]) -> None:
        designation = sink.designation
        path = sink.path(day)
        try:
            state = self._file(path, sink, items[0])
        except OSError as exc:
            self._failed(exc, path, designation, len(items))
            return
        data, count, as_json = rows.encode_many([(item.value, item.extra) for item in items], state.width)
        self.stats.as_json += as_json
        if as_json and not sink.warned_json:
            sink.warned_json = True
            log.warning(
                "model data collection (%s/%s): a collected value is not a table of %d column(s); "
                "written as JSON in the first column",
                sink.model,
                designation,
                state.width,
            )
        if self._over_limit(day, len(data)):
            self._dropped(designation, "retention", count)
            return
        try:
            _write_all(state.fd, data)
        except OSError as exc:
            self._failed(exc, path, designation, count)
            _end_line(state.fd)
            return
        state.last_write = time.monotonic()
        self._used_bytes += len(data)
        self.stats.written[designation] = self.stats.written.get(designation, 0) + count
        if self.hooks.written is not None:
            self.hooks.written(designation, count)

    def _failed(self, exc: OSError, path: Path, designation: str, count: int) -> None:
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        reason = "disk_full" if full else "write_error"
        self._dropped(designation, reason, count)
        with self._lock:
            first = time.monotonic() >= self._paused_until
            self._paused_until = time.monotonic() + RETRY_S
            self._pause_reason = reason
        if first:
            log.error(
                "model data collection stopped for %.0f s: cannot write %s: %s (rows collected meanwhile "
                "are dropped and counted as %s; the service goes on)",
                RETRY_S,
                path,
                exc.strerror or exc,
                reason,
            )
        self._forget(path)

    def _over_limit(self, day: datetime.date, size: int) -> bool:
        """Whether ``size`` more bytes would take the service past ``max_mb`` (see retention)."""
        if self._over_cap_day == day:
            return True
        if self._used_bytes + size <= self._max_bytes:
            return False
        self._prune()  # the oldest days may go
        if self._used_bytes + size <= self._max_bytes:
            return False
        if self._over_cap_day != day:
            log.warning(
                "model data collection: the service's collected data reached its limit of %.0f MB "
                "(retention max_mb); rows are dropped until older days can be deleted",
                self.config.max_mb,
            )
        self._over_cap_day = day
        return True

    # -- files -------------------------------------------------------------------------------------
    def _file(self, path: Path, sink: Any, first: Item) -> _File:
        state = self._files.get(path)
        if state is not None:
            return state
        header = _read_header(path)
        if header is None:
            header = _create(path, rows.csv_line(sink.header(first.value)))
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        _end_line(fd)  # a line cut short by a full disk must not swallow the next one
        width = max(len(header) - len(sink.extra_columns), 1)
        state = _File(fd, width, time.monotonic())
        self._files[path] = state
        return state

    def _forget(self, path: Path) -> None:
        state = self._files.pop(path, None)
        if state is not None:
            os.close(state.fd)

    def _close_files(self) -> None:
        for path in list(self._files):
            self._forget(path)

    def _maintain(self) -> None:
        now = time.monotonic()
        for path, state in list(self._files.items()):
            if now - state.last_write > IDLE_CLOSE_S:
                self._forget(path)
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self._prune()

    def _prune(self) -> None:
        self._pruned_at = time.monotonic()
        c = self.config
        from modelport.monitoring.collection.layout import service_folder

        try:
            folder = service_folder(c.root, c.workspace, c.service)
        except ValueError:
            return
        result = retention.prune(folder, c.retention_days, self._max_bytes)
        self._used_bytes = result.total_bytes
        today = datetime.datetime.now(datetime.UTC).date()
        if self._over_cap_day is not None and (self._over_cap_day != today or result.removed):
            self._over_cap_day = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _end_line(fd: int) -> None:
    """Append a newline if the file does not end with one (a write cut short)."""
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")
    except OSError:
        pass


def _read_header(path: Path) -> list[str] | None:
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as f:
            line = f.readline()
    except FileNotFoundError:
        return None
    if not line:
        return None
    return next(csv.reader([line]))


def _create(path: Path, header: bytes) -> list[str]:
    """Create ``path`` holding ``header``, atomically: a reader (or another worker) never sees it
    without its header. If another worker made it first, its header wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_all(fd, header)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    found = _read_header(path)
    if found is None:  # emptied under us: write it again (never happens in practice)
        raise OSError(errno.EIO, "collected data file has no header", str(path))
    return found


_writer: Writer | None = None
_writer_lock = threading.Lock()


def get_writer(config: CollectionConfig, hooks: Hooks) -> Writer:
    """This process's writer for ``config`` (made on first use)."""
    global _writer
    with _writer_lock:
        if _writer is None or _writer.config != config:
            if _writer is not None:
                _writer.close()
            _writer = Writer(config, hooks)
        return _writer


def shutdown(timeout: float = 10.0) -> bool:
    """Flush and stop this process's writer (a graceful stop, a recycle, the interpreter's exit)."""
    global _writer
    with _writer_lock:
        writer, _writer = _writer, None
    return writer.close(timeout) if writer is not None else True


def current_writer() -> Writer | None:
    return _writer


atexit.register(shutdown, 5.0)
