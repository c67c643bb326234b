"""The agent's own call-center state from the desk: sign in on a station, ready / not ready with a
reason, end the after-call work (示闲 / 示忙 / 话后整理).

The web reaches the ACD only through its service API (``CallCenter``), bound by the service at
start (``bind``). The logged-in web user works as the ACD agent whose ``user`` is his login name
([[acd.agents]] in the config); a user bound to no agent gets a clear refusal.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from appliance.acd.model import AcdConfig
from appliance.crm import audit
from appliance.crm.db import run_db
from appliance.web.routes import Ctx, WebError, route

log = logging.getLogger(__name__)

# Reason codes an agent picks for "not ready" (the ACD stores the text as given).
NOT_READY_REASONS: dict[str, str] = {
    "break": "小休", "meal": "用餐", "meeting": "开会", "training": "培训", "callback": "回访外呼",
    "other": "其他",
}
STATE_NAMES: dict[str, str] = {
    "logged_out": "未签入", "not_ready": "示忙", "ready": "示闲", "offered": "振铃",
    "talking": "通话中", "wrap_up": "话后整理",
}

# The ACD speaks English in its refusals (logs, console); the desk shows Chinese.
_REFUSALS = (
    ("not logged in", "座席未签入，请先签入分机"),
    ("is in a call", "通话中，不能签出"),
    ("being offered", "正在振铃：请接听，或等振铃结束"),
    ("not in wrap-up", "当前不在话后整理状态"),
    ("already logged in", "该座席已在另一个分机签入"),
    ("is taken by", "该分机已有其他座席签入"),
    ("not a station", "分机号无效：应为本机的座席（FXS）端口"),
    ("unknown agent", "座席工号不存在"),
)


class CallCenter(Protocol):
    """What the desk needs from the ACD (appliance/acd/service.py ``ACD``)."""

    def agent_for_user(self, username: str) -> str | None: ...
    def agent_info(self, agent_id: str) -> dict[str, object]: ...
    def call_info(self, agent_id: str) -> dict[str, Any]: ...
    def reconfigure(self, cfg: AcdConfig) -> None: ...
    def login(self, agent_id: str, station: int, mode: Any = None, ready: bool = False) -> None: ...
    def logout(self, agent_id: str) -> None: ...
    def ready(self, agent_id: str) -> None: ...
    def not_ready(self, agent_id: str, reason: str = "") -> None: ...
    def end_wrapup(self, agent_id: str) -> None: ...
    # the supervisor's wallboard and the ACD admin view (appliance/web/supervisor.py, acdadmin.py)
    @property
    def cfg(self) -> AcdConfig: ...
    def queue_stats(self, name: str) -> dict[str, Any]: ...


_center: CallCenter | None = None


def center() -> CallCenter | None:
    """The bound ACD (None: the box runs without one)."""
    return _center


def refusal(exc: Exception) -> str:
    """An ACD refusal (English, for logs) in Chinese for the page."""
    text = str(exc)
    return next((z for needle, z in _REFUSALS if needle in text), "操作未执行：" + text)


def bind(center: CallCenter | None) -> None:
    """The service gives the web its ACD (None: no ACD configured)."""
    global _center
    _center = center


def _agent(ctx: Ctx) -> tuple[CallCenter, str]:
    if _center is None:
        raise WebError(409, "本机未配置排队（ACD），座席状态不可用")
    agent_id = _center.agent_for_user(ctx.username)
    if agent_id is None:
        raise WebError(409, "您的账号未绑定座席工号，请联系管理员（[[acd.agents]] 的 user）")
    return _center, agent_id


def _state(center: CallCenter, agent_id: str) -> dict[str, Any]:
    info = dict(center.agent_info(agent_id))
    info["state_name"] = STATE_NAMES.get(str(info.get("state")), str(info.get("state")))
    info["reasons"] = NOT_READY_REASONS
    return info


def _command(ctx: Ctx, action: str, fn: Any, *args: Any) -> dict[str, Any]:
    center, agent_id = _agent(ctx)
    try:
        fn(center, agent_id, *args)
    except ValueError as exc:            # AcdError, a bad station or mode
        raise WebError(409, refusal(exc)) from None
    run_db(audit.record, f"agent_{action}", actor=ctx.username, source="web", target=agent_id,
           details={"args": [str(a) for a in args]})
    log.info("web: %s %s agent %s %s", ctx.username, action, agent_id, args)
    return _state(center, agent_id)


@route("GET", "/api/agent", perm="agent.state", summary="我的座席状态（工号、分机、示闲/示忙）")
def agent_state(ctx: Ctx) -> dict[str, Any]:
    center, agent_id = _agent(ctx)
    return _state(center, agent_id)


@route("POST", "/api/agent/login", perm="agent.state", summary="签入分机（station：座席端口号）")
def agent_login(ctx: Ctx) -> dict[str, Any]:
    text = ctx.field("station").strip()
    if not text.isdigit() or len(text) > 3:
        raise WebError(400, "分机号无效：应为本机的座席（FXS）端口号")
    return _command(ctx, "login", lambda c, a, s: c.login(a, s), int(text))


@route("POST", "/api/agent/logout", perm="agent.state", summary="签出")
def agent_logout(ctx: Ctx) -> dict[str, Any]:
    return _command(ctx, "logout", lambda c, a: c.logout(a))


@route("POST", "/api/agent/ready", perm="agent.state", summary="示闲（接受来电）")
def agent_ready(ctx: Ctx) -> dict[str, Any]:
    return _command(ctx, "ready", lambda c, a: c.ready(a))


@route("POST", "/api/agent/not_ready", perm="agent.state", summary="示忙（reason：原因代码）")
def agent_not_ready(ctx: Ctx) -> dict[str, Any]:
    code = ctx.field("reason", "other").strip() or "other"
    if code not in NOT_READY_REASONS:
        raise WebError(400, "示忙原因无效：" + "、".join(f"{k}={v}" for k, v in NOT_READY_REASONS.items()))
    return _command(ctx, "not_ready", lambda c, a, r: c.not_ready(a, r), NOT_READY_REASONS[code])


@route("POST", "/api/agent/wrapup_end", perm="agent.state", summary="结束话后整理")
def agent_wrapup_end(ctx: Ctx) -> dict[str, Any]:
    return _command(ctx, "wrapup_end", lambda c, a: c.end_wrapup(a))
