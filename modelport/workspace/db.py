"""The workspace's metadata database: SQLite in WAL mode, one transaction per change.

The schema is versioned with ``PRAGMA user_version``; :data:`MIGRATIONS` moves an older file
forward, one step at a time, inside a transaction. A newer file than this release knows is refused
rather than guessed at.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelport.errors import StorageError

# Each entry moves the schema from version i to i + 1.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE models (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        description TEXT,
        tags TEXT NOT NULL DEFAULT '{}',
        properties TEXT NOT NULL DEFAULT '{}',
        framework TEXT,
        framework_version TEXT,
        created_time TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('file', 'folder')),
        root TEXT NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE model_files (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        relpath TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (name, version, relpath),
        FOREIGN KEY (name, version) REFERENCES models (name, version) ON DELETE CASCADE
    );
    CREATE TABLE environments (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        spec TEXT NOT NULL,
        spec_hash TEXT NOT NULL,
        created_time TEXT NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE services (
        name TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        created_time TEXT NOT NULL,
        updated_time TEXT NOT NULL
    );
    """,
    # 2: datasets (versions of a definition: sources and how to read them), what a model version
    # was registered with beyond its files (sample datasets, resource configuration, run), and
    # experiments with their runs, metrics and files.
    """
    CREATE TABLE datasets (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('file', 'tabular')),
        definition TEXT NOT NULL,
        definition_hash TEXT NOT NULL,
        description TEXT,
        tags TEXT NOT NULL DEFAULT '{}',
        created_time TEXT NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE TABLE model_extras (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        extras TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (name, version),
        FOREIGN KEY (name, version) REFERENCES models (name, version) ON DELETE CASCADE
    );
    CREATE TABLE experiments (
        name TEXT PRIMARY KEY,
        created_time TEXT NOT NULL
    );
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        experiment TEXT NOT NULL REFERENCES experiments (name),
        number INTEGER NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        created_time TEXT NOT NULL,
        start_time TEXT,
        end_time TEXT,
        display_name TEXT,
        tags TEXT NOT NULL DEFAULT '{}',
        properties TEXT NOT NULL DEFAULT '{}',
        details TEXT NOT NULL DEFAULT '{}',
        error TEXT,
        UNIQUE (experiment, number)
    );
    CREATE TABLE run_metrics (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        step INTEGER,
        logged_time TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE run_files (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (run_id, path)
    );
    """,
    # 3: child runs (a pipeline's step runs, a batch step's run): the run that started them.
    """
    ALTER TABLE runs ADD COLUMN parent_id TEXT REFERENCES runs (id) ON DELETE CASCADE;
    CREATE INDEX runs_by_parent ON runs (parent_id);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """A connection per thread to one SQLite file, with ``transaction()`` for writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.read_only = False
        self._local = threading.local()
        if os.access(path.parent, os.W_OK):
            with self.transaction() as conn:
                self._migrate(conn)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._open()
            except sqlite3.Error as exc:
                raise self._error(exc) from exc
            self._local.conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        if not os.access(self.path.parent, os.W_OK):
            # A read-only filesystem: WAL needs to write its index, so open the file immutable.
            # Reads work; any write fails with a clear "read-only" error.
            conn = sqlite3.connect(
                f"file:{self.path}?mode=ro&immutable=1", uri=True, timeout=60.0, isolation_level=None
            )
            conn.row_factory = sqlite3.Row
            self.read_only = True
            return conn
        conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=60000")
        return conn

    def _error(self, exc: sqlite3.Error) -> StorageError:
        text = str(exc)
        if self.read_only or "readonly" in text:
            return StorageError(f"metadata database {self.path} is on a read-only filesystem: {text}")
        if "not a database" in text or "malformed" in text:
            return StorageError(f"metadata database {self.path} is corrupted: {text}")
        return StorageError(f"metadata database {self.path}: {text}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``): all of it is visible, or none of it."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise self._error(exc) from exc

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        try:
            return list(self._connect().execute(sql, params))
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def execute(self, conn: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        """Run one statement inside a transaction, turning SQLite errors into StorageError."""
        try:
            return conn.execute(sql, params)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def _migrate(self, conn: sqlite3.Connection) -> None:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise StorageError(
                f"metadata database {self.path} has schema version {current}, newer than this "
                f"modelport understands ({SCHEMA_VERSION}); upgrade modelport"
            )
        for version in range(current, SCHEMA_VERSION):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
