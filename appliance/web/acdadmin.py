"""Views of the call-center configuration: queues and agents of the ACD, the IVR's schedules.

The ACD's queues and agents come from the service's TOML ([acd], docs/acd.md) and are shown as the
running ACD has them (strategy, members by list or by skill, timers, overflow), with each agent's
skills, configured and current station and the web user who works as him. The schedules are the
``schedule`` nodes of each IVR flow's active version (appliance/crm/flowstore.py), with whether
each is open right now. Queues and agents are edited here by the roles with ``acd.admin``
(acdforms.py, acdedit.py); schedules in the IVR flow pages.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from collections.abc import Mapping
from typing import Any

import bottle

from appliance.crm import flowstore, users
from appliance.ivr.interp import schedule_open
from appliance.ivr.validate import WEEKDAYS
from appliance.web import acdedit, acdforms, agentapi
from appliance.web.agentapi import STATE_NAMES
from appliance.web.render import e, page
from appliance.web.routes import Ctx, allowed, route
from appliance.web.supervisor import STRATEGY_NAMES, members, threshold

log = logging.getLogger(__name__)

WEEKDAY_NAMES = dict(zip(WEEKDAYS, ("周一", "周二", "周三", "周四", "周五", "周六", "周日"), strict=True))
OVERFLOW_NAMES = {"": "（无：按流程处理）", "voicemail": "语音留言", "callback": "回拨登记"}


def _num(v: float | None, unit: str = "秒") -> str:
    return "默认" if v is None else f"{v:g} {unit}"


def _queues_html(center: agentapi.CallCenter) -> str:
    cfg = center.cfg
    rows = []
    for q in cfg.queues:
        who = "、".join(members(cfg, q.name)) or "（无）"
        skill = f"{e(q.skill)} ≥ {q.min_level}" if q.skill else ""
        overflow = OVERFLOW_NAMES.get(q.overflow, f"转队列 {q.overflow}")
        default = "（默认）" if q.name == cfg.default_queue else ""
        rows.append(
            f'<tr id="q-{e(q.name)}"><td>{e(q.name)}{default}</td>'
            f"<td>{e(STRATEGY_NAMES.get(q.strategy.value, q.strategy.value))}</td><td>{e(who)}</td>"
            f"<td>{skill}</td><td>{_num(q.ring_timeout)}</td><td>{_num(q.max_wait)}</td><td>{q.max_length}</td>"
            f"<td>{e(overflow)}</td><td>{_num(q.wrapup if q.wrapup is not None else cfg.wrapup)}</td>"
            f"<td>{threshold(q.name):g} 秒</td></tr>"
        )
    return (
        '<table class="list" id="acd-queues"><thead><tr><th>队列</th><th>分配策略</th><th>成员座席</th>'
        "<th>技能要求</th><th>振铃超时</th><th>最长等待</th><th>最多排队</th><th>溢出</th><th>话后整理</th>"
        f'<th>服务水平阈值</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _agents_html(center: agentapi.CallCenter) -> str:
    cfg = center.cfg
    known = {u.username for u in users.list_users()}
    rows = []
    for a in cfg.agents:
        info = center.agent_info(a.id)
        skills = "、".join(f"{k} {v}" for k, v in sorted(a.skills.items())) or "—"
        queues = "、".join(q.name for q in cfg.queues if a.id in members(cfg, q.name)) or "—"
        user = a.user or "（未绑定）"
        if a.user and a.user not in known:
            user += "（此用户不存在）"
        current = info.get("station")
        rows.append(
            f'<tr id="a-{e(a.id)}"><td>{e(a.id)}</td><td>{e(a.name)}</td><td>{e(user)}</td>'
            f'<td>{"—" if a.station is None else a.station}</td>'
            f'<td>{"—" if current is None else e(current)}</td>'
            f'<td>{"耳机自动应答" if a.mode.value == "auto_answer" else "话机振铃"}</td><td>{e(skills)}</td>'
            f"<td>{e(queues)}</td>"
            f"<td>{e(STATE_NAMES.get(str(info.get('state')), info.get('state')))}</td></tr>"
        )
    return (
        '<table class="list" id="acd-agents"><thead><tr><th>工号</th><th>姓名</th><th>网页用户</th>'
        "<th>配置分机</th><th>当前分机</th><th>话机方式</th><th>技能</th><th>所属队列</th><th>当前状态</th>"
        f'</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def render_acd(ctx: Ctx, error: str = "", status: int = 200) -> bottle.HTTPResponse:
    center = agentapi.center()
    msg = ctx.query.get("msg", "")[:200]
    body = f'<p class="ok" role="status" id="acd-msg">{e(msg)}</p>' if msg and not error else ""
    body += f'<p class="error" role="alert" id="acd-error">{e(error)}</p>' if error else ""
    if center is None:
        body += '<p class="error" role="alert">本机未配置排队（ACD）：配置文件中没有 [acd] 队列和座席。</p>'
    else:
        cfg = center.cfg
        body += (
            f"<p>默认队列：{e(cfg.default_queue)}；话后整理默认 {cfg.wrapup:g} 秒；"
            f"连续 {cfg.no_answer_limit} 次未接自动示忙。</p>"
            f"<h2>队列</h2>{_queues_html(center)}<h2>座席</h2>{_agents_html(center)}"
        )
        if allowed("acd.admin", ctx.role):
            body += acdforms.editor_html(ctx, acdedit.current())
        else:
            body += '<p class="hint">修改队列和座席需要主管或管理员权限。</p>'
    body += '<p><a href="/admin/schedules">IVR 工作时间</a></p>'
    return page(ctx, "队列与座席", body, status, body_class="wide")


@route("GET", "/admin/acd", perm="supervise", summary="队列与座席配置（主管、管理员可修改）")
def acd_page(ctx: Ctx) -> bottle.HTTPResponse:
    return render_acd(ctx)


acdedit.set_renderer(render_acd)


# ---- schedules -------------------------------------------------------------------------------------


def schedules() -> list[tuple[str, int, str, Mapping[str, Any]]]:
    """(flow id, version, node id, node) of every schedule node of every active flow."""
    out: list[tuple[str, int, str, Mapping[str, Any]]] = []
    for flow_id in flowstore.list_flows():
        stored = flowstore.get_active(flow_id)
        if stored is None:
            continue
        try:
            nodes = json.loads(stored.body).get("nodes", {})
        except (ValueError, AttributeError):
            log.warning("web: active flow %s@v%d is not JSON", flow_id, stored.version)
            continue
        for nid, node in sorted(nodes.items()) if isinstance(nodes, dict) else []:
            if isinstance(node, dict) and node.get("type") == "schedule":
                out.append((flow_id, stored.version, str(nid), node))
    return out


def _spans(spans: Any) -> str:
    if not isinstance(spans, list) or not spans:
        return "休息"
    return "，".join(f"{s[0]}–{s[1]}" for s in spans if isinstance(s, list) and len(s) == 2)


def _schedule_html(flow_id: str, version: int, nid: str, node: Mapping[str, Any], now: _dt.datetime) -> str:
    hours = node.get("hours", {}) if isinstance(node.get("hours"), dict) else {}
    days = "".join(
        f"<tr><th>{WEEKDAY_NAMES[d]}</th><td>{e(_spans(hours.get(d)))}</td></tr>" for d in WEEKDAYS
    )
    holidays = "、".join(str(h) for h in node.get("holidays", []) or []) or "无"
    special = node.get("special_days", {}) if isinstance(node.get("special_days"), dict) else {}
    specials = "；".join(f"{d}：{_spans(s)}" for d, s in sorted(special.items())) or "无"
    try:
        state = "现在：上班时间" if schedule_open(node, now) else "现在：下班时间"
    except (TypeError, ValueError):
        state = "现在：无法判断（时间段格式有误）"
    return (
        f'<section class="panel" id="sched-{e(flow_id)}-{e(nid)}"><h2>流程 {e(flow_id)}（第 {version} 版）'
        f" · 节点 {e(nid)}</h2><p><strong>{state}</strong>；上班转到 {e(node.get('open'))}，"
        f"下班转到 {e(node.get('closed'))}</p>"
        f'<table class="list">{days}</table><p>节假日（全天下班）：{e(holidays)}</p>'
        f"<p>特殊日期：{e(specials)}</p></section>"
    )


@route("GET", "/admin/schedules", perm="supervise", summary="IVR 工作时间与节假日（只读）")
def schedules_page(ctx: Ctx) -> bottle.HTTPResponse:
    now = _dt.datetime.now()            # the IVR's clock (runtime.py): the box's local time
    found = schedules()
    body = "".join(_schedule_html(*s, now) for s in found) or (
        '<p id="no-schedules">没有启用中的 IVR 流程含有工作时间节点（IVR 未启用，或流程不分上下班）。</p>'
    )
    body += '<p class="hint">工作时间是 IVR 流程的一部分，在流程编辑中修改；按本机时间判断。</p>'
    return page(ctx, "IVR 工作时间", body, body_class="wide")
