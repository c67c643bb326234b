"""A customer's contacts with the center, for his record: calls, recordings, surveys, messages.

Registered as history sources of ``customer.history`` (``calls``, ``messages``, ``surveys``). A
contact belongs to a customer when its number is one of his phones as the exchange delivers it:
the normalized number, a mobile with the trunk prefix 0 or the country code (86, +86), and a
fixed line without its area code (a local call: 010 and 02X have 3 digits, the others 4). The
numbers are looked up on indexes of the CDR, the IVR's messages and its survey (migration 10).

``calls``: every queued or click-to-dial call (acd_cdr), newest first, with its wait, talk, hold,
disposition, transfer chain, post-call rating and the ids of its recordings (the web lets only
those allowed listen, by id). ``messages``: voicemail left in the IVR. ``surveys``: ratings given
in the IVR's survey node. SMS has no store on the box yet (no sms module), so it is not listed.
"""

from __future__ import annotations

import time
from typing import Any

from appliance.crm import customer
from appliance.crm.db import database, db_task

LIMIT = 50                        # contacts of each kind in a record (newest first)

DISPOSITION_NAMES = {               # appliance/acd/model.Disposition (crm does not import the acd)
    "answered": "已接通", "abandoned": "未接通即挂机", "overflow": "溢出", "full": "队列已满",
    "voicemail": "转留言", "callback": "预约回电", "interrupted": "中断（设备重启）",
}


def caller_forms(number: str) -> list[str]:
    """The caller IDs under which a stored (normalized) number may reach the box."""
    forms = [number]
    if len(number) == 11 and number.startswith("1"):
        forms += ["0" + number, "86" + number, "+86" + number]
    elif number.startswith("0") and len(number) >= 10:
        area = 3 if number.startswith(("010", "02")) else 4
        forms.append(number[area:])
    return forms


def _numbers(customer_id: int) -> list[str]:
    rows = database().execute_sql("SELECT number FROM customer_phone WHERE customer_id = ?",
                                  (int(customer_id),)).fetchall()
    out: list[str] = []
    for (number,) in rows:
        out += [f for f in caller_forms(str(number)) if f not in out]
    return out


def _marks(n: int) -> str:
    return ", ".join("?" * n)


def _when(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch)) if epoch else ""


@db_task
def calls_of(customer_id: int) -> list[dict[str, Any]]:
    numbers = _numbers(customer_id)
    if not numbers:
        return []
    rows = database().execute_sql(
        "SELECT call_id, caller, direction, queue, final_queue, agent, enqueued_at, wait_s, talk_s,"
        " hold_s, disposition, transfers, survey FROM acd_cdr"
        f" WHERE caller IN ({_marks(len(numbers))}) ORDER BY enqueued_at DESC, id DESC LIMIT ?",
        (*numbers, LIMIT)).fetchall()
    recordings: dict[str, list[int]] = {}
    ids = [str(r[0]) for r in rows]
    if ids:
        for rid, call_id in database().execute_sql(
                f"SELECT id, call_id FROM call_recording WHERE call_id IN ({_marks(len(ids))})"
                " ORDER BY id", ids).fetchall():
            recordings.setdefault(str(call_id), []).append(int(rid))
    return [{
        "call_id": r[0], "number": r[1], "direction": r[2], "queue": r[4] or r[3], "agent": r[5],
        "at": _when(r[6]), "wait_s": round(float(r[7] or 0), 1), "talk_s": round(float(r[8] or 0), 1),
        "hold_s": round(float(r[9] or 0), 1), "disposition": r[10],
        "disposition_name": DISPOSITION_NAMES.get(str(r[10]), str(r[10]) or "进行中"),
        "transfers": r[11], "survey": r[12], "recordings": recordings.get(str(r[0]), []),
    } for r in rows]


@db_task
def messages_of(customer_id: int) -> list[dict[str, Any]]:
    from appliance.crm.messages import CATEGORY_NAMES

    numbers = _numbers(customer_id)
    if not numbers:
        return []
    rows = database().execute_sql(
        "SELECT id, at, caller, category, duration_ms, heard FROM ivr_message"
        f" WHERE caller IN ({_marks(len(numbers))}) ORDER BY id DESC LIMIT ?",
        (*numbers, LIMIT)).fetchall()
    return [{"id": r[0], "at": r[1], "number": r[2], "category": r[3],
             "category_name": CATEGORY_NAMES.get(str(r[3]), str(r[3])),
             "duration_s": round(int(r[4]) / 1000, 1), "handled": bool(r[5])} for r in rows]


@db_task
def surveys_of(customer_id: int) -> list[dict[str, Any]]:
    numbers = _numbers(customer_id)
    if not numbers:
        return []
    rows = database().execute_sql(
        "SELECT at, call_id, caller, rating, question FROM ivr_survey"
        f" WHERE caller IN ({_marks(len(numbers))}) ORDER BY id DESC LIMIT ?",
        (*numbers, LIMIT)).fetchall()
    return [{"at": r[0], "call_id": r[1], "number": r[2], "rating": r[3], "question": r[4]} for r in rows]


customer.register_history_source("calls", calls_of)
customer.register_history_source("messages", messages_of)
customer.register_history_source("surveys", surveys_of)
