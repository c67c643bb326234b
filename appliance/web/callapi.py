"""Call control from the desk: hold, consult, transfer, conference, park, recording, click-to-dial,
pickup; and the team leader's listen / whisper / barge (监听 / 密语 / 强插).

Every route works on the logged-in user's own ACD agent (``user`` in [[acd.agents]]) through the
ACD's service API (appliance/acd/control.py), never on a channel. The ACD checks what only it can
(the call's state, the leader flag, the dial allow-list) and refuses in Chinese; those refusals are
shown as they are. Every command is audited.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Protocol

from appliance.crm import audit
from appliance.crm.db import run_db
from appliance.web import agentapi
from appliance.web.routes import Ctx, WebError, route

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"[0-9]{3,20}")
_ID = re.compile(r"[0-9A-Za-z_.-]{1,32}")
MONITOR_MODES = {"listen": "监听", "whisper": "密语", "barge": "强插"}


class CallControl(Protocol):
    """What these routes need from the ACD (appliance/acd/control.py)."""

    def agent_for_user(self, username: str) -> str | None: ...
    def call_info(self, agent_id: str) -> dict[str, Any]: ...
    def parked(self) -> list[dict[str, Any]]: ...
    def hold(self, agent_id: str) -> None: ...
    def unhold(self, agent_id: str) -> None: ...
    def hangup_call(self, agent_id: str) -> None: ...
    def consult(self, agent_id: str, target: str) -> None: ...
    def cancel_consult(self, agent_id: str) -> None: ...
    def complete_transfer(self, agent_id: str) -> None: ...
    def conference(self, agent_id: str) -> None: ...
    def transfer(self, agent_id: str, target: str) -> None: ...
    def park(self, agent_id: str) -> int: ...
    def retrieve(self, agent_id: str, slot: int) -> None: ...
    def record(self, agent_id: str, on: bool) -> None: ...
    def dial(self, agent_id: str, number: str) -> str: ...
    def pickup(self, agent_id: str, ringing_agent: str) -> None: ...
    def set_forward(self, agent_id: str, number: str) -> None: ...
    def monitor(self, leader_id: str, agent_id: str, mode: str) -> None: ...
    def stop_monitor(self, leader_id: str, agent_id: str) -> None: ...
    def force_logout(self, leader_id: str, agent_id: str) -> str: ...


def _center(ctx: Ctx) -> tuple[CallControl, str]:
    center, agent_id = agentapi._agent(ctx)
    return center, agent_id  # type: ignore[return-value]   # the ACD is both protocols


def _target(ctx: Ctx, name: str = "target") -> str:
    value = ctx.field(name).strip()
    if not value or not (_NUMBER.fullmatch(value) or _ID.fullmatch(value)):
        raise WebError(400, "请填写座席工号、队列名或电话号码")
    return value


def _do(ctx: Ctx, action: str, fn: Any, *args: Any) -> dict[str, Any]:
    center, agent_id = _center(ctx)
    try:
        result = fn(center, agent_id, *args)
    except ValueError as exc:                    # AcdError: the message is for the agent
        raise WebError(409, str(exc)) from None
    run_db(audit.record, f"call_{action}", actor=ctx.username, source="web", target=agent_id,
           details={"args": [str(a) for a in args]})
    log.info("web: %s %s (agent %s) %s", ctx.username, action, agent_id, args)
    info = dict(center.call_info(agent_id))
    if result is not None:
        info["result"] = result
    return info


@route("GET", "/api/call", perm="call.control", summary="我当前的通话（状态、第三方、录音）与驻留的电话")
def call_state(ctx: Ctx) -> dict[str, Any]:
    center, agent_id = _center(ctx)
    return {"call": center.call_info(agent_id), "parked": center.parked()}


@route("POST", "/api/call/hold", perm="call.control", summary="保持（来电方听等待音乐）")
def call_hold(ctx: Ctx) -> dict[str, Any]:
    return _do(ctx, "hold", lambda c, a: c.hold(a))


@route("POST", "/api/call/unhold", perm="call.control", summary="恢复通话")
def call_unhold(ctx: Ctx) -> dict[str, Any]:
    return _do(ctx, "unhold", lambda c, a: c.unhold(a))


@route("POST", "/api/call/hangup", perm="call.control", summary="挂断（队列开启满意度调查时来电方随后评价）")
def call_hangup(ctx: Ctx) -> dict[str, Any]:
    return _do(ctx, "hangup", lambda c, a: c.hangup_call(a))


@route("POST", "/api/call/consult", perm="call.control", summary="咨询（target：座席工号或外线号码）")
def call_consult(ctx: Ctx) -> dict[str, Any]:
    return _do(ctx, "consult", lambda c, a, t: c.consult(a, t), _target(ctx))


@route("POST", "/api/call/cancel_consult", perm="call.control", summary="取消咨询，回到来电方")
def call_cancel_consult(ctx: Ctx) -> dict[str, Any]:
    return _do(ctx, "cancel_consult", lambda c, a: c.cancel_consult(a))


@route("POST", "/api/call/complete_transfer", perm="call.control", summary="完成转接（咨询后转出）")
def call_complete_transfer(ctx: Ctx) -> dict[str, Any]:
    return _do(ctx, "complete_transfer", lambda c, a: c.complete_transfer(a))


@route("POST", "/api/call/conference", perm="call.control", summary="三方通话（咨询接通后）")
def call_conference(ctx: Ctx) -> dict[str, Any]:
    return _do(ctx, "conference", lambda c, a: c.conference(a))


@route("POST", "/api/call/transfer", perm="call.control", summary="直接转接（target：座席、队列或外线号码）")
def call_transfer(ctx: Ctx) -> dict[str, Any]:
    return _do(ctx, "transfer", lambda c, a, t: c.transfer(a, t), _target(ctx))


@route("POST", "/api/call/park", perm="call.control", summary="驻留（任何座席可按驻留位取回）")
def call_park(ctx: Ctx) -> dict[str, Any]:
    return _do(ctx, "park", lambda c, a: c.park(a))


@route("POST", "/api/call/retrieve", perm="call.control", summary="取回驻留的电话（slot：驻留位）")
def call_retrieve(ctx: Ctx) -> dict[str, Any]:
    text = ctx.field("slot").strip()
    if not text.isdigit() or not 1 <= int(text) <= 9:
        raise WebError(400, "驻留位应为 1–9")
    return _do(ctx, "retrieve", lambda c, a, s: c.retrieve(a, s), int(text))


@route("POST", "/api/call/record", perm="call.control", summary="按需录音（on：1 开始，0 停止）")
def call_record(ctx: Ctx) -> dict[str, Any]:
    on = ctx.field("on", "1").strip()
    if on not in ("0", "1"):
        raise WebError(400, "on 只能是 1 或 0")
    return _do(ctx, "record", lambda c, a, o: c.record(a, o), on == "1")


@route("POST", "/api/call/dial", perm="call.control", summary="外呼（number：号码；先振本分机；防盗打）")
def call_dial(ctx: Ctx) -> dict[str, Any]:
    number = ctx.field("number").strip()
    if not _NUMBER.fullmatch(number):
        raise WebError(400, "请输入 3–20 位数字的电话号码")
    return _do(ctx, "dial", lambda c, a, n: c.dial(a, n), number)


@route("POST", "/api/call/pickup", perm="call.control", summary="代接同事正在振铃的电话（agent：同事工号）")
def call_pickup(ctx: Ctx) -> dict[str, Any]:
    return _do(ctx, "pickup", lambda c, a, t: c.pickup(a, t), _target(ctx, "agent"))


@route("POST", "/api/call/forward", perm="call.control", summary="呼叫转移到手机（number：号码，空为取消）")
def call_forward(ctx: Ctx) -> dict[str, Any]:
    number = ctx.field("number").strip()
    if number and not _NUMBER.fullmatch(number):
        raise WebError(400, "请输入 3–20 位数字的电话号码，或留空取消转移")
    return _do(ctx, "forward", lambda c, a, n: c.set_forward(a, n), number)


@route("POST", "/api/monitor", perm="call.monitor", summary="班长监听/密语/强插（agent：座席工号，mode）")
def monitor(ctx: Ctx) -> dict[str, Any]:
    mode = ctx.field("mode", "listen").strip()
    if mode not in MONITOR_MODES:
        raise WebError(400, "方式应为 " + "、".join(f"{k}={v}" for k, v in MONITOR_MODES.items()))
    return _do(ctx, "monitor", lambda c, a, t, m: c.monitor(a, t, m), _target(ctx, "agent"), mode)


@route("POST", "/api/monitor/stop", perm="call.monitor", summary="结束监听")
def monitor_stop(ctx: Ctx) -> dict[str, Any]:
    return _do(ctx, "monitor_stop", lambda c, a, t: c.stop_monitor(a, t), _target(ctx, "agent"))


@route("POST", "/api/monitor/force_logout", perm="call.monitor", summary="强制签出（通话中则通话后签出）")
def force_logout(ctx: Ctx) -> dict[str, Any]:
    return _do(ctx, "force_logout", lambda c, a, t: c.force_logout(a, t), _target(ctx, "agent"))
