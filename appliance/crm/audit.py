"""The audit log: append-only, who did what, when, from where.

Each entry (ASVS 5.0 V16.2.1): ``at`` (UTC, ISO 8601 with its offset, V16.2.2), ``actor`` (user name
or 'system'), ``source`` ('console', 'web', 'system', ...), ``action`` ('login', 'backup', ...),
``target`` and ``details`` (a JSON object).

Append-only: this module has no update or delete function, and the table's triggers (migration 2 in
db.py) make SQLite abort any UPDATE or DELETE on it (V16.4.2). Only a factory reset, which deletes
the whole database file, removes entries.

What goes in: never credentials (keys that look like one are dropped from ``details``, V7.1.1);
control characters in the text fields are replaced, so an entry cannot forge a line in a log view
(V7.3.1); fields are cut to bounded lengths.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from peewee import AutoField, Model, TextField

from appliance.crm.db import database_proxy, db_task

MAX_ACTOR = 64
MAX_SOURCE = 16
MAX_ACTION = 64
MAX_TARGET = 256
MAX_DETAILS = 4096
SECRET_KEY_RE = re.compile(r"pass|secret|token|hash|^pin$", re.IGNORECASE)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class AuditEntry(Model):
    id = AutoField()
    at = TextField()
    actor = TextField()
    source = TextField()
    action = TextField()
    target = TextField(default="")
    details = TextField(default="{}")

    class Meta:
        database = database_proxy
        table_name = "audit_log"


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: str
    actor: str
    source: str
    action: str
    target: str
    details: dict[str, Any]

    def line(self) -> str:
        """One display line (fields are already free of control characters)."""
        extra = json.dumps(self.details, ensure_ascii=False, sort_keys=True) if self.details else ""
        return f"{self.at} {self.source}/{self.actor} {self.action} {self.target} {extra}".rstrip()


def _clean(text: object, limit: int) -> str:
    return _CONTROL_RE.sub("?", str(text))[:limit]


def _scrub(value: Any, depth: int = 0) -> Any:
    """JSON-safe copy of ``value`` with credential-like keys dropped."""
    if depth > 4:
        return "..."
    if isinstance(value, Mapping):
        return {str(k)[:64]: _scrub(v, depth + 1)
                for k, v in value.items() if not SECRET_KEY_RE.search(str(k))}
    if isinstance(value, (list, tuple)):
        return [_scrub(v, depth + 1) for v in list(value)[:50]]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)[:MAX_TARGET]


def now_iso() -> str:
    """Current time, UTC, ISO 8601 with offset and milliseconds: 2025-01-31T08:00:00.123+00:00."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


@db_task
def record(action: str, *, actor: str, source: str, target: str = "",
           details: Mapping[str, Any] | None = None) -> int:
    """Append one entry; returns its id."""
    encoded = json.dumps(_scrub(dict(details or {})), ensure_ascii=False, sort_keys=True)
    if len(encoded) > MAX_DETAILS:
        encoded = json.dumps({"truncated": encoded[: MAX_DETAILS - 64]}, ensure_ascii=False)
    row = AuditEntry.create(
        at=now_iso(), actor=_clean(actor, MAX_ACTOR) or "?", source=_clean(source, MAX_SOURCE) or "?",
        action=_clean(action, MAX_ACTION) or "?", target=_clean(target, MAX_TARGET), details=encoded,
    )
    return int(row.id)


def _record_of(row: AuditEntry) -> AuditRecord:
    try:
        details = json.loads(row.details)
    except ValueError:
        details = {"raw": row.details}
    if not isinstance(details, dict):
        details = {"value": details}
    return AuditRecord(int(row.id), str(row.at), str(row.actor), str(row.source), str(row.action),
                       str(row.target), details)


@db_task
def recent(n: int = 20, *, source: str | None = None) -> list[AuditRecord]:
    """The last ``n`` entries (at most 1000), newest first."""
    query = AuditEntry.select()
    if source is not None:
        query = query.where(AuditEntry.source == source)
    rows = query.order_by(AuditEntry.id.desc()).limit(max(0, min(int(n), 1000)))
    return [_record_of(r) for r in rows]
