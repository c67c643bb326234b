"""HTML building blocks: escaping, the page layout, responses with the security headers."""

from __future__ import annotations

import html
import json
from typing import Any

import bottle

from appliance.web.routes import Ctx, allowed

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self';"
    " img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def response(
    body: Any,
    status: int = 200,
    content_type: str = "text/html; charset=utf-8",
    headers: dict[str, str] | None = None,
) -> bottle.HTTPResponse:
    res = bottle.HTTPResponse(body=body, status=status)
    for k, v in SECURITY_HEADERS.items():
        res.set_header(k, v)
    res.set_header("Content-Type", content_type)
    for k, v in (headers or {}).items():
        res.set_header(k, v)
    return res


def json_response(obj: Any, status: int = 200) -> bottle.HTTPResponse:
    return response(
        json.dumps(obj, ensure_ascii=False, default=str), status, "application/json; charset=utf-8"
    )


def redirect(url: str, status: int = 303) -> bottle.HTTPResponse:
    res = response("", status)
    res.set_header("Location", url)
    return res


NAV = [
    ("desk", "/desk", "坐席台"),
    ("wo.read", "/orders", "工单"),
    ("desk", "/kb", "知识库"),
    ("tech", "/tech", "我的工单"),
    ("supervise", "/supervisor", "班长监控"),
    ("supervise", "/admin/acd", "队列与座席"),
    ("recordings.read", "/recordings", "录音"),
    ("users.admin", "/admin/users", "用户管理"),
    ("users.admin", "/admin/teams", "班组"),
    ("audit.read", "/admin/audit", "审计日志"),
    ("voicemail.read", "/voicemail", "留言"),
    ("ivr.admin", "/admin/prompts", "语音库"),
    ("ivr.admin", "/admin/flows", "IVR流程"),
]


def csrf_field(ctx: Ctx) -> str:
    return f'<input type="hidden" name="csrf" value="{e(ctx.csrf)}">'


def logout_form(ctx: Ctx) -> str:
    return (
        f'<form method="post" action="/logout" class="inline">{csrf_field(ctx)}'
        f'<button type="submit">退出（{e(ctx.username)}）</button></form>'
    )


def page(
    ctx: Ctx | None,
    title: str,
    body: str,
    status: int = 200,
    *,
    scripts: tuple[str, ...] = (),
    body_class: str = "",
) -> bottle.HTTPResponse:
    nav = ""
    csrf = ""
    if ctx is not None and ctx.session is not None:
        links = "".join(
            f'<a href="{href}">{label}</a>' for perm, href, label in NAV if allowed(perm, ctx.role)
        )
        nav = f'<nav class="top">{links}<span class="grow"></span>{logout_form(ctx)}</nav>'
        csrf = f'<meta name="csrf-token" content="{e(ctx.csrf)}">'
    js = "".join(f'<script src="/static/{s}" defer></script>' for s in scripts)
    doc = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(title)} - 热线</title>{csrf}
<link rel="stylesheet" href="/static/app.css">{js}</head>
<body class="{e(body_class)}">{nav}<main><h1>{e(title)}</h1>{body}</main></body></html>"""
    return response(doc, status)


def error_page(ctx: Ctx | None, status: int, message: str) -> bottle.HTTPResponse:
    titles = {
        400: "请求有误",
        401: "请先登录",
        403: "没有权限",
        404: "页面不存在",
        405: "不支持的操作",
        413: "请求内容过大",
        429: "请稍后再试",
        500: "服务器内部错误",
    }
    body = f'<p class="error" role="alert">{e(message)}</p><p><a href="/">返回首页</a></p>'
    return page(ctx, titles.get(status, "错误"), body, status)
