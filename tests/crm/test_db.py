"""The database: pragmas, numbered migrations, online backup, validated restore, wipe.

Real SQLite files in a temporary data dir; the hub guard (tests/hubguard.py) fails any test that
blocks the hub for more than 20 ms, so the backup of a few MiB below also proves it runs off the hub.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import gevent
import pytest
from hubguard import MAX_BLOCKING_TIME
from peewee import SqliteDatabase

from appliance.crm import audit, db, users


def _count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def _set_version(path: Path, version: int) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(f"PRAGMA user_version = {version}")
        conn.commit()
    finally:
        conn.close()


def test_pragmas_and_schema_version(data_dir: Path) -> None:
    def pragma(name: str) -> object:
        return db.execute(f"PRAGMA {name}")[0][0]

    assert pragma("journal_mode") == "wal"
    assert pragma("synchronous") == 2           # FULL
    assert pragma("foreign_keys") == 1
    assert pragma("busy_timeout") == db.BUSY_TIMEOUT_MS
    assert db.user_version() == db.SCHEMA_VERSION == len(db.MIGRATIONS) >= 2
    assert (data_dir / db.DB_FILENAME).exists()
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "audit_log"} <= tables
    # opening again is idempotent: nothing re-applied
    db.init_db(data_dir)
    assert db.user_version() == db.SCHEMA_VERSION


def test_migrations_record_each_step_in_user_version(tmp_path: Path) -> None:
    applied: list[int] = []

    def m1(d: SqliteDatabase) -> None:
        d.execute_sql("CREATE TABLE one (x INTEGER)")
        applied.append(1)

    def m2(d: SqliteDatabase) -> None:
        d.execute_sql("CREATE TABLE two (x INTEGER)")
        applied.append(2)

    db.init_db(tmp_path, migrations=[m1])
    assert db.user_version() == 1
    assert db.migrate(migrations=[m1, m2]) == 2
    assert db.user_version() == 2 and applied == [1, 2]
    db.close_db()


def test_failing_migration_keeps_previous_version(data_dir: Path) -> None:
    def broken(d: SqliteDatabase) -> None:
        d.execute_sql("CREATE TABLE half_done (x INTEGER)")
        d.execute_sql("INSERT INTO users_typo VALUES (1)")     # fails: no such table

    before = db.user_version()
    with pytest.raises(db.MigrationError, match=f"migration {before + 1}"):
        db.migrate(migrations=[*db.MIGRATIONS, broken])
    assert db.user_version() == before
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert "half_done" not in tables            # rolled back with the failed step
    # the database still works at the old version
    users.create_user("alice", "correct horse battery", "agent")
    assert users.get_user("alice") is not None


def test_failing_first_migration_leaves_version_zero(tmp_path: Path) -> None:
    def broken(d: SqliteDatabase) -> None:
        raise RuntimeError("disk on fire")

    with pytest.raises(db.MigrationError, match="disk on fire"):
        db.init_db(tmp_path, migrations=[broken])
    assert db.user_version() == 0
    db.close_db()


def test_database_from_newer_firmware_is_refused(data_dir: Path) -> None:
    path = db.db_path()
    db.close_db()
    _set_version(path, db.SCHEMA_VERSION + 1)
    with pytest.raises(db.SchemaTooNew):
        db.init_db(data_dir)
    db.close_db()


def test_backup_restore_round_trip(data_dir: Path, tmp_path: Path) -> None:
    users.create_user("alice", "correct horse battery", "agent")
    audit.record("before_backup", actor="test", source="system")
    target = tmp_path / "backup.db"
    result = db.backup_to(target)
    assert result.ok and result.problems == []
    assert result.size == target.stat().st_size > 0
    assert not target.with_name("backup.db.part").exists()
    assert not Path(str(target) + "-wal").exists()          # a self-contained file
    assert _count(target, "audit_log") == 1

    users.create_user("bob", "another good passphrase", "agent")
    audit.record("after_backup", actor="test", source="system")
    restored = db.restore_from(target)
    assert restored.version == db.SCHEMA_VERSION
    assert users.get_user("alice") is not None and users.get_user("bob") is None
    assert [r.action for r in audit.recent(10)] == ["before_backup"]
    assert db.integrity_check() == []
    assert db.user_version() == db.SCHEMA_VERSION
    # the replaced database is kept, complete
    bak = data_dir / "rexian.db.bak"
    assert restored.backup == bak
    assert _count(bak, "audit_log") == 2 and _count(bak, "users") == 2
    assert not (data_dir / "rexian.db.restore").exists()
    # the restored database takes writes
    audit.record("after_restore", actor="test", source="system")
    assert audit.recent(1)[0].action == "after_restore"


def test_restore_migrates_an_older_backup(data_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    db.init_db(old, migrations=db.MIGRATIONS[:1])         # firmware with only the first migration
    db.backup_to(tmp_path / "v1.db")
    db.init_db(data_dir)
    result = db.restore_from(tmp_path / "v1.db")
    assert result.version == 1
    assert db.user_version() == db.SCHEMA_VERSION
    audit.record("works", actor="test", source="system")


@pytest.mark.parametrize("damage", ["random", "truncated", "pages", "empty"])
def test_restore_refuses_a_corrupt_file(data_dir: Path, tmp_path: Path, damage: str) -> None:
    users.create_user("alice", "correct horse battery", "agent")
    target = tmp_path / "bad.db"
    db.backup_to(target)
    raw = bytearray(target.read_bytes())
    if damage == "random":
        raw = bytearray(os.urandom(len(raw)))
    elif damage == "truncated":
        raw = raw[: len(raw) // 3]
    elif damage == "pages":
        page = int.from_bytes(raw[16:18], "big")
        for offset in range(page, len(raw), page):          # every page but the header page
            raw[offset + 8 : offset + page - 8] = os.urandom(page - 16)
    else:
        raw = bytearray()
    target.write_bytes(bytes(raw))
    users.create_user("bob", "another good passphrase", "agent")
    with pytest.raises(db.RestoreError, match="refused"):
        db.restore_from(target)
    # nothing changed
    assert users.get_user("bob") is not None
    assert not (data_dir / "rexian.db.bak").exists()
    assert not (data_dir / "rexian.db.restore").exists()
    assert db.integrity_check() == []


def test_restore_refuses_a_newer_schema(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "future.db"
    db.backup_to(target)
    _set_version(target, db.SCHEMA_VERSION + 1)
    with pytest.raises(db.RestoreError, match="newer"):
        db.restore_from(target)
    assert db.user_version() == db.SCHEMA_VERSION


def test_restore_refuses_a_foreign_database(data_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(db.RestoreError, match="not a Rexian database"):
        db.restore_from(other)


def _fill(path: Path, mib: int) -> None:
    conn = sqlite3.connect(path, timeout=5)
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS filler (b BLOB)")
        conn.executemany("INSERT INTO filler VALUES (?)", ((os.urandom(4000),) for _ in range(mib * 256)))
        conn.commit()
    finally:
        conn.close()


def test_backup_of_a_busy_database_keeps_the_hub_free(data_dir: Path, tmp_path: Path) -> None:
    db.off_hub(_fill, db.db_path(), 6)         # 6 MiB, written from a worker thread
    gaps: list[float] = []
    done = gevent.event.Event()

    def ticker() -> None:
        last = time.monotonic()
        while not done.is_set():
            gevent.sleep(0.002)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    def writer() -> None:
        for i in range(20):
            audit.record("during_backup", actor="test", source="system", details={"i": i})
            gevent.sleep(0.005)

    tick = gevent.spawn(ticker)
    write = gevent.spawn(writer)
    result = db.backup_to(tmp_path / "big.db")
    write.join()
    done.set()
    tick.join()
    assert result.ok and result.size > 6 * 1024 * 1024
    # The hub guard enforces the 20 ms rule. This direct measure shows the hub kept turning during the
    # backup; its bound leaves room for a GC pause or a busy CI machine.
    assert len(gaps) > 10
    assert max(gaps) < 5 * MAX_BLOCKING_TIME, f"hub stalled {max(gaps) * 1000:.0f} ms during the backup"
    assert _count(tmp_path / "big.db", "filler") == 6 * 256


def test_wipe_starts_an_empty_database(data_dir: Path) -> None:
    users.create_user("alice", "correct horse battery", "admin")
    (data_dir / "backups").mkdir()
    db.backup_to(data_dir / "backups" / "x.db")
    db.wipe(include_backups=True)
    assert users.list_users() == [] and users.needs_setup()
    assert audit.recent(5) == []
    assert db.user_version() == db.SCHEMA_VERSION
    assert not (data_dir / "backups").exists()
