"""The audit log: append-only (the database refuses UPDATE and DELETE), UTC times, clean fields."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import peewee
import pytest

from appliance.crm import audit, db


def test_record_and_recent(data_dir: Path) -> None:
    first = audit.record("login", actor="maintenance", source="console")
    second = audit.record("backup", actor="maintenance", source="console", target="rexian-1.db",
                          details={"size": 4096, "integrity": "ok"})
    assert second > first
    newest, older = audit.recent(2)
    assert (newest.action, newest.target, newest.details) == ("backup", "rexian-1.db",
                                                               {"size": 4096, "integrity": "ok"})
    assert (older.action, older.actor, older.source) == ("login", "maintenance", "console")
    at = dt.datetime.fromisoformat(newest.at)
    assert at.utcoffset() == dt.timedelta(0)                  # UTC with an explicit offset
    assert newest.at.endswith("+00:00")
    assert abs((dt.datetime.now(dt.UTC) - at).total_seconds()) < 5
    assert [r.action for r in audit.recent(10, source="web")] == []
    assert len(audit.recent(1)) == 1


def test_the_database_refuses_update_and_delete(data_dir: Path) -> None:
    audit.record("login", actor="maintenance", source="console")
    with pytest.raises(peewee.IntegrityError, match="append-only"):
        db.execute("UPDATE audit_log SET actor = 'someone else'")
    with pytest.raises(peewee.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit_log")
    with pytest.raises(peewee.IntegrityError, match="append-only"):
        db.run_db(lambda: audit.AuditEntry.update(action="nothing").execute())
    with pytest.raises(peewee.IntegrityError, match="append-only"):
        db.run_db(lambda: audit.AuditEntry.delete().execute())
    # nor through another connection to the file
    conn = sqlite3.connect(db.db_path())
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM audit_log WHERE id = 1")
    finally:
        conn.close()
    entry = audit.recent(1)[0]
    assert (entry.actor, entry.action) == ("maintenance", "login")


def test_no_update_or_delete_function() -> None:
    public = {name for name in dir(audit) if not name.startswith("_")}
    assert not {n for n in public if any(w in n.lower() for w in ("update", "delete", "remove", "edit",
                                                                  "purge", "clear"))}


def test_fields_are_cleaned_and_secrets_dropped(data_dir: Path) -> None:
    audit.record("login_failed\r\n2025-01-01 forged entry", actor="eve\x1b[2J", source="console",
                 target="x" * 1000, details={"password": "hunter2", "new_password": "x", "token": "t",
                                             "user": "alice", "nested": {"secret": 1, "ok": [1, 2]}})
    entry = audit.recent(1)[0]
    assert "\n" not in entry.action and "\r" not in entry.action and "\x1b" not in entry.actor
    assert len(entry.target) == audit.MAX_TARGET
    assert entry.details == {"user": "alice", "nested": {"ok": [1, 2]}}
    assert "hunter2" not in entry.line()
