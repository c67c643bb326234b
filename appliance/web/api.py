"""The JSON API (described at /api/openapi.json, generated from the route table), SSE, exports."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from typing import Any

import bottle

from appliance.crm import customer, events, kb, workorder
from appliance.crm.common import InvalidInput
from appliance.web import orders as wo
from appliance.web.render import json_response, response
from appliance.web.routes import ROUTES, Ctx, WebError, allowed, route

log = logging.getLogger(__name__)

SSE_KEEPALIVE = 15.0  # seconds between comment lines on an idle stream
SSE_TOPICS = ("call.", "agent.", "ticket.", "acd.")
TECH_TOPICS = ("ticket.",)


def _dc(obj: Any) -> Any:
    out = dataclasses.asdict(obj)
    for k, v in out.items():
        if hasattr(v, "value"):
            out[k] = v.value
    return out


def _order_json(o: workorder.WorkOrder) -> dict[str, Any]:
    out = _dc(o)
    out["state_name"] = o.state_name
    out["type_name"] = workorder.TYPE_NAMES.get(o.type, o.type)
    out["team"] = wo.team_name(o.team_id)
    return out


@route("GET", "/api/openapi.json", perm="authenticated", summary="本接口的 OpenAPI 文档")
def openapi(ctx: Ctx) -> dict[str, Any]:
    return openapi_document()


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for r in ROUTES:
        if not r.api:
            continue
        op: dict[str, Any] = {
            "summary": r.summary,
            "x-permission": r.perm,
            "responses": {
                "200": {"description": "成功"},
                "400": {"description": "输入有误"},
                "401": {"description": "未登录"},
                "403": {"description": "无权限"},
            },
        }
        params = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "integer"}}
            for n in ("cid", "oid")
            if f"<{n}:int>" in r.path
        ]
        if params:
            op["parameters"] = params
        if r.write:
            op["parameters"] = [
                *op.get("parameters", []),
                {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}},
            ]
            op["requestBody"] = {"content": {"application/json": {"schema": {"type": "object"}}}}
        paths.setdefault(r.openapi_path(), {})[r.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "热线 Rexian API", "version": "1"},
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "rexian_session"}}
        },
        "security": [{"session": []}],
        "paths": paths,
    }


@route("GET", "/api/me", perm="authenticated", summary="当前用户")
def me(ctx: Ctx) -> dict[str, Any]:
    actor = ctx.need_actor()
    return {"username": actor.username, "role": actor.role, "team_id": actor.team_id, "csrf": ctx.csrf}


@route("GET", "/api/customers", perm="desk", summary="客户查询（电话、姓名、地址、户号）")
def customers(ctx: Ctx) -> dict[str, Any]:
    field = ctx.query.get("field", "any")
    if field not in ("any", "name", "address", "account"):
        raise WebError(400, "查询字段无效")
    hits = customer.search(ctx.query.get("q", ""), field=field, limit=50)
    return {"customers": [_dc(h) for h in hits]}


@route("GET", "/api/customers/lookup", perm="desk", summary="按来电号码查找客户（record=1：唯一时附档案）")
def lookup(ctx: Ctx) -> dict[str, Any]:
    try:
        found = customer.find_by_phone(ctx.query.get("phone", ""))
    except InvalidInput:
        found = []
    out: dict[str, Any] = {
        "customers": [
            {"id": c.id, "name": c.name, "account_no": c.account_no, "address": c.address} for c in found
        ]
    }
    if len(found) == 1 and ctx.query.get("record") == "1":  # the screen pop: one round trip, not two
        out["record"] = _record(ctx, found[0].id)
    return out


@route("GET", "/api/customers/<cid:int>", perm="desk", summary="客户档案、历史和未结工单")
def customer_record(ctx: Ctx) -> dict[str, Any]:
    return _record(ctx, int(ctx.args["cid"]))


def _record(ctx: Ctx, cid: int) -> dict[str, Any]:
    actor = ctx.need_actor()
    c = customer.get_customer(cid)
    record = _dc(c)
    record["grade_name"] = c.grade_name
    history = customer.history(c.id)
    open_orders = [
        _order_json(o)
        for o in workorder.list_orders(actor, customer_id=c.id, limit=50)
        if o.state in workorder.OPEN_STATES
    ]
    return {"customer": record, "history": history, "open_orders": open_orders,
            "can_listen": allowed("recordings.read", ctx.role)}


@route("GET", "/api/kb", perm="kb.read", summary="知识库搜索")
def kb_search(ctx: Ctx) -> dict[str, Any]:
    return {"articles": [_dc(a) for a in kb.search(ctx.query.get("q", ""), limit=20)]}


@route("GET", "/api/kb/<aid:int>", perm="kb.read", summary="知识库文章（计入浏览量）")
def kb_article(ctx: Ctx) -> dict[str, Any]:
    return {"article": _dc(kb.view_article(ctx.need_actor(), int(ctx.args["aid"])))}


@route("GET", "/api/teams", perm="wo.read", summary="维修班组")
def teams(ctx: Ctx) -> dict[str, Any]:
    return {"teams": [_dc(t) for t in workorder.list_teams()]}


@route("GET", "/api/orders", perm="wo.read", summary="工单列表（筛选、排序参数有白名单）")
def orders(ctx: Ctx) -> dict[str, Any]:
    rows = wo.query_orders(ctx.need_actor(), wo.list_params(ctx.query), limit=500)
    return {"orders": [_order_json(o) for o in rows]}


@route("POST", "/api/orders", perm="wo.create", summary="登记工单（可同时派单）")
def order_create(ctx: Ctx) -> bottle.HTTPResponse:
    actor = ctx.need_actor()
    if not isinstance(ctx.json, dict):
        raise WebError(400, "请求内容须为JSON对象")
    cid = ctx.field("customer_id")
    if cid and not (cid.isdigit() and len(cid) < 12):
        raise WebError(400, "客户编号无效")
    order = workorder.register(
        actor,
        ctx.field("type", "repair"),
        ctx.field("title"),
        description=ctx.field("description"),
        priority=ctx.field("priority", "normal"),
        customer_id=int(cid) if cid else None,
        caller_phone=ctx.field("caller_phone"),
        address=ctx.field("address"),
    )
    team = ctx.field("team_id")
    if team:
        order = workorder.dispatch(actor, order.id, wo.team_id_of(team), ctx.field("note"))
    events.publish("ticket.created", {"serial": order.serial, "id": order.id, "state": order.state.value,
                                      "team_id": order.team_id})
    return json_response({"order": _order_json(order)}, 201)


@route("GET", "/api/orders/<oid:int>", perm="wo.read", summary="工单详情与处理过程")
def order_get(ctx: Ctx) -> dict[str, Any]:
    actor = ctx.need_actor()
    order = workorder.get_order(actor, int(ctx.args["oid"]))
    return {
        "order": _order_json(order),
        "steps": [_dc(s) for s in workorder.steps(actor, order.id)],
        "actions": wo.allowed_actions(order, actor),
    }


@route("POST", "/api/orders/<oid:int>/actions", perm="wo.act", summary="工单操作")
def order_action(ctx: Ctx) -> dict[str, Any]:
    if not isinstance(ctx.json, dict):
        raise WebError(400, "请求内容须为JSON对象")
    order = wo.act(
        ctx.need_actor(),
        int(ctx.args["oid"]),
        ctx.field("action"),
        note=ctx.field("note"),
        team=ctx.field("team_id"),
        final_answer=ctx.field("final_answer"),
    )
    events.publish("ticket.updated", {"serial": order.serial, "id": order.id, "state": order.state.value,
                                      "team_id": order.team_id})
    return {"order": _order_json(order)}


@route("GET", "/orders/export.csv", perm="wo.export", summary="导出工单（CSV）")
def export_csv(ctx: Ctx) -> bottle.HTTPResponse:
    rows = wo.export_rows(wo.query_orders(ctx.need_actor(), wo.list_params(ctx.query)))
    return response(
        wo.to_csv(rows),
        200,
        "text/csv; charset=utf-8",
        {"Content-Disposition": 'attachment; filename="workorders.csv"'},
    )


@route("GET", "/orders/export.xlsx", perm="wo.export", summary="导出工单（Excel）")
def export_xlsx(ctx: Ctx) -> bottle.HTTPResponse:
    rows = wo.export_rows(wo.query_orders(ctx.need_actor(), wo.list_params(ctx.query)))
    return response(
        wo.to_xlsx(rows),
        200,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        {"Content-Disposition": 'attachment; filename="workorders.xlsx"'},
    )


def _sse(sub: events.Subscription, team: int | None = None) -> Iterator[bytes]:
    """The stream; with ``team``, only ticket events of that team (a technician's scope)."""
    try:
        yield b": connected\n\nretry: 2000\n\n"
        while True:
            event = sub.get(timeout=SSE_KEEPALIVE)
            if event is None:
                yield b": keep-alive\n\n"
                continue
            if team is not None and event.data.get("team_id") != team:
                continue
            data = json.dumps(event.data, ensure_ascii=False, default=str)
            yield f"event: {event.topic}\ndata: {data}\n\n".encode()
    finally:
        events.unsubscribe(sub)


@route("GET", "/api/events", perm="events", summary="实时事件（Server-Sent Events：call.offered 等）")
def event_stream(ctx: Ctx) -> bottle.HTTPResponse:
    if ctx.role == "technician":         # his team's orders only: no calls, agents or other teams
        team = ctx.need_actor().team_id
        sub = events.subscribe(*TECH_TOPICS)
        stream = _sse(sub, -1 if team is None else team)
    else:
        sub = events.subscribe(*SSE_TOPICS)
        stream = _sse(sub)
    res = response(stream, 200, "text/event-stream; charset=utf-8")
    res.set_header("Cache-Control", "no-cache")
    res.set_header("X-Accel-Buffering", "no")
    return res
