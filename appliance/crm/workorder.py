"""Work orders (工单) and technician teams.

Types: consultation 咨询, complaint 投诉, repair 报修, emergency 抢险, suggestion 建议.

The flow is one state machine (``State``, ``TRANSITIONS``), changed only by ``_set_state``, which
checks the transition, writes the order's new state and one row of ``work_order_step`` (when, who,
old -> new, team, note) and the audit entry, in one transaction::

    registered --dispatch--> dispatched --accept--> processing --reply--> replied
        |                      ^   |  (transfer: to another team)    |   |  ^ reply again
        |                      |   +----------------------------------+   |  |
        |                      +-------- redispatch / transfer ----------+  resume -> processing
        |                                                                 answer
        +--answer (consultation, suggestion only)--> answered <-----------+
                                                        |  close
                                                        v
                                                      closed

Serial numbers: ``YYYYMMDD`` (Beijing date) + 4-digit sequence of that day, 12 digits, readable
digit by digit over the phone (``202612020007``).

Time limits: per type, in ``wo_time_limit`` (``set_time_limit``), defaults ``DEFAULT_LIMITS``;
``due_at`` is fixed when the order is registered. ``overdue()`` lists open orders past due;
``escalate_overdue()`` flags them (and records a step).

Scoping: a technician (role 'technician') sees and works only the orders currently dispatched to his
team (``tech_team_member``); agents, team leaders, supervisors and admins see all.
"""

from __future__ import annotations

import datetime as _dt
import enum
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from appliance.crm import audit, customer
from appliance.crm.common import (
    SYSTEM,
    TZ_CN,
    Actor,
    CrmError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    choice,
    iso,
    now,
    text,
)
from appliance.crm.db import database, db_task

log = logging.getLogger(__name__)

TYPES = ("consultation", "complaint", "repair", "emergency", "suggestion")
TYPE_NAMES = {
    "consultation": "咨询",
    "complaint": "投诉",
    "repair": "报修",
    "emergency": "抢险",
    "suggestion": "建议",
}
PRIORITIES = ("urgent", "high", "normal", "low")
CUSTOMER_TYPES = ("", "residential", "commercial", "industrial", "public")
IMMEDIATE_TYPES = ("consultation", "suggestion")  # may be answered without dispatch
DEFAULT_LIMITS = {
    "emergency": 60,
    "repair": 24 * 60,
    "complaint": 48 * 60,
    "consultation": 24 * 60,
    "suggestion": 7 * 24 * 60,
}  # minutes
AGENT_ROLES = ("agent", "team_leader", "supervisor", "admin", "system")
TECH_ROLES = ("technician",)
SERIAL_RE = re.compile(r"\d{12}")
LIMITS = {
    "title": 100,
    "description": 4000,
    "address": 200,
    "problem_type": 32,
    "note": 2000,
    "answer": 4000,
    "team": 32,
    "leader_name": 32,
}


class State(enum.StrEnum):
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    PROCESSING = "processing"
    REPLIED = "replied"
    ANSWERED = "answered"
    CLOSED = "closed"


STATE_NAMES = {
    State.REGISTERED: "已登记",
    State.DISPATCHED: "已派单",
    State.PROCESSING: "处理中",
    State.REPLIED: "班组已回复",
    State.ANSWERED: "已答复",
    State.CLOSED: "已关闭",
}
OPEN_STATES = (State.REGISTERED, State.DISPATCHED, State.PROCESSING, State.REPLIED)

# IVR status lookup: (code, what the caller hears)
STATUS_NOT_FOUND = (0, "没有查到这个工单号，请核对后再查询")
STATUS = {
    State.REGISTERED: (1, "您的工单已受理，正在安排处理"),
    State.DISPATCHED: (2, "您的工单已派给维修班组，请耐心等待"),
    State.PROCESSING: (3, "维修人员正在处理您的工单"),
    State.REPLIED: (4, "维修人员已处理，客服将尽快答复您"),
    State.ANSWERED: (5, "您的工单已答复"),
    State.CLOSED: (6, "您的工单已办结"),
}

# action -> (allowed from-states, to-state, roles that may do it)
TRANSITIONS: dict[str, tuple[tuple[State, ...], State, tuple[str, ...]]] = {
    "dispatch": ((State.REGISTERED,), State.DISPATCHED, AGENT_ROLES),
    "redispatch": ((State.DISPATCHED, State.PROCESSING, State.REPLIED), State.DISPATCHED, AGENT_ROLES),
    "transfer": ((State.DISPATCHED, State.PROCESSING), State.DISPATCHED, TECH_ROLES),
    "accept": ((State.DISPATCHED,), State.PROCESSING, TECH_ROLES),
    "reply": ((State.DISPATCHED, State.PROCESSING, State.REPLIED), State.REPLIED, TECH_ROLES),
    "resume": ((State.REPLIED,), State.PROCESSING, TECH_ROLES),
    "answer": ((State.REGISTERED, State.REPLIED), State.ANSWERED, AGENT_ROLES),
    "close": ((State.ANSWERED,), State.CLOSED, AGENT_ROLES),
}
ACTION_NAMES = {
    "register": "登记",
    "dispatch": "派单",
    "redispatch": "改派",
    "transfer": "转派",
    "accept": "接单核实",
    "reply": "回复",
    "resume": "继续处理",
    "answer": "答复",
    "close": "关闭",
    "escalate": "超时升级",
    "remind": "临期提醒",
}


class InvalidTransition(CrmError):
    """This step is not allowed in the order's current state (Chinese message)."""


@dataclass(frozen=True)
class Step:
    at: str
    actor: str
    action: str
    from_state: str
    to_state: str
    team_id: int | None
    note: str


@dataclass(frozen=True)
class WorkOrder:
    id: int
    serial: str
    type: str
    priority: str
    state: State
    customer_id: int | None
    caller_phone: str
    customer_type: str
    problem_type: str
    title: str
    description: str
    address: str
    team_id: int | None
    final_answer: str
    created_at: str
    created_by: str
    due_at: str
    escalated: bool
    closed_at: str | None
    updated_at: str

    @property
    def state_name(self) -> str:
        return STATE_NAMES[self.state]


@dataclass(frozen=True)
class Team:
    id: int
    name: str
    leader_name: str
    leader_mobile: str


_COLUMNS = (
    "id",
    "serial",
    "type",
    "priority",
    "state",
    "customer_id",
    "caller_phone",
    "customer_type",
    "problem_type",
    "title",
    "description",
    "address",
    "team_id",
    "final_answer",
    "created_at",
    "created_by",
    "due_at",
    "escalated",
    "closed_at",
    "updated_at",
)
_SELECT = "SELECT " + ", ".join(_COLUMNS) + " FROM work_order"


def _order(row: Sequence[Any]) -> WorkOrder:
    values = list(row)
    values[4] = State(values[4])
    values[17] = bool(values[17])
    return WorkOrder(*values)


def _get(order_id: int) -> WorkOrder:
    row = database().execute_sql(_SELECT + " WHERE id = ?", (order_id,)).fetchone()
    if row is None:
        raise NotFound(f"工单不存在：{order_id}")
    return _order(row)


# ---- teams ---------------------------------------------------------------------------------------


@db_task
def create_team(actor: Actor, name: str, leader_name: str = "", leader_mobile: str = "") -> Team:
    team = text(name, "班组名称", LIMITS["team"], required=True)
    leader = text(leader_name, "班组长", LIMITS["leader_name"])
    mobile = customer.normalize_phone(leader_mobile) if leader_mobile else ""
    db = database()
    with db.atomic():
        if db.execute_sql("SELECT 1 FROM tech_team WHERE name = ?", (team,)).fetchone():
            raise InvalidInput(f"班组已存在：{team}")
        cursor = db.execute_sql(
            "INSERT INTO tech_team(name, leader_name, leader_mobile, created_at) VALUES (?, ?, ?, ?)",
            (team, leader, mobile, iso(now())),
        )
        tid = int(cursor.lastrowid)
        audit.record(
            "team_create",
            actor=actor.username,
            source=actor.source,
            target=f"team:{tid}",
            details={"name": team, "leader": leader, "leader_mobile": mobile},
        )
    return Team(tid, team, leader, mobile)


@db_task
def add_member(actor: Actor, team_id: int, username: str) -> None:
    """Put a technician (user name) into a team (moving him out of his previous one)."""
    name = text(username, "用户名", 32, required=True).lower()
    db = database()
    with db.atomic():
        _team(team_id)
        db.execute_sql(
            "INSERT OR REPLACE INTO tech_team_member(username, team_id) VALUES (?, ?)", (name, team_id)
        )
        audit.record(
            "team_member_add",
            actor=actor.username,
            source=actor.source,
            target=f"team:{team_id}",
            details={"username": name},
        )


def _team(team_id: int) -> Team:
    row = (
        database()
        .execute_sql("SELECT id, name, leader_name, leader_mobile FROM tech_team WHERE id = ?", (team_id,))
        .fetchone()
    )
    if row is None:
        raise NotFound(f"班组不存在：{team_id}")
    return Team(int(row[0]), str(row[1]), str(row[2]), str(row[3]))


@db_task
def get_team(team_id: int) -> Team:
    return _team(int(team_id))


@db_task
def list_teams() -> list[Team]:
    rows = database().execute_sql("SELECT id, name, leader_name, leader_mobile FROM tech_team ORDER BY id")
    return [Team(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]


@db_task
def team_of(username: str) -> int | None:
    row = (
        database()
        .execute_sql("SELECT team_id FROM tech_team_member WHERE username = ?", (username.strip().lower(),))
        .fetchone()
    )
    return int(row[0]) if row is not None else None


def technician(username: str) -> Actor:
    """The Actor of a technician, with his team."""
    return Actor(username, "technician", team_id(username), "web")


def team_id(username: str) -> int | None:
    return team_of(username)


# ---- time limits ---------------------------------------------------------------------------------


@db_task
def time_limits() -> dict[str, int]:
    """Minutes allowed per type (configured, else the default)."""
    limits = dict(DEFAULT_LIMITS)
    for kind, minutes in database().execute_sql("SELECT type, minutes FROM wo_time_limit"):
        limits[str(kind)] = int(minutes)
    return limits


@db_task
def set_time_limit(actor: Actor, kind: str, minutes: int) -> None:
    choice(kind, "工单类型", TYPES)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 90 * 24 * 60:
        raise InvalidInput("时限必须是1分钟到90天之间的整数分钟")
    db = database()
    with db.atomic():
        db.execute_sql("INSERT OR REPLACE INTO wo_time_limit(type, minutes) VALUES (?, ?)", (kind, minutes))
        audit.record(
            "wo_time_limit_set",
            actor=actor.username,
            source=actor.source,
            target=f"type:{kind}",
            details={"minutes": minutes},
        )


# ---- the state machine ---------------------------------------------------------------------------


def _check_actor(actor: Actor, order: WorkOrder, action: str) -> None:
    roles = TRANSITIONS[action][2]
    if actor.role not in roles:
        who = "维修人员" if roles == TECH_ROLES else "客服人员"
        raise PermissionDenied(f"“{ACTION_NAMES[action]}”只能由{who}操作")
    if actor.role in TECH_ROLES and (actor.team_id is None or order.team_id != actor.team_id):
        raise PermissionDenied(f"工单{order.serial}不属于您的班组")


def _set_state(
    actor: Actor,
    order: WorkOrder,
    action: str,
    *,
    note: str = "",
    team: int | None = None,
    extra: dict[str, Any] | None = None,
) -> WorkOrder:
    """The one place where an order changes state: check, update, step row, audit (on the DB thread)."""
    allowed, target, _roles = TRANSITIONS[action]
    if order.state not in allowed:
        raise InvalidTransition(
            f"工单{order.serial}当前状态为“{STATE_NAMES[order.state]}”，不能{ACTION_NAMES[action]}"
        )
    _check_actor(actor, order, action)
    stamp = iso(now())
    db = database()
    fields: dict[str, Any] = {"state": target.value, "updated_at": stamp, **(extra or {})}
    if team is not None:
        fields["team_id"] = team
    if target is State.CLOSED:
        fields["closed_at"] = stamp
    assignments = ", ".join(f"{k} = ?" for k in fields)
    db.execute_sql(f"UPDATE work_order SET {assignments} WHERE id = ?", (*fields.values(), order.id))
    _step(
        order.id,
        stamp,
        actor,
        action,
        order.state.value,
        target.value,
        team if team is not None else order.team_id,
        note,
    )
    audit.record(
        f"wo_{action}",
        actor=actor.username,
        source=actor.source,
        target=f"wo:{order.serial}",
        details={"from": order.state.value, "to": target.value, "team": team, "note": note[:200]},
    )
    log.info(
        "work order %s: %s -> %s (%s by %s)",
        order.serial,
        order.state.value,
        target.value,
        action,
        actor.username,
    )
    return _get(order.id)


def _step(
    order_id: int, stamp: str, actor: Actor, action: str, old: str, new: str, team: int | None, note: str
) -> None:
    database().execute_sql(
        "INSERT INTO work_order_step(order_id, at, actor, action, from_state, to_state, team_id, note)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (order_id, stamp, actor.username, action, old, new, team, note),
    )


@db_task
def _act(
    actor: Actor,
    order_id: int,
    action: str,
    note: str = "",
    team: int | None = None,
    extra: dict[str, Any] | None = None,
) -> WorkOrder:
    with database().atomic():
        order = _get(int(order_id))
        if team is not None:
            _team(team)
            if team == order.team_id and action in ("redispatch", "transfer"):
                raise InvalidInput("改派的班组与当前班组相同")
        return _set_state(actor, order, action, note=note, team=team, extra=extra)


def _note(value: str) -> str:
    return text(value, "说明", LIMITS["note"], multiline=True)


def dispatch(actor: Actor, order_id: int, team_id: int, note: str = "") -> WorkOrder:
    return _act(actor, order_id, "dispatch", _note(note), int(team_id))


def redispatch(actor: Actor, order_id: int, team_id: int, note: str = "") -> WorkOrder:
    """An agent sends the order to another team (also after a team replied)."""
    return _act(actor, order_id, "redispatch", _note(note), int(team_id))


def transfer(actor: Actor, order_id: int, team_id: int, note: str = "") -> WorkOrder:
    """A technician hands his team's order to another team."""
    return _act(actor, order_id, "transfer", _note(note), int(team_id))


def accept(actor: Actor, order_id: int, note: str = "") -> WorkOrder:
    """The technician has verified the report on site (核实) and works on it."""
    return _act(actor, order_id, "accept", _note(note))


def reply(actor: Actor, order_id: int, note: str) -> WorkOrder:
    """The technician replies (what was found / repaired); may be repeated."""
    return _act(
        actor, order_id, "reply", text(note, "回复内容", LIMITS["note"], required=True, multiline=True)
    )


def resume(actor: Actor, order_id: int, note: str = "") -> WorkOrder:
    return _act(actor, order_id, "resume", _note(note))


def answer(actor: Actor, order_id: int, final_answer: str) -> WorkOrder:
    """The agent's final answer to the customer."""
    body = text(final_answer, "答复内容", LIMITS["answer"], required=True, multiline=True)
    return _act(actor, order_id, "answer", body[:200], extra={"final_answer": body})


def close(actor: Actor, order_id: int, note: str = "") -> WorkOrder:
    return _act(actor, order_id, "close", _note(note))


@db_task
def _immediate(actor: Actor, order_id: int, body: str, note: str) -> WorkOrder:
    with database().atomic():
        order = _get(int(order_id))
        if order.type not in IMMEDIATE_TYPES:
            raise InvalidTransition(f"{TYPE_NAMES[order.type]}工单须派单处理，不能当场答复关闭")
        order = _set_state(actor, order, "answer", note=body[:200], extra={"final_answer": body})
        return _set_state(actor, order, "close", note=note)


def answer_and_close(actor: Actor, order_id: int, final_answer: str, note: str = "") -> WorkOrder:
    """Consultations and suggestions answered on the call: registered -> answered -> closed."""
    body = text(final_answer, "答复内容", LIMITS["answer"], required=True, multiline=True)
    return _immediate(actor, order_id, body, _note(note))


# ---- register ------------------------------------------------------------------------------------


def _next_serial(moment: _dt.datetime) -> str:
    day = moment.astimezone(TZ_CN).strftime("%Y%m%d")
    db = database()
    db.execute_sql(
        "INSERT INTO wo_serial(day, last) VALUES (?, 1) ON CONFLICT(day) DO UPDATE SET last = last + 1",
        (day,),
    )
    last = int(db.execute_sql("SELECT last FROM wo_serial WHERE day = ?", (day,)).fetchone()[0])
    if last > 9999:
        raise CrmError("今天的工单号已用完（每天最多9999个）")
    return f"{day}{last:04d}"


@db_task
def _insert(actor: Actor, values: dict[str, Any]) -> WorkOrder:
    db = database()
    with db.atomic():
        if (
            values["customer_id"] is not None
            and not db.execute_sql("SELECT 1 FROM customer WHERE id = ?", (values["customer_id"],)).fetchone()
        ):
            raise NotFound(f"客户不存在：{values['customer_id']}")
        moment = now()
        limits = time_limits()
        serial = _next_serial(moment)
        stamp = iso(moment)
        due = iso(moment + _dt.timedelta(minutes=limits[values["type"]]))
        row = {
            **values,
            "serial": serial,
            "state": State.REGISTERED.value,
            "created_at": stamp,
            "created_by": actor.username,
            "due_at": due,
            "updated_at": stamp,
        }
        cursor = db.execute_sql(
            f"INSERT INTO work_order({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            tuple(row.values()),
        )
        oid = int(cursor.lastrowid)
        _step(oid, stamp, actor, "register", "", State.REGISTERED.value, None, values["title"][:200])
        audit.record(
            "wo_register",
            actor=actor.username,
            source=actor.source,
            target=f"wo:{serial}",
            details={"type": values["type"], "customer_id": values["customer_id"], "due_at": due},
        )
        return _get(oid)


def register(
    actor: Actor,
    kind: str,
    title: str,
    *,
    description: str = "",
    priority: str = "normal",
    customer_id: int | None = None,
    caller_phone: str = "",
    customer_type: str = "",
    problem_type: str = "",
    address: str = "",
) -> WorkOrder:
    """Register a new work order (state 'registered'); its serial number is in the result."""
    if actor.role not in AGENT_ROLES:
        raise PermissionDenied("只有客服人员可以登记工单")
    values = {
        "type": choice(kind, "工单类型", TYPES),
        "priority": choice(priority, "优先级", PRIORITIES),
        "customer_id": int(customer_id) if customer_id is not None else None,
        "caller_phone": customer.normalize_phone(caller_phone) if caller_phone else "",
        "customer_type": choice(customer_type, "客户类型", CUSTOMER_TYPES),
        "problem_type": text(problem_type, "问题类型", LIMITS["problem_type"]),
        "title": text(title, "标题", LIMITS["title"], required=True),
        "description": text(description, "内容", LIMITS["description"], multiline=True),
        "address": text(address, "地址", LIMITS["address"]),
    }
    return _insert(actor, values)


# ---- queries -------------------------------------------------------------------------------------


def _visible(actor: Actor, order: WorkOrder) -> bool:
    return actor.role not in TECH_ROLES or (actor.team_id is not None and order.team_id == actor.team_id)


@db_task
def get_order(actor: Actor, order_id: int) -> WorkOrder:
    order = _get(int(order_id))
    if not _visible(actor, order):
        raise PermissionDenied(f"工单{order.serial}不属于您的班组")
    return order


@db_task
def get_by_serial(actor: Actor, serial: str) -> WorkOrder:
    row = database().execute_sql(_SELECT + " WHERE serial = ?", (str(serial).strip(),)).fetchone()
    if row is None:
        raise NotFound(f"工单号不存在：{str(serial)[:20]}")
    order = _order(row)
    if not _visible(actor, order):
        raise PermissionDenied(f"工单{order.serial}不属于您的班组")
    return order


@db_task
def steps(actor: Actor, order_id: int) -> list[Step]:
    order = _get(int(order_id))
    if not _visible(actor, order):
        raise PermissionDenied(f"工单{order.serial}不属于您的班组")
    rows = database().execute_sql(
        "SELECT at, actor, action, from_state, to_state, team_id, note"
        " FROM work_order_step WHERE order_id = ? ORDER BY id",
        (order.id,),
    )
    return [
        Step(str(a), str(b), str(c), str(d), str(e), None if f is None else int(f), str(g))
        for a, b, c, d, e, f, g in rows
    ]


@db_task
def list_orders(
    actor: Actor, *, state: str | None = None, customer_id: int | None = None, limit: int = 100
) -> list[WorkOrder]:
    """Orders the actor may see, newest first (a technician: his team's only)."""
    where: list[str] = []
    params: list[object] = []
    if actor.role in TECH_ROLES:
        where.append("team_id = ?")
        params.append(actor.team_id if actor.team_id is not None else -1)
    if state is not None:
        where.append("state = ?")
        params.append(State(choice(state, "状态", tuple(s.value for s in State))).value)
    if customer_id is not None:
        where.append("customer_id = ?")
        params.append(int(customer_id))
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?"
    rows = database().execute_sql(sql, (*params, max(1, min(int(limit), 1000))))
    return [_order(r) for r in rows]


@db_task
def overdue(at: _dt.datetime | None = None) -> list[WorkOrder]:
    """Open orders (not yet answered) whose time limit has passed, most overdue first."""
    moment = iso(at if at is not None else now())
    rows = database().execute_sql(
        _SELECT + " WHERE state NOT IN ('answered', 'closed') AND due_at < ? ORDER BY due_at", (moment,)
    )
    return [_order(r) for r in rows]


@db_task
def remind_due(share: float, at: _dt.datetime | None = None) -> list[WorkOrder]:
    """Open orders past ``share`` of their time limit, not overdue and not reminded yet: one
    'remind' step each (and the audit entry); returns them, soonest due first."""
    moment = at if at is not None else now()
    stamp = iso(moment)
    db = database()
    due = []
    with db.atomic():
        rows = db.execute_sql(
            _SELECT + " WHERE state NOT IN ('answered', 'closed') AND NOT reminded AND NOT escalated"
            " AND due_at >= ? ORDER BY due_at", (stamp,)).fetchall()
        for order in map(_order, rows):
            start = _dt.datetime.fromisoformat(order.created_at)
            end = _dt.datetime.fromisoformat(order.due_at)
            if moment < start + (end - start) * share:
                continue
            db.execute_sql("UPDATE work_order SET reminded = 1 WHERE id = ?", (order.id,))
            _step(order.id, stamp, SYSTEM, "remind", order.state.value, order.state.value, order.team_id,
                  f"即将超时（时限至{end.astimezone(TZ_CN):%m-%d %H:%M}）")
            audit.record("wo_remind", actor=SYSTEM.username, source=SYSTEM.source,
                         target=f"wo:{order.serial}", details={"due_at": order.due_at})
            due.append(order)
    return due


@db_task
def escalate_overdue(actor: Actor | None = None) -> list[WorkOrder]:
    """Flag every overdue order not flagged yet (one 'escalate' step each); returns those flagged."""
    who = actor or Actor("system", "system", None, "system")
    db = database()
    flagged = []
    with db.atomic():
        for order in overdue():
            if order.escalated:
                continue
            stamp = iso(now())
            db.execute_sql(
                "UPDATE work_order SET escalated = 1, updated_at = ? WHERE id = ?", (stamp, order.id)
            )
            _step(
                order.id,
                stamp,
                who,
                "escalate",
                order.state.value,
                order.state.value,
                order.team_id,
                f"超时（时限至{order.due_at}）",
            )
            audit.record(
                "wo_escalate",
                actor=who.username,
                source=who.source,
                target=f"wo:{order.serial}",
                details={"due_at": order.due_at, "state": order.state.value},
            )
            flagged.append(_get(order.id))
    if flagged:
        log.warning("%d work order(s) overdue and escalated", len(flagged))
    return flagged


@db_task
def status_by_serial(serial: str) -> tuple[int, str]:
    """For the IVR: (status code, Chinese sentence) of the order with these digits."""
    digits = re.sub(r"\D", "", str(serial))[:20]
    if not SERIAL_RE.fullmatch(digits):
        return STATUS_NOT_FOUND
    row = database().execute_sql("SELECT state FROM work_order WHERE serial = ?", (digits,)).fetchone()
    return STATUS[State(row[0])] if row is not None else STATUS_NOT_FOUND


@db_task
def _tickets_of(customer_id: int) -> list[dict[str, Any]]:
    rows = database().execute_sql(
        _SELECT + " WHERE customer_id = ? ORDER BY id DESC LIMIT 100", (customer_id,)
    )
    return [
        {
            "serial": o.serial,
            "type": o.type,
            "state": o.state.value,
            "state_name": o.state_name,
            "title": o.title,
            "created_at": o.created_at,
        }
        for o in map(_order, rows)
    ]


customer.register_history_source("tickets", _tickets_of)
