"""Web sessions: server-side rows, the browser holds only a random token (migration _m006_web).

A session id is 32 random bytes (base64url); the table stores only its SHA-256, so a copy of the
database does not let anyone log in. Each session has its own CSRF token (returned to the page,
checked on every write). Sessions end on logout, after ``IDLE_TIMEOUT`` without a request, after
``ABSOLUTE_TIMEOUT`` in all, and when the user is disabled or his password is reset.

Login and logout are audited here; the web calls only these functions (no SQL in the web).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass

from appliance.crm import audit, users
from appliance.crm.db import database, db_task

log = logging.getLogger(__name__)

IDLE_TIMEOUT = 8 * 3600.0  # an agent's shift without a request
ABSOLUTE_TIMEOUT = 12 * 3600.0
TOUCH_EVERY = 60.0  # seconds between last_seen updates of one session


@dataclass(frozen=True)
class Session:
    username: str
    role: str
    csrf: str
    created_at: float
    last_seen: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@db_task
def _insert(digest: str, user: users.UserInfo, csrf: str, now: float, ip: str) -> None:
    db = database()
    with db.atomic():
        db.execute_sql(
            "INSERT INTO web_session(token_hash, username, role, csrf, created_at, last_seen, ip)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (digest, user.username, user.role, csrf, now, now, ip[:64]),
        )
        audit.record(
            "login",
            actor=user.username,
            source="web",
            target=f"user:{user.username}",
            details={"ip": ip[:64], "role": user.role},
        )


def start(user: users.UserInfo, ip: str = "") -> tuple[str, Session]:
    """A new session for ``user`` (after verify_password): (token for the cookie, session)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = time.time()
    _insert(_digest(token), user, csrf, now, ip)
    log.info("web login %s (%s) from %s", user.username, user.role, ip)
    return token, Session(user.username, user.role, csrf, now, now)


@db_task
def lookup(token: str) -> Session | None:
    """The live session of this cookie value, or None (expired, unknown, user disabled)."""
    if not token or len(token) > 100:
        return None
    db = database()
    digest = _digest(token)
    row = db.execute_sql(
        "SELECT s.username, u.role, s.csrf, s.created_at, s.last_seen, u.disabled FROM web_session s"
        " JOIN users u ON u.username = s.username WHERE s.token_hash = ?",
        (digest,),
    ).fetchone()
    if row is None:
        return None
    now = time.time()
    username, role, csrf, created, seen, disabled = row
    if disabled or now - float(seen) > IDLE_TIMEOUT or now - float(created) > ABSOLUTE_TIMEOUT:
        db.execute_sql("DELETE FROM web_session WHERE token_hash = ?", (digest,))
        return None
    if now - float(seen) > TOUCH_EVERY:
        db.execute_sql("UPDATE web_session SET last_seen = ? WHERE token_hash = ?", (now, digest))
        seen = now
    return Session(str(username), str(role), str(csrf), float(created), float(seen))


@db_task
def end(token: str) -> str | None:
    """Log out: delete the session; returns its user name (None if there was none)."""
    db = database()
    digest = _digest(token)
    row = db.execute_sql("SELECT username FROM web_session WHERE token_hash = ?", (digest,)).fetchone()
    if row is None:
        return None
    with db.atomic():
        db.execute_sql("DELETE FROM web_session WHERE token_hash = ?", (digest,))
        audit.record("logout", actor=str(row[0]), source="web", target=f"user:{row[0]}")
    return str(row[0])


@db_task
def end_all_of(username: str) -> int:
    """Delete every session of a user (disabled, password reset); the count."""
    cursor = database().execute_sql("DELETE FROM web_session WHERE username = ?", (username,))
    return int(cursor.rowcount or 0)


@db_task
def audit_web(action: str, actor: str, target: str = "", details: dict[str, object] | None = None) -> None:
    """An audit entry for a web action that has no crm service of its own (e.g. a refused login)."""
    audit.record(action, actor=actor, source="web", target=target, details=details)


# ---- user administration through the web: the change and its audit entry -------------------------


def create_user(actor: str, username: str, password: str, role: str) -> users.UserInfo:
    info = users.create_user(username, password, role)
    audit_web("user_create", actor, f"user:{info.username}", {"role": info.role})
    return info


def set_disabled(actor: str, username: str, disabled: bool) -> None:
    users.set_disabled(username, disabled)
    if disabled:
        end_all_of(username.strip().lower())
    audit_web("user_disable" if disabled else "user_enable", actor, f"user:{username.strip().lower()}")


def reset_password(actor: str, username: str, password: str) -> users.UserInfo:
    info = users.reset_password(username, password)
    end_all_of(info.username)
    audit_web("user_password_reset", actor, f"user:{info.username}")
    return info


def setup_admin(username: str, password: str, ip: str = "") -> users.UserInfo:
    """First start: create the administrator (refused once one exists)."""
    if not users.needs_setup():
        raise users.UserError("系统已初始化")
    info = users.create_user(username, password, "admin")
    audit_web("setup_admin", info.username, f"user:{info.username}", {"ip": ip[:64]})
    return info
