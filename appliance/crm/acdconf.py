"""The ACD's queues and agents as edited on the web (队列与座席): every saved version, the newest wins.

Table ``acd_config`` (migration 11 in db.py): the ``[acd]`` section as JSON, who saved it, when and
why; rows are immutable (a trigger). The crm layer does not know the format: the web validates with
the ACD's ``parse_config`` and applies it to the running ACD before it saves. At start the service
takes the newest version over the TOML's ``[acd]`` (the TOML is the factory setting).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from appliance.crm import audit
from appliance.crm.common import Actor, InvalidInput, now_iso
from appliance.crm.db import database, db_task

MAX_BODY = 256 * 1024           # bytes of JSON


@dataclass(frozen=True)
class AcdVersion:
    version: int
    body: dict[str, Any]
    created_at: str
    created_by: str
    note: str


@db_task
def save(actor: Actor, body: dict[str, Any], note: str) -> AcdVersion:
    text = json.dumps(body, ensure_ascii=False, sort_keys=True)
    if len(text.encode()) > MAX_BODY:
        raise InvalidInput("配置过大")
    stamp = now_iso()
    db = database()
    with db.atomic():
        cur = db.execute_sql("INSERT INTO acd_config(body, created_at, created_by, note) VALUES (?, ?, ?, ?)",
                             (text, stamp, actor.username, note[:200]))
        version = int(cur.lastrowid)
        audit.record("acd_config", actor=actor.username, source=actor.source, target=f"acd_config:{version}",
                     details={"note": note[:200]})
    return AcdVersion(version, body, stamp, actor.username, note[:200])


def _version(row: tuple[Any, ...]) -> AcdVersion:
    return AcdVersion(int(row[0]), json.loads(str(row[1])), str(row[2]), str(row[3]), str(row[4]))


@db_task
def latest() -> AcdVersion | None:
    row = database().execute_sql(
        "SELECT id, body, created_at, created_by, note FROM acd_config ORDER BY id DESC LIMIT 1").fetchone()
    return _version(row) if row is not None else None


@db_task
def history(limit: int = 20) -> list[AcdVersion]:
    rows = database().execute_sql(
        "SELECT id, body, created_at, created_by, note FROM acd_config ORDER BY id DESC LIMIT ?",
        (max(1, min(int(limit), 200)),)).fetchall()
    return [_version(r) for r in rows]
