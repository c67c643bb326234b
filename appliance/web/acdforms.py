"""The edit forms of /admin/acd (队列与座席) for the roles with ``acd.admin``; they post to acdedit.py.

Each form is filled from the [acd] section in use (``acdedit.current()``), so a field left as it
was keeps its value; empty optional fields mean "the default".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from appliance.acd.model import MAX_LENGTH, MAX_WAIT, NO_ANSWER_LIMIT, RING_TIMEOUT, WRAPUP_SECONDS
from appliance.crm import acdconf
from appliance.web.render import csrf_field, e
from appliance.web.routes import Ctx
from appliance.web.supervisor import SERVICE_LEVEL_S, STRATEGY_NAMES

RECORD_NAMES = {"always": "全程录音", "on_demand": "按需录音", "never": "不录音"}
MODE_NAMES = {"ring": "话机振铃", "auto_answer": "耳机自动应答"}


def _v(raw: Mapping[str, Any], key: str, default: Any = "") -> str:
    value = raw.get(key, default)
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _select(name: str, options: Mapping[str, str], chosen: str, label: str) -> str:
    opts = "".join(f'<option value="{e(k)}"{" selected" if k == chosen else ""}>{e(v)}</option>'
                   for k, v in options.items())
    return f'<label>{e(label)} <select name="{e(name)}">{opts}</select></label>'


def _input(name: str, value: str, label: str, size: int = 6, hint: str = "") -> str:
    ph = f' placeholder="{e(hint)}"' if hint else ""
    return (f'<label>{e(label)} <input name="{e(name)}" value="{e(value)}" size="{size}" '
            f'maxlength="200"{ph}></label>')


def _check(name: str, on: bool, label: str) -> str:
    checked = " checked" if on else ""
    return f'<label><input type="checkbox" name="{e(name)}" value="1"{checked}> {e(label)}</label>'


def queue_form(ctx: Ctx, raw: Mapping[str, Any], q: Mapping[str, Any] | None) -> str:
    names = [str(x.get("name")) for x in raw.get("queues", [])]
    new = q is None
    q = q or {"strategy": "longest_idle", "record": "always", "announce_wait": True}
    overflow = {"": "（无：按流程处理）", "voicemail": "语音留言", "callback": "回拨登记"}
    overflow.update({n: f"转队列 {n}" for n in names if n != q.get("name")})
    name = (_input("name", "", "队列名", 12, "如 repair") if new else
            f'<input type="hidden" name="name" value="{e(_v(q, "name"))}"><b>{e(_v(q, "name"))}</b>')
    fid = "qf-new" if new else f"qf-{_v(q, 'name')}"
    return (
        f'<form method="post" action="/admin/acd/queues" class="acd-form" id="{e(fid)}">{csrf_field(ctx)}'
        f'{"<input type=hidden name=new value=1>" if new else ""}{name}'
        + _select("strategy", STRATEGY_NAMES, _v(q, "strategy"), "分配策略")
        + _input("agents", " ".join(str(a) for a in q.get("agents", [])), "成员座席", 24, "工号，空格分隔")
        + _input("skill", _v(q, "skill"), "技能", 8) + _input("min_level", _v(q, "min_level"), "最低等级", 3)
        + _input("ring_timeout", _v(q, "ring_timeout", RING_TIMEOUT), "振铃超时(秒)", 4)
        + _input("max_wait", _v(q, "max_wait", MAX_WAIT), "最长等待(秒)", 5)
        + _input("max_length", _v(q, "max_length", MAX_LENGTH), "最多排队", 4)
        + _select("overflow", overflow, _v(q, "overflow"), "溢出到")
        + _input("wrapup", _v(q, "wrapup"), "话后整理(秒)", 4, "默认")
        + _select("record", RECORD_NAMES, _v(q, "record", "always"), "录音")
        + _check("survey", bool(q.get("survey")), "满意度调查")
        + _check("announce_wait", bool(q.get("announce_wait", True)), "播报预计等待")
        + _input("service_level", _v(q, "service_level", SERVICE_LEVEL_S), "服务水平阈值(秒)", 4)
        + f'<button type="submit">{"新建队列" if new else "保存"}</button></form>'
        + ("" if new else
           f'<form method="post" action="/admin/acd/queues/{e(_v(q, "name"))}/delete" class="acd-delete">'
           f'{csrf_field(ctx)}<button type="submit" class="danger">删除队列</button></form>')
    )


def agent_form(ctx: Ctx, raw: Mapping[str, Any], a: Mapping[str, Any] | None) -> str:
    new = a is None
    a = a or {"mode": "ring"}
    ident = (_input("id", "", "工号", 6, "如 1005") if new else
             f'<input type="hidden" name="id" value="{e(_v(a, "id"))}"><b>{e(_v(a, "id"))}</b>')
    skills = " ".join(f"{k}:{v}" for k, v in sorted((a.get("skills") or {}).items()))
    record = {"": "按队列", **RECORD_NAMES}
    join = ""
    if new:
        queues = {"": "（暂不加入）"}
        queues.update({str(q.get("name")): str(q.get("name")) for q in raw.get("queues", [])})
        join = _select("queues", queues, "", "加入队列")
    fid = "af-new" if new else f"af-{_v(a, 'id')}"
    return (
        f'<form method="post" action="/admin/acd/agents" class="acd-form" id="{e(fid)}">{csrf_field(ctx)}'
        f'{"<input type=hidden name=new value=1>" if new else ""}{ident}'
        + _input("name", _v(a, "name"), "姓名", 8) + _input("user", _v(a, "user"), "网页用户", 10)
        + _input("station", _v(a, "station"), "默认分机端口", 3, "签入时选")
        + _select("mode", MODE_NAMES, _v(a, "mode", "ring"), "话机方式")
        + _input("skills", skills, "技能", 14, "gas:3 heat:1")
        + _input("wrapup", _v(a, "wrapup"), "话后整理(秒)", 4, "默认")
        + _check("leader", bool(a.get("leader")), "班长") + _select("record", record, _v(a, "record"), "录音")
        + join + f'<button type="submit">{"新建座席" if new else "保存"}</button></form>'
        + ("" if new else
           f'<form method="post" action="/admin/acd/agents/{e(_v(a, "id"))}/delete" class="acd-delete">'
           f'{csrf_field(ctx)}<button type="submit" class="danger">删除座席</button></form>')
    )


def settings_form(ctx: Ctx, raw: Mapping[str, Any]) -> str:
    names = {str(q.get("name")): str(q.get("name")) for q in raw.get("queues", [])}
    default = _v(raw, "default_queue") or next(iter(names), "")
    return (
        '<form method="post" action="/admin/acd/settings" class="acd-form" id="acd-settings">'
        f"{csrf_field(ctx)}"
        + _select("default_queue", names, default, "默认队列")
        + _input("wrapup", _v(raw, "wrapup", WRAPUP_SECONDS), "话后整理(秒)", 4)
        + _input("no_answer_limit", _v(raw, "no_answer_limit", NO_ANSWER_LIMIT), "连续未接几次后示忙", 3)
        + '<button type="submit">保存</button></form>'
    )


def history_html() -> str:
    rows = "".join(f"<tr><td>{v.version}</td><td>{e(v.created_at[:16])}</td>"
                   f"<td>{e(v.created_by)}</td><td>{e(v.note)}</td></tr>" for v in acdconf.history(20))
    rows = rows or "<tr><td colspan=4>尚未在网页上修改过</td></tr>"
    return ('<table class="list" id="acd-versions"><thead><tr><th>版本</th><th>时间（UTC）</th>'
            f"<th>修改人</th><th>修改内容</th></tr></thead><tbody>{rows}</tbody></table>")


def editor_html(ctx: Ctx, raw: Mapping[str, Any]) -> str:
    queues = "".join(f'<details><summary>修改队列 {e(_v(q, "name"))}</summary>'
                     f"{queue_form(ctx, raw, q)}</details>" for q in raw.get("queues", []))
    agents = "".join(f'<details><summary>修改座席 {e(_v(a, "id"))} {e(_v(a, "name"))}</summary>'
                     f"{agent_form(ctx, raw, a)}</details>" for a in raw.get("agents", []))
    return (
        '<section class="panel" id="acd-editor"><h2>修改（立即生效，不影响正在进行的通话）</h2>'
        f"<h3>默认设置</h3>{settings_form(ctx, raw)}"
        f"<h3>队列</h3>{queues}<details><summary>新建队列</summary>{queue_form(ctx, raw, None)}</details>"
        f"<h3>座席</h3>{agents}<details><summary>新建座席</summary>{agent_form(ctx, raw, None)}</details>"
        "<p class=\"hint\">外呼允许号码（防盗打）与 VIP/紧急号码在配置文件中设置，不能在网页修改。</p>"
        f"<h3>修改记录</h3>{history_html()}</section>"
    )
