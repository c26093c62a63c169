"""The local workspace's state: one SQLite database in WAL mode, owned by the daemon.

Tables for assets and their versions, computes, jobs, operations and the append-only audit log.
Rows go in and out as plain dicts; the daemon's services turn them into domain records. Every
write happens inside `transaction()`, which holds the process-wide lock and one SQLite
transaction, so a crash leaves either all of a change or none of it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from console.errors import OperationFailed


def _refused(path: Path, err: sqlite3.OperationalError) -> OperationFailed:
    """SQLite refused a write (locked, full, read-only, I/O); nothing of the change was kept."""
    return OperationFailed(f"could not write {path}: {err}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS assets (
    kind TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL,
    path TEXT, spec TEXT NOT NULL, note TEXT, created_at TEXT NOT NULL,
    PRIMARY KEY (kind, name, version)
);
CREATE TABLE IF NOT EXISTS computes (
    name TEXT PRIMARY KEY, type TEXT NOT NULL, size TEXT NOT NULL, state TEXT NOT NULL,
    min_instances INTEGER NOT NULL DEFAULT 0, max_instances INTEGER NOT NULL DEFAULT 1,
    current_nodes INTEGER NOT NULL DEFAULT 0,
    idle_time_before_scale_down_s INTEGER, idle_time_before_shutdown_minutes INTEGER,
    last_activity TEXT, last_operation TEXT, spec TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS compute_usage (
    compute TEXT NOT NULL, day TEXT NOT NULL,
    node_seconds REAL NOT NULL DEFAULT 0, idle_node_seconds REAL NOT NULL DEFAULT 0,
    cost REAL NOT NULL DEFAULT 0, idle_cost REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (compute, day)
);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE, status TEXT NOT NULL, job_type TEXT NOT NULL,
    display_name TEXT, experiment_name TEXT, compute TEXT, nodes INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL, started_at TEXT, ended_at TEXT, parent TEXT,
    mlflow_run_id TEXT, error TEXT, tags TEXT NOT NULL DEFAULT '{}',
    plan TEXT NOT NULL DEFAULT '{}', pid INTEGER, pid_start TEXT, workdir TEXT
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
CREATE INDEX IF NOT EXISTS jobs_parent ON jobs (parent);
CREATE TABLE IF NOT EXISTS operations (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, target TEXT NOT NULL, status TEXT NOT NULL,
    started_at TEXT, ended_at TEXT, error TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, actor TEXT NOT NULL,
    operation TEXT NOT NULL, target TEXT NOT NULL, before TEXT, after TEXT,
    result TEXT NOT NULL, detail TEXT
);
-- The audit log is append-only: the database itself refuses edits and deletions.
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE IF NOT EXISTS endpoints (
    name TEXT PRIMARY KEY, auth_mode TEXT NOT NULL, provisioning_state TEXT NOT NULL,
    traffic TEXT NOT NULL DEFAULT '{}', mirror TEXT NOT NULL DEFAULT '{}', full_history TEXT NOT NULL DEFAULT '[]',
    router_pid INTEGER, router_pid_start TEXT, port INTEGER, spec TEXT NOT NULL, created_at TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 0, applied_revision INTEGER NOT NULL DEFAULT 0,
    pending_operations TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS deployments (
    endpoint TEXT NOT NULL, name TEXT NOT NULL, model TEXT, model_uri TEXT, instance_type TEXT NOT NULL,
    instance_count INTEGER NOT NULL, provisioning_state TEXT NOT NULL, spec TEXT NOT NULL,
    operation_id TEXT, error TEXT, created_at TEXT NOT NULL,
    PRIMARY KEY (endpoint, name)
);
CREATE TABLE IF NOT EXISTS deployment_usage (
    endpoint TEXT NOT NULL, deployment TEXT NOT NULL, day TEXT NOT NULL,
    instance_seconds REAL NOT NULL DEFAULT 0, cost REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (endpoint, deployment, day)
);
CREATE TABLE IF NOT EXISTS instances (
    endpoint TEXT NOT NULL, deployment TEXT NOT NULL, idx INTEGER NOT NULL, port INTEGER NOT NULL,
    pid INTEGER, pid_start TEXT, ready INTEGER NOT NULL DEFAULT 0, restarts INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    PRIMARY KEY (endpoint, deployment, idx)
);
CREATE TABLE IF NOT EXISTS monitors (
    name TEXT PRIMARY KEY, endpoint TEXT NOT NULL, deployment TEXT NOT NULL, spec TEXT NOT NULL,
    trigger TEXT, period_s INTEGER NOT NULL, next_run_at TEXT, last_run_at TEXT, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS drift_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT, monitor TEXT NOT NULL, endpoint TEXT, deployment TEXT,
    window_start TEXT NOT NULL, window_end TEXT NOT NULL, report TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Columns added after a table was first released: a workspace created by older code gets them
# on open (CREATE TABLE IF NOT EXISTS leaves an existing table as it is).
ADDED_COLUMNS = (
    # The revision of an endpoint's committed state (traffic, mirror, keys, deployments) and the
    # one its router has taken: the daemon's pass pushes until the two agree.
    ("endpoints", "revision", "INTEGER NOT NULL DEFAULT 0"),
    ("endpoints", "applied_revision", "INTEGER NOT NULL DEFAULT 0"),
    ("endpoints", "pending_operations", "TEXT NOT NULL DEFAULT '[]'"),  # their ids, finished by the push
)

BUSY_TIMEOUT_S = 5  # the daemon is the only writer: a lock held longer than this is a fault

JSON_COLUMNS = frozenset({"spec", "last_operation", "tags", "plan", "before", "after", "traffic", "mirror", "full_history", "report",
                          "pending_operations"})


class Store:
    """Thread-safe access to the workspace database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt
        self._db.executescript(SCHEMA)
        for table, column, decl in ADDED_COLUMNS:
            if column not in {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
        self._depth = 0
        # Writes per table, so readers can cache derived results (the job listing) safely.
        self.writes: dict[str, int] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """One atomic unit of change; nested calls join the outer transaction."""
        with self._lock:
            if self._depth == 0:
                self._write("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self
            except sqlite3.OperationalError as err:  # locked, full, read-only, I/O: not our own bug
                self._depth -= 1
                if self._depth == 0:
                    self._rollback()
                    raise _refused(self.path, err) from None
                raise
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._rollback()
                raise
            self._depth -= 1
            if self._depth == 0:
                try:
                    self._write("COMMIT")
                except OperationFailed:
                    self._rollback()
                    raise

    def _write(self, sql: str) -> None:
        try:
            self._db.execute(sql)
        except sqlite3.OperationalError as err:
            raise _refused(self.path, err) from None

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def rows(self, sql: str, params: tuple | Mapping[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [_decode(row) for row in self._db.execute(sql, params)]

    def table(self, sql: str, params: tuple | Mapping[str, Any] = ()) -> tuple[list[str], list[list[Any]]]:
        """Column names and rows as lists: the compact form for large listings."""
        with self._lock:
            cursor = self._db.execute(sql, params)
            cursor.row_factory = None
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        decode = [i for i, c in enumerate(columns) if c in JSON_COLUMNS]
        out = []
        for row in rows:
            row = list(row)
            for i in decode:
                if isinstance(row[i], str):
                    row[i] = {} if row[i] == "{}" else json.loads(row[i])
            out.append(row)
        return columns, out

    def row(self, sql: str, params: tuple | Mapping[str, Any] = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: tuple | Mapping[str, Any] = ()) -> Any:
        with self._lock:
            got = self._db.execute(sql, params).fetchone()
        return got[0] if got else None

    def insert(self, table: str, values: Mapping[str, Any]) -> int:
        cols = list(values)
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        with self.transaction():
            self._wrote(table)
            return self._db.execute(sql, [_encode(c, values[c]) for c in cols]).lastrowid or 0

    def insert_many(self, table: str, rows: list[Mapping[str, Any]]) -> None:
        if not rows:
            return
        cols = list(rows[0])
        sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
        with self.transaction():
            self._wrote(table)
            self._db.executemany(sql, [[_encode(c, r[c]) for c in cols] for r in rows])

    def update(self, table: str, key: Mapping[str, Any], values: Mapping[str, Any]) -> int:
        sets = ", ".join(f"{c} = ?" for c in values)
        where = " AND ".join(f"{c} = ?" for c in key)
        params = [_encode(c, v) for c, v in values.items()] + list(key.values())
        with self.transaction():
            self._wrote(table)
            return self._db.execute(f"UPDATE {table} SET {sets} WHERE {where}", params).rowcount

    def _wrote(self, table: str) -> None:
        self.writes[table] = self.writes.get(table, 0) + 1

    def execute(self, sql: str, params: tuple | Mapping[str, Any] = ()) -> int:
        with self.transaction():
            return self._db.execute(sql, params).rowcount

    def meta(self, key: str, default: str | None = None) -> str | None:
        value = self.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return default if value is None else value

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))


def _encode(column: str, value: Any) -> Any:
    if column in JSON_COLUMNS and value is not None:
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for column in JSON_COLUMNS.intersection(out):
        if isinstance(out[column], str):
            out[column] = json.loads(out[column])
    return out
