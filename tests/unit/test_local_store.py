"""console/local/store.py: WAL mode, all-or-nothing transactions, an append-only audit table."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from console.local.store import Store


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "state.db")
    yield s
    s.close()


def _job(name: str, **extra) -> dict:
    return {"name": name, "status": "Queued", "job_type": "command", "created_at": "2025-01-01T00:00:00+00:00",
            **extra}


def _audit(**extra) -> dict:
    return {"time": "2025-01-01T00:00:00+00:00", "actor": "alice", "operation": "jobs.submit", "target": "j1",
            "result": "Succeeded", **extra}


def _other_connection(store: Store) -> sqlite3.Connection:
    """A second, independent connection to the same file, as another process would open it."""
    return sqlite3.connect(store.path, isolation_level=None, timeout=5)


def test_wal_mode_is_on(store):
    assert store.scalar("PRAGMA journal_mode") == "wal"
    with _other_connection(store) as other:  # persistent: every later connection sees WAL too
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_schema_has_the_documented_tables(store):
    tables = {r["name"] for r in store.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"assets", "computes", "compute_usage", "jobs", "operations", "audit", "meta"} <= tables


def test_reopening_keeps_data_and_schema(tmp_path):
    first = Store(tmp_path / "state.db")
    first.insert("jobs", _job("j1"))
    first.close()
    again = Store(tmp_path / "state.db")  # CREATE ... IF NOT EXISTS: a second open is harmless
    try:
        assert [r["name"] for r in again.rows("SELECT name FROM jobs")] == ["j1"]
    finally:
        again.close()


def test_json_columns_round_trip(store):
    store.insert("jobs", _job("j1", tags={"team": "churn"}, plan={"command": "echo hi", "after": ["x"]}))
    row = store.row("SELECT * FROM jobs WHERE name = ?", ("j1",))
    assert row["tags"] == {"team": "churn"}
    assert row["plan"] == {"command": "echo hi", "after": ["x"]}
    assert store.row("SELECT * FROM jobs WHERE name = ?", ("missing",)) is None


def test_exception_in_transaction_rolls_everything_back(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.insert("jobs", _job("j1"))
            store.insert("audit", _audit())
            store.set_meta("k", "v")
            raise RuntimeError("boom")
    assert store.rows("SELECT * FROM jobs") == []
    assert store.rows("SELECT * FROM audit") == []
    assert store.meta("k") is None
    # The store is usable afterwards: no transaction was left open.
    store.insert("jobs", _job("j2"))
    assert [r["name"] for r in store.rows("SELECT name FROM jobs")] == ["j2"]


def test_exception_in_nested_transaction_rolls_back_the_outer_one(store):
    store.insert("jobs", _job("before"))
    with pytest.raises(ValueError):
        with store.transaction():
            store.insert("jobs", _job("outer"))
            with store.transaction():
                store.insert("jobs", _job("inner"))
                raise ValueError("boom")
    assert [r["name"] for r in store.rows("SELECT name FROM jobs")] == ["before"]
    store.insert("jobs", _job("after"))
    assert {r["name"] for r in store.rows("SELECT name FROM jobs")} == {"before", "after"}


def test_failed_statement_inside_transaction_rolls_back_earlier_writes(store):
    store.insert("jobs", _job("j1"))
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction():
            store.insert("jobs", _job("j2"))
            store.insert("jobs", _job("j1"))  # UNIQUE(name)
    assert [r["name"] for r in store.rows("SELECT name FROM jobs")] == ["j1"]


def test_insert_many_is_all_or_nothing(store):
    with pytest.raises(sqlite3.IntegrityError):
        store.insert_many("jobs", [_job("a"), _job("b"), _job("a")])
    assert store.rows("SELECT * FROM jobs") == []


def test_other_connections_never_see_a_transaction_half_done(store):
    inside, release = threading.Event(), threading.Event()

    def writer():
        with store.transaction():
            store.insert("jobs", _job("parent", job_type="pipeline"))
            store.insert("jobs", _job("parent_step", parent="parent"))
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert inside.wait(5)
        with _other_connection(store) as other:
            assert other.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0
    finally:
        release.set()
        thread.join(5)
    with _other_connection(store) as other:
        assert other.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 2


def test_update_and_meta(store):
    store.insert("jobs", _job("j1"))
    assert store.update("jobs", {"name": "j1"}, {"status": "Running", "pid": 42}) == 1
    assert store.row("SELECT status, pid FROM jobs WHERE name = 'j1'") == {"status": "Running", "pid": 42}
    assert store.update("jobs", {"name": "nope"}, {"status": "Running"}) == 0
    store.set_meta("schema", "1")
    store.set_meta("schema", "2")
    assert store.meta("schema") == "2"
    assert store.meta("missing", "dflt") == "dflt"


def test_audit_rows_cannot_be_updated(store):
    store.insert("audit", _audit())
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.execute("UPDATE audit SET actor = 'mallory'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.update("audit", {"id": 1}, {"result": "Failed"})
    assert store.row("SELECT actor, result FROM audit") == {"actor": "alice", "result": "Succeeded"}


def test_audit_rows_cannot_be_deleted(store):
    store.insert("audit", _audit())
    store.insert("audit", _audit(target="j2"))
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.execute("DELETE FROM audit WHERE target = 'j1'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.execute("DELETE FROM audit")
    assert store.scalar("SELECT COUNT(*) FROM audit") == 2
    # ... and the store still works after the refused statements.
    store.insert("audit", _audit(target="j3"))
    assert store.scalar("SELECT COUNT(*) FROM audit") == 3


def test_audit_is_append_only_for_any_connection(store):
    store.insert("audit", _audit())
    with _other_connection(store) as other:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            other.execute("UPDATE audit SET detail = 'edited'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            other.execute("DELETE FROM audit")
    assert store.scalar("SELECT COUNT(*) FROM audit") == 1


def test_concurrent_writers_from_threads(store):
    def write(prefix: str):
        for i in range(50):
            with store.transaction():
                store.insert("jobs", _job(f"{prefix}-{i}"))
                store.insert("audit", _audit(target=f"{prefix}-{i}"))

    threads = [threading.Thread(target=write, args=(p,)) for p in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert store.scalar("SELECT COUNT(*) FROM jobs") == 200
    assert store.scalar("SELECT COUNT(*) FROM audit") == 200
