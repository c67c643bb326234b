"""The supervisor's wallboard (班长监控): queues, agents, today's figures, and forcing an agent's state.

The page loads one snapshot (``GET /api/supervisor/board``) and then lives on the ``acd.*`` events
of the SSE stream (/api/events): ``acd.queue.stats`` (waiting callers, longest wait, agents by
state), ``acd.agent.state`` (an agent's new state: its time in state restarts), and
``acd.call.connected`` / ``acd.call.ended``, after which the browser asks for today's figures again
(``GET /api/supervisor/today``, a CDR read on the database thread). A snapshot every
``FALLBACK_POLL_S`` is the only polling, in case events were lost.

Today's figures come from the CDR (appliance/crm/cdr.py ``day_figures``): calls that entered a
queue since midnight Beijing time, answered, abandoned, and the service level — answered within
the queue's threshold (``service_level`` seconds in its [[acd.queues]] entry, default
``SERVICE_LEVEL_S``) over answered + abandoned.

Time in state: the ACD's persisted agent state (``acd_agent_state.updated_at``, written on every
change) gives the start of the current state; the page counts on from there, and restarts the
count on each ``acd.agent.state`` event.

Actions (each audited, refusals in Chinese): make an agent ready, not ready (with a reason), or
log him out; the ACD refuses to log out an agent in a call. Listen / whisper / barge are not here
yet (they need call control in the ACD).
"""

from __future__ import annotations

import datetime as _dt
import logging
import time
from collections.abc import Mapping
from typing import Any

import bottle

from appliance.acd.model import AcdConfig
from appliance.crm import audit, cdr
from appliance.crm.common import TZ_CN
from appliance.crm.db import run_db
from appliance.web import agentapi
from appliance.web.agentapi import NOT_READY_REASONS, STATE_NAMES, CallCenter
from appliance.web.render import page
from appliance.web.routes import Ctx, WebError, route

log = logging.getLogger(__name__)

SERVICE_LEVEL_S = 20.0      # answered within this many seconds counts toward the service level
FALLBACK_POLL_S = 60        # the page's own snapshot interval (events do the live part)
STRATEGY_NAMES = {"ring_all": "同时振铃", "round_robin": "轮流", "longest_idle": "最长空闲优先",
                  "fewest_calls": "接听最少优先", "skills": "按技能"}

ACTION_NAMES = {"ready": "示闲", "not_ready": "示忙", "logout": "签出"}

_thresholds: dict[str, float] = {}


def configure(raw: Mapping[str, Any] | None) -> None:
    """Per-queue service-level thresholds from the service's TOML ([[acd.queues]] service_level)."""
    _thresholds.clear()
    acd = (raw or {}).get("acd")
    for q in (acd or {}).get("queues", []) if isinstance(acd, dict) else []:
        value = q.get("service_level") if isinstance(q, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 3600:
            _thresholds[str(q.get("name", ""))] = float(value)


def threshold(queue: str) -> float:
    return _thresholds.get(queue, SERVICE_LEVEL_S)


def _center() -> CallCenter:
    center = agentapi.center()
    if center is None:
        raise WebError(409, "本机未配置排队（ACD），监控不可用")
    return center


def members(cfg: AcdConfig, queue: str) -> list[str]:
    """Agent ids of a queue: its listed agents, then those with its skill (as the ACD's Queue.is_member)."""
    qc = cfg.queue(queue)
    out = list(qc.agents)
    if qc.skill:
        out += [a.id for a in cfg.agents if a.id not in out and a.skills.get(qc.skill, 0) >= qc.min_level]
    return out


def day_bounds(now: float | None = None) -> tuple[float, float, str]:
    """Today in Beijing time as epoch seconds [start, end) and its date."""
    moment = _dt.datetime.fromtimestamp(time.time() if now is None else now, TZ_CN)
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.timestamp(), (start + _dt.timedelta(days=1)).timestamp(), start.date().isoformat()


def today(cfg: AcdConfig) -> dict[str, Any]:
    start, end, date = day_bounds()
    names = [q.name for q in cfg.queues]
    limits = {n: threshold(n) for n in names}
    rows = {d.queue: d for d in cdr.day_figures(start, end, limits, SERVICE_LEVEL_S)}
    out: list[dict[str, Any]] = []
    for name in names + sorted(set(rows) - set(names)):
        d = rows.get(name) or cdr.QueueDay(name, 0, 0, 0, 0, 0)
        out.append({"queue": name, "offered": d.offered, "answered": d.answered,
                    "answered_in_time": d.answered_in_time, "abandoned": d.abandoned,
                    "in_progress": d.in_progress, "threshold_s": threshold(name),
                    "service_level": None if d.service_level is None else round(d.service_level * 100, 1)})
    answered = sum(r["answered"] for r in out)
    abandoned = sum(r["abandoned"] for r in out)
    in_time = sum(r["answered_in_time"] for r in out)
    done = answered + abandoned
    totals = {"offered": sum(r["offered"] for r in out), "answered": answered, "abandoned": abandoned,
              "answered_in_time": in_time, "service_level": round(100 * in_time / done, 1) if done else None}
    return {"date": date, "queues": out, "totals": totals}


def board(center: CallCenter) -> dict[str, Any]:
    cfg = center.cfg
    saved = {r.agent_id: r for r in cdr.load_agent_states()}
    now = time.time()
    queues = []
    for qc in cfg.queues:
        stats = center.queue_stats(qc.name)
        queues.append({"name": qc.name, "strategy": qc.strategy.value,
                       "strategy_name": STRATEGY_NAMES.get(qc.strategy.value, qc.strategy.value),
                       "waiting": stats["waiting"], "longest_wait": stats["longest_wait"],
                       "agents": stats["agents"], "members": members(cfg, qc.name)})
    agents = []
    for ac in cfg.agents:
        info = dict(center.agent_info(ac.id))
        row = saved.get(ac.id)
        since = row.updated_at if row is not None and row.state == info["state"] else now
        info.update(user=ac.user, state_name=STATE_NAMES.get(str(info["state"]), str(info["state"])),
                    state_for=round(max(0.0, now - since), 1),
                    queues=[q.name for q in cfg.queues if ac.id in members(cfg, q.name)])
        call = center.call_info(ac.id) if info["state"] == "talking" else {}
        info.update(monitor=call.get("monitor", ""), monitor_by=call.get("leader", ""))
        agents.append(info)
    return {"queues": queues, "agents": agents, "today": today(cfg), "reasons": NOT_READY_REASONS,
            "state_names": STATE_NAMES, "poll_s": FALLBACK_POLL_S}


# ---- routes -----------------------------------------------------------------------------------------


@route("GET", "/supervisor", perm="supervise", summary="班长监控（队列、座席、今日话务）")
def wallboard(ctx: Ctx) -> bottle.HTTPResponse:
    body = """
<p id="sv-error" class="error" role="alert"></p>
<section class="panel"><h2>队列 <small id="sv-date"></small></h2>
 <table class="list wallboard" id="sv-queues"><thead><tr><th>队列</th><th>排队</th><th>最长等待</th>
 <th>示闲 / 通话 / 整理 / 示忙</th><th>今日进线</th><th>接通</th><th>放弃</th><th>服务水平</th></tr></thead>
 <tbody></tbody><tfoot></tfoot></table></section>
<section class="panel"><h2>座席</h2>
 <table class="list" id="sv-agents"><thead><tr><th>工号</th><th>姓名</th><th>状态</th><th>时长</th>
 <th>原因</th><th>分机</th><th>接听</th><th>队列</th><th>操作</th></tr></thead><tbody></tbody></table>
 <p class="hint">强制示闲 / 示忙 / 签出会通知该座席的坐席台，并记入审计日志。监听、耳语、强插尚未提供。</p>
</section>"""
    return page(ctx, "班长监控", body, scripts=("app.js", "supervisor.js"), body_class="wide")


@route("GET", "/api/supervisor/board", perm="supervise", summary="监控快照：队列、座席状态与时长、今日话务")
def board_api(ctx: Ctx) -> dict[str, Any]:
    return board(_center())


@route("GET", "/api/supervisor/today", perm="supervise", summary="今日话务：接通、放弃、服务水平（按队列）")
def today_api(ctx: Ctx) -> dict[str, Any]:
    return today(_center().cfg)


def _force(ctx: Ctx, action: str, reason: str = "") -> dict[str, Any]:
    center = _center()
    agent_id = str(ctx.args.get("aid", ""))
    if agent_id not in {a.id for a in center.cfg.agents}:
        raise WebError(404, f"座席工号不存在：{agent_id[:20]}")
    before = str(center.agent_info(agent_id)["state"])
    try:
        if action == "ready":
            center.ready(agent_id)
        elif action == "not_ready":
            center.not_ready(agent_id, reason)
        else:
            center.logout(agent_id)
    except ValueError as exc:               # AcdError: the message says why
        text = str(exc)
        zh = ("该座席正在通话或振铃，不能强制签出：请等通话结束后再试" if "is in a call" in text
              else agentapi.refusal(exc))
        run_db(audit.record, f"supervisor_{action}_refused", actor=ctx.username, source="web",
               target=f"agent:{agent_id}", details={"reason": reason, "refusal": text[:200]})
        raise WebError(409, zh) from None
    info = dict(center.agent_info(agent_id))
    run_db(audit.record, f"supervisor_{action}", actor=ctx.username, source="web", target=f"agent:{agent_id}",
           details={"reason": reason, "before": before, "after": info["state"]})
    log.info("web: supervisor %s made agent %s %s (%s -> %s)", ctx.username, agent_id, action, before,
             info["state"])
    info["state_name"] = STATE_NAMES.get(str(info["state"]), str(info["state"]))
    if action == "not_ready" and info["state"] == "talking":
        info["message"] = f"座席 {agent_id} 正在通话：通话和话后整理结束后转为示忙"
    else:
        info["message"] = f"座席 {agent_id} 已{ACTION_NAMES[action]}"
    return info


@route("POST", "/api/supervisor/agents/<aid>/ready", perm="supervise", summary="强制座席示闲")
def force_ready(ctx: Ctx) -> dict[str, Any]:
    return _force(ctx, "ready")


@route("POST", "/api/supervisor/agents/<aid>/not_ready", perm="supervise",
       summary="强制座席示忙（reason：原因代码）")
def force_not_ready(ctx: Ctx) -> dict[str, Any]:
    code = ctx.field("reason", "other").strip() or "other"
    if code not in NOT_READY_REASONS:
        raise WebError(400, "示忙原因无效：" + "、".join(f"{k}={v}" for k, v in NOT_READY_REASONS.items()))
    return _force(ctx, "not_ready", f"{NOT_READY_REASONS[code]}（班长 {ctx.username} 设置）")


@route("POST", "/api/supervisor/agents/<aid>/logout", perm="supervise", summary="强制座席签出（通话中不可）")
def force_logout(ctx: Ctx) -> dict[str, Any]:
    return _force(ctx, "logout")
