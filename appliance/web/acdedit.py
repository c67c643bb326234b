"""Editing the ACD's queues and agents on the web (队列与座席), applied to the running ACD at once.

The page (/admin/acd, appliance/web/acdadmin.py) shows, to the roles with ``acd.admin``, a form per
queue and per agent, forms for a new one, and the general settings. A POST here takes the current
``[acd]`` section (``current()``: the newest saved version, else the TOML's), changes one queue,
agent or setting, checks every field in Chinese, then the whole with the ACD's own ``parse_config``,
hands it to the running ACD (``reconfigure``: no call is dropped, a queue with callers or a signed-in
agent is not removed) and only then saves it as a new version (crm/acdconf.py, audited). Nothing is
written when any step refuses; the page comes back with what was wrong. ``dial_allow`` (toll-fraud
guard) and the VIP/emergency lists stay in the TOML: they are not editable from the web.
"""

from __future__ import annotations

import copy
import logging
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import bottle

from appliance.acd.errors import AcdError
from appliance.acd.model import AcdConfig, AcdConfigError, PhoneMode, RecordMode, Strategy, parse_config
from appliance.crm import acdconf, users
from appliance.crm.common import CrmError
from appliance.web import agentapi, supervisor
from appliance.web.render import redirect
from appliance.web.routes import Ctx, WebError, route

log = logging.getLogger(__name__)

_raw: dict[str, Any] = {}           # the [acd] section the running ACD was built from
_NAME = re.compile(r"[\w-]{1,32}")
_AGENT_ID = re.compile(r"[0-9A-Za-z_-]{1,16}")
_SPLIT = re.compile(r"[\s,，、;；]+")
_SKILL = re.compile(r"([\w-]{1,32})\s*[:：=]\s*(\d{1,2})")
SPECIAL_OVERFLOW = ("", "voicemail", "callback")

Render = Callable[[Ctx, str, int], bottle.HTTPResponse]
_render: Render | None = None        # acdadmin's page, set by it (it imports this module)


def bind(raw: Mapping[str, Any] | None) -> None:
    """The service gives the [acd] section in use (a saved version, else the TOML's)."""
    global _raw
    _raw = copy.deepcopy(dict(raw or {}))


def current() -> dict[str, Any]:
    return copy.deepcopy(_raw)


def set_renderer(fn: Render) -> None:
    global _render
    _render = fn


# ---- field checks (Chinese messages) ---------------------------------------------------------------


def _number(ctx: Ctx, name: str, label: str, lo: float, hi: float, *, required: bool = True) -> float | None:
    text = ctx.field(name).strip()
    if not text:
        if required:
            raise WebError(400, f"请填写{label}")
        return None
    try:
        value = float(text)
    except ValueError:
        raise WebError(400, f"{label}应为数字：{text[:20]}") from None
    if not lo <= value <= hi:
        raise WebError(400, f"{label}应在 {lo:g} 到 {hi:g} 之间")
    return value


def _choice(ctx: Ctx, name: str, label: str, allowed: tuple[str, ...]) -> str:
    value = ctx.field(name).strip()
    if value not in allowed:
        raise WebError(400, f"{label}无效：{value[:20]}")
    return value


def _ids(text: str) -> list[str]:
    return [t for t in _SPLIT.split(text.strip()) if t]


def _skills(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in _ids(text):
        m = _SKILL.fullmatch(part)
        if m is None:
            raise WebError(400, f"技能格式应为“技能:等级”，如 gas:3：{part[:20]}")
        level = int(m.group(2))
        if not 1 <= level <= 10:
            raise WebError(400, f"技能等级应为 1～10：{part[:20]}")
        out[m.group(1)] = level
    return out


def _set(target: dict[str, Any], key: str, value: Any) -> None:
    """None removes the key (the default applies)."""
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value


# ---- the queue, agent and settings forms --------------------------------------------------------------


def _queue_fields(ctx: Ctx, raw: dict[str, Any], q: dict[str, Any]) -> None:
    names = [str(x.get("name")) for x in raw.get("queues", [])]
    agents = {str(a.get("id")) for a in raw.get("agents", [])}
    q["strategy"] = _choice(ctx, "strategy", "分配策略", tuple(s.value for s in Strategy))
    members = _ids(ctx.field("agents"))
    unknown = [m for m in members if m not in agents]
    if unknown:
        raise WebError(400, f"没有这些座席：{'、'.join(unknown)[:60]}")
    if len(set(members)) != len(members):
        raise WebError(400, "成员座席有重复")
    q["agents"] = members
    skill = ctx.field("skill").strip()
    if skill and not _NAME.fullmatch(skill):
        raise WebError(400, "技能名只能是字母、数字、汉字、下划线或横线")
    if q["strategy"] == Strategy.SKILLS.value and not skill:
        raise WebError(400, "“按技能”分配必须填写技能")
    _set(q, "skill", skill or None)
    level = _number(ctx, "min_level", "最低技能等级", 1, 10, required=False)
    _set(q, "min_level", None if level is None else int(level))
    q["ring_timeout"] = _number(ctx, "ring_timeout", "振铃超时", 5, 120)
    q["max_wait"] = _number(ctx, "max_wait", "最长等待", 10, 7200)
    q["max_length"] = int(_number(ctx, "max_length", "最多排队", 1, 500) or 1)
    _set(q, "wrapup", _number(ctx, "wrapup", "话后整理", 0, 3600, required=False))
    overflow = ctx.field("overflow").strip()
    if overflow not in SPECIAL_OVERFLOW and overflow not in names:
        raise WebError(400, f"溢出目标无效：{overflow[:20]}")
    if overflow == q.get("name"):
        raise WebError(400, "不能溢出到本队列")
    _set(q, "overflow", overflow or None)
    q["record"] = _choice(ctx, "record", "录音方式", tuple(m.value for m in RecordMode))
    q["survey"] = ctx.field("survey") == "1"
    q["announce_wait"] = ctx.field("announce_wait") == "1"
    q["service_level"] = _number(ctx, "service_level", "服务水平阈值", 5, 600)


def _agent_fields(ctx: Ctx, a: dict[str, Any]) -> None:
    name = ctx.field("name").strip()
    if len(name) > 32:
        raise WebError(400, "姓名最多 32 个字")
    a["name"] = name
    user = ctx.field("user").strip().lower()
    if user and user not in {u.username for u in users.list_users()}:
        raise WebError(400, f"网页用户 {user} 不存在，请先在用户管理中创建")
    _set(a, "user", user or None)
    station = _number(ctx, "station", "默认分机端口", 0, 999, required=False)
    _set(a, "station", None if station is None else int(station))
    a["mode"] = _choice(ctx, "mode", "话机方式", tuple(m.value for m in PhoneMode))
    a["skills"] = _skills(ctx.field("skills"))
    _set(a, "wrapup", _number(ctx, "wrapup", "话后整理", 0, 3600, required=False))
    a["leader"] = ctx.field("leader") == "1"
    record = ctx.field("record").strip()
    if record and record not in {m.value for m in RecordMode}:
        raise WebError(400, f"录音方式无效：{record[:20]}")
    _set(a, "record", record or None)


def _find(items: list[dict[str, Any]], key: str, value: str, label: str) -> dict[str, Any]:
    for item in items:
        if str(item.get(key)) == value:
            return item
    raise WebError(404, f"没有{label} {value[:32]}")


# ---- apply: check, reconfigure, save -------------------------------------------------------------------


def _check(raw: dict[str, Any]) -> AcdConfig:
    if not raw.get("queues") or not raw.get("agents"):
        raise WebError(400, "至少需要一个队列和一个座席")
    try:
        cfg = parse_config({"acd": raw})
    except AcdConfigError as exc:
        raise WebError(400, f"配置不一致：{exc}") from None
    assert cfg is not None
    return cfg


def apply(ctx: Ctx, raw: dict[str, Any], note: str) -> bottle.HTTPResponse:
    center = agentapi.center()
    if center is None:
        raise WebError(409, "本机未配置排队（ACD），不能修改队列与座席")
    cfg = _check(raw)
    try:
        center.reconfigure(cfg)
    except (AcdError, ValueError) as exc:
        raise WebError(409, str(exc)) from None
    try:
        version = acdconf.save(ctx.need_actor(), raw, note)
    except CrmError as exc:
        log.error("web: acd config applied but not saved: %s", exc)
        raise WebError(500, f"已生效但未能保存：{exc}") from None
    bind(raw)
    supervisor.configure({"acd": raw})
    log.info("web: %s changed the ACD (%s), version %d", ctx.username, note, version.version)
    return redirect("/admin/acd?msg=" + urllib.parse.quote(f"已生效（第 {version.version} 版）：{note}"))


def _guarded(ctx: Ctx, change: Callable[[dict[str, Any]], str]) -> bottle.HTTPResponse:
    raw = current()
    try:
        note = change(raw)
        return apply(ctx, raw, note)
    except WebError as exc:
        if _render is None or exc.status >= 500:
            raise
        return _render(ctx, exc.message, 400 if exc.status == 404 else exc.status)


@route("POST", "/admin/acd/queues", perm="acd.admin", summary="新建或修改队列（立即生效）")
def queue_save(ctx: Ctx) -> bottle.HTTPResponse:
    def change(raw: dict[str, Any]) -> str:
        name = ctx.field("name").strip()
        if not _NAME.fullmatch(name):
            raise WebError(400, "队列名只能是字母、数字、汉字、下划线或横线（最多 32 个）")
        queues = raw.setdefault("queues", [])
        existing = [q for q in queues if str(q.get("name")) == name]
        if ctx.field("new") == "1" and existing:
            raise WebError(400, f"队列 {name} 已存在")
        q = existing[0] if existing else {"name": name}
        if not existing:
            queues.append(q)
        _queue_fields(ctx, raw, q)
        return f"{'修改' if existing else '新建'}队列 {name}"
    return _guarded(ctx, change)


@route("POST", "/admin/acd/queues/<qname>/delete", perm="acd.admin", summary="删除队列（无人排队时）")
def queue_delete(ctx: Ctx) -> bottle.HTTPResponse:
    def change(raw: dict[str, Any]) -> str:
        name = str(ctx.args["qname"])
        queues = raw.get("queues", [])
        default = str(raw.get("default_queue") or (queues[0].get("name") if queues else ""))
        queues.remove(_find(queues, "name", name, "队列"))
        if name == default:
            raise WebError(400, f"队列 {name} 是默认队列，请先改默认队列")
        raw["default_queue"] = default
        users_of = [str(q.get("name")) for q in queues if str(q.get("overflow", "")) == name]
        if users_of:
            raise WebError(400, f"队列 {'、'.join(users_of)} 溢出到 {name}，请先修改")
        return f"删除队列 {name}"
    return _guarded(ctx, change)


@route("POST", "/admin/acd/agents", perm="acd.admin", summary="新建或修改座席（立即生效）")
def agent_save(ctx: Ctx) -> bottle.HTTPResponse:
    def change(raw: dict[str, Any]) -> str:
        aid = ctx.field("id").strip()
        if not _AGENT_ID.fullmatch(aid):
            raise WebError(400, "工号只能是字母、数字、下划线或横线（最多 16 个）")
        agents = raw.setdefault("agents", [])
        existing = [a for a in agents if str(a.get("id")) == aid]
        if ctx.field("new") == "1" and existing:
            raise WebError(400, f"工号 {aid} 已存在")
        a = existing[0] if existing else {"id": aid}
        if not existing:
            agents.append(a)
        _agent_fields(ctx, a)
        for q in ctx.field("queues").split(",") if ctx.field("queues") else []:    # new agent: join
            target = _find(raw.get("queues", []), "name", q.strip(), "队列")
            if aid not in target.setdefault("agents", []):
                target["agents"].append(aid)
        return f"{'修改' if existing else '新建'}座席 {aid}"
    return _guarded(ctx, change)


@route("POST", "/admin/acd/agents/<aid>/delete", perm="acd.admin", summary="删除座席（已签出时）")
def agent_delete(ctx: Ctx) -> bottle.HTTPResponse:
    def change(raw: dict[str, Any]) -> str:
        aid = str(ctx.args["aid"])
        agents = raw.get("agents", [])
        agents.remove(_find(agents, "id", aid, "座席"))
        for q in raw.get("queues", []):
            q["agents"] = [m for m in q.get("agents", []) if str(m) != aid]
        return f"删除座席 {aid}"
    return _guarded(ctx, change)


@route("POST", "/admin/acd/settings", perm="acd.admin",
       summary="排队的默认设置（默认队列、话后整理、未接次数）")
def settings_save(ctx: Ctx) -> bottle.HTTPResponse:
    def change(raw: dict[str, Any]) -> str:
        names = [str(q.get("name")) for q in raw.get("queues", [])]
        raw["default_queue"] = _choice(ctx, "default_queue", "默认队列", tuple(names))
        raw["wrapup"] = _number(ctx, "wrapup", "话后整理", 0, 3600)
        raw["no_answer_limit"] = int(_number(ctx, "no_answer_limit", "连续未接次数", 1, 20) or 1)
        return "修改默认设置"
    return _guarded(ctx, change)
