"""IVR call flows in the database: saved versions and the active version of each flow.

Tables ``ivr_flows`` (every saved version, immutable) and ``ivr_active`` (flow id -> version),
migration 5 in db.py. A version is stored with the validator's verdict (``valid``, ``problems``):
the crm layer does not know the flow format, the IVR layer validates before it saves. SQLite
triggers refuse to activate a version not saved as valid, and refuse to change a saved version.

All functions run on the database thread (``@db_task``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from peewee import IntegrityError

from appliance.crm import audit
from appliance.crm.db import database, db_task

MAX_BODY = 512 * 1024           # bytes of flow JSON


class FlowStoreError(ValueError):
    """A flow could not be saved or activated (the message says why, in Chinese and English)."""


@dataclass(frozen=True)
class StoredFlow:
    flow_id: str
    version: int
    body: str
    valid: bool
    problems: list[str]
    created_at: str
    created_by: str
    active: bool = False


def _row(row: tuple[object, ...], active_version: int | None) -> StoredFlow:
    flow_id, version, body, valid, problems, created_at, created_by = row
    try:
        decoded = json.loads(str(problems))
    except ValueError:
        decoded = [str(problems)]
    return StoredFlow(str(flow_id), int(str(version)), str(body), bool(valid),
                      [str(p) for p in decoded] if isinstance(decoded, list) else [str(decoded)],
                      str(created_at), str(created_by), int(str(version)) == active_version)


_COLUMNS = "flow_id, version, body, valid, problems, created_at, created_by"


def _active_version(flow_id: str) -> int | None:
    rows = database().execute_sql("SELECT version FROM ivr_active WHERE flow_id = ?", (flow_id,)).fetchall()
    return int(rows[0][0]) if rows else None


@db_task
def save_version(flow_id: str, body: str, *, valid: bool, problems: list[str] | None = None,
                 created_by: str = "system") -> int:
    """Store ``body`` as the next version of ``flow_id``; returns the version number (1, 2, ...)."""
    if not flow_id or len(flow_id) > 64:
        raise FlowStoreError("流程编号无效 / bad flow id")
    if len(body.encode("utf-8")) > MAX_BODY:
        raise FlowStoreError(f"流程太大 / flow larger than {MAX_BODY} bytes")
    db = database()
    with db.atomic():
        (latest,) = db.execute_sql("SELECT COALESCE(MAX(version), 0) FROM ivr_flows WHERE flow_id = ?",
                                   (flow_id,)).fetchone()
        version = int(latest) + 1
        db.execute_sql(
            f"INSERT INTO ivr_flows ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (flow_id, version, body, 1 if valid else 0, json.dumps(list(problems or []), ensure_ascii=False),
             audit.now_iso(), created_by[:64]),
        )
        audit.record("ivr.flow.save", actor=created_by, source="system", target=f"{flow_id}@v{version}",
                     details={"valid": valid, "problems": len(problems or [])})
    return version


@db_task
def activate_version(flow_id: str, version: int, *, activated_by: str = "system") -> None:
    """Make ``version`` the active version of ``flow_id`` (FlowStoreError if missing or not valid)."""
    db = database()
    with db.atomic():
        rows = db.execute_sql("SELECT valid FROM ivr_flows WHERE flow_id = ? AND version = ?",
                              (flow_id, version)).fetchall()
        if not rows:
            raise FlowStoreError(f"流程 {flow_id} 没有版本 {version} / no such version")
        if not rows[0][0]:
            raise FlowStoreError(f"流程 {flow_id} 版本 {version} 未通过校验，不能启用 / invalid version")
        try:
            db.execute_sql(
                "INSERT INTO ivr_active (flow_id, version, activated_at, activated_by) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (flow_id) DO UPDATE SET version = excluded.version, "
                "activated_at = excluded.activated_at, activated_by = excluded.activated_by",
                (flow_id, version, audit.now_iso(), activated_by[:64]),
            )
        except IntegrityError as exc:
            raise FlowStoreError(f"不能启用 / refused: {exc}") from None
        audit.record("ivr.flow.activate", actor=activated_by, source="system", target=f"{flow_id}@v{version}")


@db_task
def get_version(flow_id: str, version: int) -> StoredFlow | None:
    rows = database().execute_sql(f"SELECT {_COLUMNS} FROM ivr_flows WHERE flow_id = ? AND version = ?",
                                  (flow_id, version)).fetchall()
    return _row(tuple(rows[0]), _active_version(flow_id)) if rows else None


@db_task
def get_active(flow_id: str) -> StoredFlow | None:
    """The active version of ``flow_id``, or None if none was ever activated."""
    active = _active_version(flow_id)
    if active is None:
        return None
    rows = database().execute_sql(f"SELECT {_COLUMNS} FROM ivr_flows WHERE flow_id = ? AND version = ?",
                                  (flow_id, active)).fetchall()
    return _row(tuple(rows[0]), active) if rows else None


@db_task
def list_versions(flow_id: str) -> list[StoredFlow]:
    """Every saved version of ``flow_id``, newest first."""
    active = _active_version(flow_id)
    rows = database().execute_sql(f"SELECT {_COLUMNS} FROM ivr_flows WHERE flow_id = ? ORDER BY version DESC",
                                  (flow_id,)).fetchall()
    return [_row(tuple(r), active) for r in rows]


@db_task
def list_flows() -> list[str]:
    rows = database().execute_sql("SELECT DISTINCT flow_id FROM ivr_flows ORDER BY flow_id").fetchall()
    return [str(r[0]) for r in rows]
