"""The Bottle application: every request goes through ``dispatch`` (allow-list, body limit, setup,
session, permission, CSRF, strict UTF-8 parsing, errors in Chinese without a stack trace).

Handlers receive a ``Ctx`` and never read ``bottle.request`` (Bottle's request object is
thread-local, shared by every greenlet of the hub): ``dispatch`` reads the environ synchronously
before any switch and returns an ``HTTPResponse``.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import urllib.parse
from typing import Any

import bottle

from appliance.crm import session, users
from appliance.crm.common import CrmError, NotFound, PermissionDenied
from appliance.web import multipart, render
from appliance.web.config import WebConfig
from appliance.web.routes import PUBLIC, ROUTES, Ctx, Route, WebError, allowed

log = logging.getLogger(__name__)

SESSION_COOKIE = "rexian_session"
PRE_CSRF_COOKIE = "rexian_pre"  # double-submit token of the login and setup forms
SETUP_PATHS = ("/setup",)


def translate_user_error(exc: users.UserError) -> str:
    """users.py speaks English to the console; the web shows Chinese."""
    msg = str(exc)
    if isinstance(exc, users.UserExists):
        return "用户名已存在"
    if isinstance(exc, users.UnknownUser):
        return "用户不存在"
    table = [
        ("user name", "用户名须为1～32个字符（a-z 0-9 . _ -），以字母或数字开头"),
        ("unknown role", "角色无效"),
        ("too short", f"密码太短：至少{users.MIN_PASSWORD_LENGTH}个字符"),
        ("too long", f"密码太长：最多{users.MAX_PASSWORD_LENGTH}个字符"),
        ("control", "密码含有控制字符或无效字符"),
        ("repeated", "密码不能是同一个字符的重复"),
        ("equals the user name", "密码不能与用户名相同"),
        ("too common", "密码太常见，请换一个"),
    ]
    for needle, chinese in table:
        if needle in msg:
            return chinese
    return msg if any("\u4e00" <= c <= "\u9fff" for c in msg) else "操作被拒绝"


def _read_body(environ: dict[str, Any], limit: int) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise WebError(400, "请求长度无效") from None
    if length > limit:
        raise WebError(413, f"请求内容过大：最多{limit // 1024} KB")
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length:
        data: bytes = stream.read(length)
    elif "chunked" in str(environ.get("HTTP_TRANSFER_ENCODING", "")).lower():
        data = stream.read(limit + 1)
    else:
        return b""
    if len(data) > limit:
        raise WebError(413, f"请求内容过大：最多{limit // 1024} KB")
    return data


def _parse_qs(raw: str | bytes, what: str) -> dict[str, str]:
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        pairs = urllib.parse.parse_qsl(
            text, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=200
        )
    except (UnicodeDecodeError, ValueError):
        raise WebError(400, f"{what}不是有效的UTF-8编码") from None
    out: dict[str, str] = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


def _query(environ: dict[str, Any]) -> dict[str, str]:
    # PEP 3333: QUERY_STRING arrives as latin-1 text; back to bytes, then strict UTF-8
    raw = str(environ.get("QUERY_STRING", "")).encode("latin-1", "replace")
    return _parse_qs(raw, "查询参数")


def _cookies(environ: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in str(environ.get("HTTP_COOKIE", "")).split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out.setdefault(name, value)
    return out


class App:
    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.bottle = bottle.Bottle()
        self.bottle.config["catchall"] = False
        for r in ROUTES:
            self.bottle.route(r.path, r.method, self._wrap(r))
        for status in (404, 405):
            self.bottle.error(status)(self._bottle_error(status))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            return self.bottle(environ, start_response)
        except Exception:
            log.exception("web: unhandled error on %s", environ.get("PATH_INFO"))
            res = render.error_page(None, 500, "服务器内部错误，已记录日志")
            start_response("500 Internal Server Error", res.headerlist)
            return [res.body.encode("utf-8")]

    def _bottle_error(self, status: int) -> Any:
        def handler(_err: Any) -> str:
            env = bottle.request.environ
            msg = "页面不存在" if status == 404 else "不支持的请求方法"
            if str(env.get("PATH_INFO", "")).startswith("/api/"):
                bottle.response.content_type = "application/json; charset=utf-8"
                return json.dumps({"error": msg}, ensure_ascii=False)
            bottle.response.content_type = "text/html; charset=utf-8"
            for k, v in render.SECURITY_HEADERS.items():
                bottle.response.set_header(k, v)
            body = render.error_page(None, status, msg).body
            return str(body)

        return handler

    def _wrap(self, r: Route) -> Any:
        def callback(**args: Any) -> bottle.HTTPResponse:
            environ = bottle.request.environ  # read before any greenlet switch (see module doc)
            return self.dispatch(r, environ, args)

        callback.__name__ = r.handler.__name__
        return callback

    def fail(self, r: Route, ctx: Ctx | None, status: int, message: str) -> bottle.HTTPResponse:
        if r.api:
            return render.json_response({"error": message}, status)
        return render.error_page(ctx, status, message)

    def dispatch(self, r: Route, environ: dict[str, Any], args: dict[str, Any]) -> bottle.HTTPResponse:
        ctx: Ctx | None = None
        try:
            ctx = self._context(r, environ, args)
            self._check(r, ctx)
            result = r.handler(ctx)
            if isinstance(result, bottle.HTTPResponse):
                return result
            return render.json_response(result)
        except _Redirect as red:
            return render.redirect(red.url)
        except WebError as exc:
            return self.fail(r, ctx, exc.status, exc.message)
        except PermissionDenied as exc:
            return self.fail(r, ctx, 403, str(exc))
        except NotFound as exc:
            return self.fail(r, ctx, 404, str(exc))
        except CrmError as exc:
            return self.fail(r, ctx, 400, str(exc))
        except users.UserError as exc:
            return self.fail(r, ctx, 400, translate_user_error(exc))
        except Exception:
            log.exception("web: error in %s %s", r.method, r.path)
            return self.fail(r, ctx, 500, "服务器内部错误，已记录日志")

    def _context(self, r: Route, environ: dict[str, Any], args: dict[str, Any]) -> Ctx:
        if not self.config.permits(str(environ.get("REMOTE_ADDR", ""))):
            log.warning("web: refused %s (not in web.allow)", environ.get("REMOTE_ADDR"))
            raise WebError(403, "本机地址不在允许访问的范围内")
        query = _query(environ)
        token = _cookies(environ).get(SESSION_COOKIE, "")
        sess = session.lookup(token) if token else None
        # an upload route's larger limit only for a signed-in user (the permission is checked after)
        limit = r.max_body if r.max_body and sess is not None else self.config.max_body
        body = _read_body(environ, max(limit, self.config.max_body)) if r.write else b""
        form: dict[str, str] = {}
        files: dict[str, Any] = {}
        data: Any = None
        ctype = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
        if body:
            if ctype == "multipart/form-data" and r.max_body:
                form, files = multipart.parse(body, str(environ.get("CONTENT_TYPE", "")))
            elif ctype == "application/json":
                try:
                    data = json.loads(body.decode("utf-8"))
                except UnicodeDecodeError:
                    raise WebError(400, "JSON内容不是有效的UTF-8编码") from None
                except ValueError:
                    raise WebError(400, "JSON格式错误") from None
            elif ctype in ("application/x-www-form-urlencoded", ""):
                form = _parse_qs(body, "表单内容")
            else:
                raise WebError(415, "不支持的内容类型")
        for v in [*query.values(), *form.values()]:
            if "\x00" in v:
                raise WebError(400, "内容含有无效字符")
        ctx = Ctx(
            environ=environ,
            method=r.method,
            path=str(environ.get("PATH_INFO", "")),
            query=query,
            form=form,
            json=data,
            session=sess,
            token=token,
            is_api=r.api,
            args=args,
            secure=self.config.secure_cookies or environ.get("wsgi.url_scheme") == "https",
            files=files,
        )
        if sess is not None:
            ctx.actor = actor_of(sess.username, sess.role)
        return ctx

    def _check(self, r: Route, ctx: Ctx) -> None:
        if r.path.startswith("/static/"):
            return
        setup = users.needs_setup()
        if setup and r.path not in SETUP_PATHS:
            if r.api:
                raise WebError(503, "系统尚未初始化：请先在 /setup 创建管理员")
            raise _Redirect("/setup")
        if not setup and r.path in SETUP_PATHS:
            raise WebError(404, "系统已初始化，此页面不再可用")
        if r.perm != PUBLIC:
            if ctx.session is None:
                if r.api:
                    raise WebError(401, "请先登录")
                raise _Redirect("/login?next=" + urllib.parse.quote(ctx.path))
            if not allowed(r.perm, ctx.role):
                raise WebError(403, "您的角色没有此操作的权限")
        if r.write:
            self._check_csrf(r, ctx)

    def _check_csrf(self, r: Route, ctx: Ctx) -> None:
        sent = str(ctx.environ.get("HTTP_X_CSRF_TOKEN", "")) or ctx.form.get("csrf", "")
        if ctx.session is not None:
            expected = ctx.session.csrf
        else:
            expected = _cookies(ctx.environ).get(PRE_CSRF_COOKIE, "")
        if not expected or not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise WebError(403, "安全令牌（CSRF）缺失或无效，请刷新页面后重试")


class _Redirect(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def actor_of(username: str, role: str) -> Any:
    from appliance.crm import workorder
    from appliance.crm.common import Actor

    team = workorder.team_of(username) if role == "technician" else None
    return Actor(username, role, team, "web")


def cookie_header(name: str, value: str, secure: bool, max_age: int | None = None) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


def pre_csrf(ctx: Ctx) -> str:
    """The double-submit token for the login/setup form (kept if the browser has one)."""
    current = _cookies(ctx.environ).get(PRE_CSRF_COOKIE, "")
    return (
        current
        if 20 <= len(current) <= 64 and current.replace("-", "").replace("_", "").isalnum()
        else secrets.token_urlsafe(24)
    )


def build_app(config: WebConfig) -> App:
    # the modules register their routes
    from appliance.web import (  # noqa: F401
        acdadmin,
        acdedit,
        agentapi,
        api,
        callapi,
        crmedit,
        ivradmin,
        pages,
        recordings,
        supervisor,
        tech,
        voicemail,
    )

    return App(config)
