"""ACD records: call detail records (CDR), the queue log, and agents' persisted state.

The ACD (appliance/acd) calls these service functions; every one runs on the database thread
(``@db_task``), never on the hub. Tables are created by migration 3 (``_m003_acd`` in db.py).

- ``acd_cdr``: one row per queued call, opened when the call enters a queue and completed as it
  is offered, answered and ended. Timestamps are wall-clock epoch seconds; durations (wait, ring,
  talk, wrap-up) are measured by the ACD's monotonic clock. A row with no ``ended_at`` is a call
  in progress; at start-up ``close_open_calls`` ends those left by a crash as ``interrupted``.
- ``acd_queue_log``: an append-only trail of what happened (ENTER, OFFER, NOANSWER, CONNECT,
  ABANDON, OVERFLOW, agent LOGIN/READY/...), for reports.
- ``acd_agent_state``: the last known state of each agent, so that a restart restores them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from peewee import AutoField, FloatField, IntegerField, Model, TextField

from appliance.crm.db import database_proxy, db_task

INTERRUPTED = "interrupted"

# CDR columns the ACD may set after the row is opened.
CDR_FIELDS = frozenset({
    "caller", "dnis", "queue", "final_queue", "priority", "agent", "enqueued_at", "offered_at",
    "answered_at", "ended_at", "wait_s", "ring_s", "talk_s", "wrapup_s", "offers", "disposition",
    "overflow_to", "ended_by", "hold_s", "transfers", "direction", "survey",
})


class Cdr(Model):
    id = AutoField()
    call_id = TextField(unique=True)
    caller = TextField(default="")
    dnis = TextField(default="")
    queue = TextField(default="")
    final_queue = TextField(default="")
    priority = IntegerField(default=0)
    agent = TextField(default="")
    enqueued_at = FloatField(null=True)
    offered_at = FloatField(null=True)
    answered_at = FloatField(null=True)
    ended_at = FloatField(null=True)
    wait_s = FloatField(default=0.0)
    ring_s = FloatField(default=0.0)
    talk_s = FloatField(default=0.0)
    wrapup_s = FloatField(default=0.0)
    offers = IntegerField(default=0)
    disposition = TextField(default="")
    overflow_to = TextField(default="")
    ended_by = TextField(default="")
    hold_s = FloatField(default=0.0)
    transfers = TextField(default="")     # the agents / numbers the call went through: "1001>1002"
    direction = TextField(default="in")   # "in" (queued caller) or "out" (click-to-dial)
    survey = IntegerField(null=True)      # the key the caller pressed in the post-call survey

    class Meta:
        database = database_proxy
        table_name = "acd_cdr"


class QueueLogEntry(Model):
    id = AutoField()
    at = FloatField()
    call_id = TextField(default="")
    queue = TextField(default="")
    agent = TextField(default="")
    event = TextField()
    data = TextField(default="")

    class Meta:
        database = database_proxy
        table_name = "acd_queue_log"


class AgentStateRow(Model):
    agent_id = TextField(primary_key=True)
    station = IntegerField(null=True)
    mode = TextField(default="ring")
    state = TextField()
    reason = TextField(default="")
    updated_at = FloatField()

    class Meta:
        database = database_proxy
        table_name = "acd_agent_state"


@dataclass(frozen=True)
class CdrRecord:
    call_id: str
    caller: str
    dnis: str
    queue: str
    final_queue: str
    priority: int
    agent: str
    enqueued_at: float | None
    offered_at: float | None
    answered_at: float | None
    ended_at: float | None
    wait_s: float
    ring_s: float
    talk_s: float
    wrapup_s: float
    offers: int
    disposition: str
    overflow_to: str
    ended_by: str
    hold_s: float
    transfers: str
    direction: str
    survey: int | None


@dataclass(frozen=True)
class QueueLogRecord:
    at: float
    call_id: str
    queue: str
    agent: str
    event: str
    data: dict[str, Any]


@dataclass(frozen=True)
class AgentRecord:
    agent_id: str
    station: int | None
    mode: str
    state: str
    reason: str
    updated_at: float


def _cdr(row: Cdr) -> CdrRecord:
    return CdrRecord(**{f: getattr(row, f) for f in CdrRecord.__dataclass_fields__})


@db_task
def open_call(call_id: str, caller: str, dnis: str, queue: str, priority: int, enqueued_at: float) -> None:
    """A call entered its first queue."""
    Cdr.create(call_id=call_id, caller=caller, dnis=dnis, queue=queue, final_queue=queue,
               priority=priority, enqueued_at=enqueued_at)


@db_task
def update_call(call_id: str, fields: Mapping[str, Any]) -> None:
    """Set columns of a call's CDR (names from CDR_FIELDS)."""
    bad = set(fields) - CDR_FIELDS
    if bad:
        raise ValueError(f"not CDR fields: {', '.join(sorted(bad))}")
    if fields:
        Cdr.update(**dict(fields)).where(Cdr.call_id == call_id).execute()


@db_task
def get_call(call_id: str) -> CdrRecord | None:
    row = Cdr.get_or_none(Cdr.call_id == call_id)
    return _cdr(row) if row is not None else None


@db_task
def recent_calls(limit: int = 100) -> list[CdrRecord]:
    """The last ``limit`` CDRs, newest first."""
    return [_cdr(r) for r in Cdr.select().order_by(Cdr.id.desc()).limit(limit)]


@db_task
def calls_between(start: float, end: float) -> list[CdrRecord]:
    """The CDRs of calls that entered a queue in ``[start, end)`` (wall clock), in that order."""
    rows = Cdr.select().where((Cdr.enqueued_at >= start) & (Cdr.enqueued_at < end)).order_by(
        Cdr.enqueued_at, Cdr.id)
    return [_cdr(r) for r in rows]


@db_task
def close_open_calls(ended_at: float) -> list[str]:
    """End every CDR still open (a call cut by a crash or power loss) as ``interrupted``."""
    with database_proxy.atomic():
        ids = [r.call_id for r in Cdr.select(Cdr.call_id).where(Cdr.ended_at.is_null())]
        if ids:
            Cdr.update(ended_at=ended_at, disposition=INTERRUPTED, ended_by="restart").where(
                Cdr.ended_at.is_null()).execute()
            QueueLogEntry.insert_many(
                [{"at": ended_at, "call_id": i, "event": "INTERRUPTED", "data": "{}"} for i in ids]).execute()
    return ids


@db_task
def log_queue_event(at: float, event: str, call_id: str = "", queue: str = "", agent: str = "",
                    data: Mapping[str, Any] | None = None) -> None:
    QueueLogEntry.create(at=at, event=event, call_id=call_id, queue=queue, agent=agent,
                         data=json.dumps(dict(data or {}), ensure_ascii=False, sort_keys=True))


@db_task
def queue_log(call_id: str | None = None, limit: int = 1000) -> list[QueueLogRecord]:
    """Queue log entries in order (of one call, or the last ``limit``)."""
    q = QueueLogEntry.select()
    if call_id is not None:
        q = q.where(QueueLogEntry.call_id == call_id)
    rows = list(q.order_by(QueueLogEntry.id.desc()).limit(limit))
    return [QueueLogRecord(r.at, r.call_id, r.queue, r.agent, r.event, json.loads(r.data or "{}"))
            for r in reversed(rows)]


@db_task
def save_agent_state(agent_id: str, station: int | None, mode: str, state: str, reason: str,
                     updated_at: float) -> None:
    AgentStateRow.insert(agent_id=agent_id, station=station, mode=mode, state=state, reason=reason,
                         updated_at=updated_at).on_conflict_replace().execute()


@db_task
def load_agent_states() -> list[AgentRecord]:
    return [AgentRecord(r.agent_id, r.station, r.mode, r.state, r.reason, r.updated_at)
            for r in AgentStateRow.select().order_by(AgentStateRow.agent_id)]


@dataclass(frozen=True)
class QueueDay:
    """One queue's calls of one day (the supervisor's wallboard): calls that entered it that day."""

    queue: str
    offered: int            # entered the queue
    answered: int
    answered_in_time: int   # answered within the service-level threshold (wait_s <= threshold)
    abandoned: int          # the caller hung up before an agent answered
    in_progress: int        # not ended yet

    @property
    def service_level(self) -> float | None:
        """Answered within the threshold / (answered + abandoned); None before any such call."""
        done = self.answered + self.abandoned
        return self.answered_in_time / done if done else None


@db_task
def day_figures(day_start: float, day_end: float, thresholds: Mapping[str, float],
                default_threshold: float = 20.0) -> list[QueueDay]:
    """Per queue (the queue a call ended in), the calls that first queued in [day_start, day_end)
    (epoch seconds, e.g. today in Beijing time). One indexed range read of acd_cdr."""
    rows = database_proxy.execute_sql(
        "SELECT CASE WHEN final_queue != '' THEN final_queue ELSE queue END AS q, answered_at IS NOT NULL,"
        " wait_s, disposition, ended_at IS NULL FROM acd_cdr WHERE enqueued_at >= ? AND enqueued_at < ?",
        (day_start, day_end)).fetchall()
    acc: dict[str, list[int]] = {}
    for q, answered, wait, disposition, open_ in rows:
        a = acc.setdefault(str(q), [0, 0, 0, 0, 0])
        limit = thresholds.get(str(q), default_threshold)
        a[0] += 1
        if answered:
            a[1] += 1
            a[2] += float(wait) <= limit
        elif disposition == "abandoned":
            a[3] += 1
        a[4] += bool(open_)
    return [QueueDay(q, *v) for q, v in sorted(acc.items())]
