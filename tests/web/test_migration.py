"""_m006_web (web sessions) upgrades a database made by the firmware before it."""

from __future__ import annotations

from pathlib import Path

from appliance.crm import db, session, users


def test_web_migration_upgrades_an_older_database(tmp_path: Path) -> None:
    older = db.MIGRATIONS[:db.MIGRATIONS.index(db._m006_web)]      # the firmware before the web
    db.init_db(tmp_path / "old", migrations=older)
    try:
        assert not db.execute("SELECT name FROM sqlite_master WHERE name = 'web_session'")
        users.create_user("admin", "Zhongguo-2026!", "admin")
        db.init_db(tmp_path / "old")
        assert db.user_version() == db.SCHEMA_VERSION
        user = users.get_user("admin")
        assert user is not None
        token, _ = session.start(user, "127.0.0.1")
        found = session.lookup(token)
        assert found is not None and found.username == "admin"
        assert db.execute("SELECT count(*) FROM web_session WHERE token_hash = ?", (token,)) == [(0,)]
    finally:
        db.close_db()
