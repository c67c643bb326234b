"""Server-rendered pages: setup, login, home, desk, work orders, admin (Chinese, keyboard-friendly)."""

from __future__ import annotations

import logging
import mimetypes
import urllib.parse
from pathlib import Path

import bottle

from appliance.crm import audit, session, users, workorder
from appliance.crm.common import Actor
from appliance.web import orders as wo
from appliance.web.app import PRE_CSRF_COOKIE, SESSION_COOKIE, cookie_header, pre_csrf
from appliance.web.render import csrf_field, e, page, redirect, response
from appliance.web.routes import PUBLIC, Ctx, WebError, allowed, route

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_TYPES = {".css", ".js", ".svg", ".png", ".ico"}
ROLE_NAMES = {
    "agent": "坐席",
    "team_leader": "班长",
    "supervisor": "主管",
    "technician": "维修人员",
    "admin": "管理员",
    "maintenance": "维护人员",
}


# ---- static files ----------------------------------------------------------------------------------


@route("GET", "/static/<name:path>", perm=PUBLIC, summary="静态文件（样式、脚本）")
def static_file(ctx: Ctx) -> bottle.HTTPResponse:
    name = str(ctx.args.get("name", ""))
    if not name or "\\" in name or "\x00" in name or name.startswith("/") or ".." in Path(name).parts:
        raise WebError(404, "文件不存在")
    target = (STATIC_DIR / name).resolve()
    if not target.is_relative_to(STATIC_DIR) or target.suffix not in STATIC_TYPES or not target.is_file():
        raise WebError(404, "文件不存在")
    ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if ctype.startswith("text/") or ctype.endswith("javascript"):
        ctype += "; charset=utf-8"
    res = response(target.read_bytes(), 200, ctype)
    res.set_header("Cache-Control", "max-age=300")
    return res


# ---- first start, login, logout --------------------------------------------------------------------


def _pre_form(ctx: Ctx, title: str, inner: str, message: str = "", status: int = 200) -> bottle.HTTPResponse:
    token = pre_csrf(ctx)
    alert = f'<p class="error" role="alert">{e(message)}</p>' if message else ""
    body = (
        f'{alert}<form method="post" class="card">{inner}'
        f'<input type="hidden" name="csrf" value="{e(token)}"></form>'
    )
    res = page(None, title, body, status)
    res.set_header("Set-Cookie", cookie_header(PRE_CSRF_COOKIE, token, ctx.secure, 3600))
    return res


SETUP_FORM = """<p>首次启动：请创建系统管理员账号。此页面在创建后即不再可用。</p>
<label>用户名 <input name="username" id="username" autofocus required maxlength="32"
 autocomplete="username"></label>
<label>密码（至少10个字符） <input name="password" id="password" type="password" required maxlength="128"
 autocomplete="new-password"></label>
<label>确认密码 <input name="password2" id="password2" type="password" required maxlength="128"
 autocomplete="new-password"></label>
<button type="submit" id="submit">创建管理员</button>"""


@route("GET", "/setup", perm=PUBLIC, summary="首次启动：创建管理员")
def setup_page(ctx: Ctx) -> bottle.HTTPResponse:
    return _pre_form(ctx, "系统初始化", SETUP_FORM)


@route("POST", "/setup", perm=PUBLIC, summary="创建第一个管理员")
def setup_submit(ctx: Ctx) -> bottle.HTTPResponse:
    password = ctx.field("password")
    if password != ctx.field("password2"):
        return _pre_form(ctx, "系统初始化", SETUP_FORM, "两次输入的密码不一致", 400)
    try:
        session.setup_admin(ctx.field("username"), password, ctx.ip())
    except users.UserError as exc:
        from appliance.web.app import translate_user_error

        return _pre_form(ctx, "系统初始化", SETUP_FORM, translate_user_error(exc), 400)
    log.info("web: first administrator %s created", ctx.field("username"))
    return redirect("/login?created=1")


LOGIN_FORM = """<label>用户名 <input name="username" id="username" autofocus required maxlength="64"
 autocomplete="username"></label>
<label>密码 <input name="password" id="password" type="password" required maxlength="256"
 autocomplete="current-password"></label>
<input type="hidden" name="next" value="{next}">
<button type="submit" id="submit">登录</button>"""


def _safe_next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


@route("GET", "/login", perm=PUBLIC, summary="登录页")
def login_page(ctx: Ctx) -> bottle.HTTPResponse:
    note = "管理员已创建，请登录" if ctx.query.get("created") else ""
    inner = LOGIN_FORM.format(next=e(_safe_next(ctx.query.get("next", "/"))))
    if note:
        inner = f'<p class="ok">{note}</p>' + inner
    return _pre_form(ctx, "登录", inner)


def login_message(result: users.AuthResult) -> str:
    if result.reason == "throttled":
        return f"登录失败次数过多，请{max(1, round(result.retry_after + 0.49))}秒后再试"
    if result.reason == "disabled":
        return "此账号已停用，请联系管理员"
    if result.retry_after > 0:
        return f"用户名或密码错误；登录失败次数过多，请{max(1, round(result.retry_after + 0.49))}秒后再试"
    return "用户名或密码错误"


@route("POST", "/login", perm=PUBLIC, summary="登录")
def login_submit(ctx: Ctx) -> bottle.HTTPResponse:
    username = ctx.field("username")[:64]
    result = users.verify_password(username, ctx.field("password")[:256])
    inner = LOGIN_FORM.format(next=e(_safe_next(ctx.field("next", "/"))))
    if not result.ok or result.user is None:
        session.audit_web(
            "login_failed", username or "?", f"user:{username}", {"reason": result.reason, "ip": ctx.ip()}
        )
        return _pre_form(
            ctx, "登录", inner, login_message(result), 429 if result.reason == "throttled" else 400
        )
    if result.user.role == "maintenance":
        pass  # the maintenance technician may use the web maintenance pages too
    token, _sess = session.start(result.user, ctx.ip())
    res = redirect(_safe_next(ctx.field("next", "/")))
    res.set_header("Set-Cookie", cookie_header(SESSION_COOKIE, token, ctx.secure))
    return res


@route("POST", "/logout", perm="authenticated", summary="退出登录")
def logout(ctx: Ctx) -> bottle.HTTPResponse:
    session.end(ctx.token)
    res = redirect("/login")
    res.set_header("Set-Cookie", cookie_header(SESSION_COOKIE, "", ctx.secure, 0))
    return res


@route("GET", "/", perm="authenticated", summary="首页（按角色跳转）")
def home(ctx: Ctx) -> bottle.HTTPResponse:
    role = ctx.role
    if role == "technician":
        return redirect("/tech")
    if role == "maintenance":
        return redirect("/admin/audit")
    return redirect("/desk")


# ---- agent desk --------------------------------------------------------------------------------------


def _type_options(selected: str = "repair") -> str:
    return "".join(
        f'<option value="{k}"{" selected" if k == selected else ""}>{v}</option>'
        for k, v in workorder.TYPE_NAMES.items()
    )


def _team_options(teams: list[workorder.Team]) -> str:
    return "".join(f'<option value="{t.id}">{e(t.name)}</option>' for t in teams)


@route("GET", "/desk", perm="desk", summary="坐席台")
def desk(ctx: Ctx) -> bottle.HTTPResponse:
    teams = workorder.list_teams()
    body = f"""
<div class="desk">
<section id="agent" class="panel agent"><h2>座席状态</h2>
 <p><span id="agent-state">…</span> <span id="agent-reason"></span></p>
 <form id="agent-login"><input id="agent-station" name="station" size="3" maxlength="3"
  inputmode="numeric" placeholder="分机端口"><button type="submit">签入</button></form>
 <button id="agent-ready" type="button">示闲</button>
 <select id="agent-reason-code" aria-label="示忙原因"></select>
 <button id="agent-notready" type="button">示忙</button>
 <button id="agent-wrapup" type="button">结束整理</button>
 <button id="agent-logout" type="button">签出</button>
 <p id="agent-error" class="error" role="alert"></p></section>
<section id="callctl" class="panel callctl"><h2>通话控制</h2>
 <p id="call-state" data-state="">无通话</p>
 <button id="call-hold" type="button">保持</button><button id="call-unhold" type="button">恢复</button>
 <button id="call-hangup" type="button">挂断</button>
 <button id="call-record" type="button">录音</button>
 <button id="call-record-stop" type="button">停止录音</button>
 <form id="call-target-form"><input id="call-target" maxlength="20" placeholder="工号 / 队列 / 号码"
  aria-label="转接或咨询目标">
  <button id="call-consult" type="button">咨询</button><button id="call-transfer" type="button">转接</button>
  <button id="call-conference" type="button">三方</button>
  <button id="call-complete" type="button">完成转接</button>
  <button id="call-cancel" type="button">取消咨询</button></form>
 <button id="call-park" type="button">驻留</button>
 <form id="call-dial-form"><input id="call-number" maxlength="20" inputmode="numeric" placeholder="外呼号码"
  aria-label="外呼号码"><button type="submit">外呼</button></form>
 <form id="call-monitor-form"><input id="monitor-agent" maxlength="20" placeholder="座席工号"
  aria-label="被监听座席">
  <select id="monitor-mode" aria-label="方式"><option value="listen">监听</option>
  <option value="whisper">密语</option>
  <option value="barge">强插</option></select><button type="submit">班长介入</button>
  <button id="monitor-stop" type="button">结束监听</button></form>
 <form id="call-forward-form"><input id="call-forward" maxlength="20" inputmode="numeric"
  placeholder="手机号（空为取消）" aria-label="呼叫转移到手机"><button type="submit">转手机</button></form>
 <ul id="parked" class="results"></ul>
 <p id="call-error" class="error" role="alert"></p></section>
<section id="incoming" class="panel incoming" aria-live="assertive"><h2>来电</h2>
 <p id="incoming-status">等待来电…</p>
 <ul id="wo-alerts" class="alerts" aria-live="polite"></ul></section>
<section class="panel search"><h2>客户查询 <kbd>F2</kbd></h2>
 <form id="search-form"><input id="q" name="q" placeholder="电话 / 姓名 / 地址 / 户号" autofocus
  autocomplete="off" maxlength="64"><button type="submit">查询</button></form>
 <ul id="results" class="results"></ul><a href="/customers/new" target="_blank">新建客户档案</a></section>
<section id="customer" class="panel customer"><h2>客户档案</h2>
 <div id="customer-body">未选择客户</div></section>
<section class="panel neworder"><h2>新建工单 <kbd>F4</kbd></h2>
 <form id="wo-form">
  <input type="hidden" name="customer_id" id="wo-customer">
  <label>类型 <select name="type" id="wo-type">{_type_options()}</select></label>
  <label>来电号码 <input name="caller_phone" id="wo-phone" maxlength="20"></label>
  <label>标题 <input name="title" id="wo-title" required maxlength="100"></label>
  <label>内容 <textarea name="description" id="wo-description" rows="3" maxlength="4000"></textarea></label>
  <label>地址 <input name="address" id="wo-address" maxlength="200"></label>
  <label>派给班组 <select name="team_id" id="wo-team"><option value="">（暂不派单）</option>
   {_team_options(teams)}</select></label>
  <button type="submit" id="wo-submit">登记工单（Ctrl+Enter）</button>
 </form><p id="wo-result" role="status"></p></section>
<section class="panel kb"><h2>知识库 <kbd>F8</kbd></h2>
 <form id="kb-form"><input id="kb-q" placeholder="搜索知识库" maxlength="64" autocomplete="off">
 <button type="submit">搜索</button></form><ul id="kb-results" class="results"></ul>
 <div id="kb-article"></div></section>
</div>"""
    return page(ctx, "坐席台", body, scripts=("app.js", "desk.js", "callctl.js"), body_class="wide")


# ---- work orders -----------------------------------------------------------------------------------


def _filters_form(params: dict[str, str]) -> str:
    states = "".join(
        f'<option value="{s.value}"{" selected" if params.get("state") == s.value else ""}>{name}</option>'
        for s, name in workorder.STATE_NAMES.items()
    )
    types = "".join(
        f'<option value="{k}"{" selected" if params.get("type") == k else ""}>{v}</option>'
        for k, v in workorder.TYPE_NAMES.items()
    )
    sorts = "".join(
        f'<option value="{k}"{" selected" if params.get("sort") == k else ""}>{v}</option>'
        for k, v in wo.SORT_NAMES.items()
    )
    return f"""<form method="get" class="filters">
<label>状态 <select name="state"><option value="">全部</option>{states}</select></label>
<label>类型 <select name="type"><option value="">全部</option>{types}</select></label>
<label>排序 <select name="sort">{sorts}</select></label>
<label>顺序 <select name="dir"><option value="desc">降序</option>
<option value="asc"{" selected" if params.get("dir") == "asc" else ""}>升序</option></select></label>
<button type="submit">筛选</button></form>"""


@route("GET", "/orders", perm="wo.read", summary="工单列表")
def orders_page(ctx: Ctx) -> bottle.HTTPResponse:
    actor = ctx.need_actor()
    params = wo.list_params(ctx.query)
    rows = wo.query_orders(actor, params)
    qs = urllib.parse.urlencode({k: v for k, v in params.items() if v})
    export = ""
    if allowed("wo.export", ctx.role):
        export = (
            f'<p class="export"><a href="/orders/export.csv?{e(qs)}" id="export-csv">导出 CSV</a> '
            f'<a href="/orders/export.xlsx?{e(qs)}" id="export-xlsx">导出 Excel</a></p>'
        )
    trs = "".join(
        f'<tr><td><a href="/orders/{o.id}">{e(o.serial)}</a></td>'
        f'<td>{e(workorder.TYPE_NAMES.get(o.type))}</td>'
        f'<td>{e(o.title)}</td><td class="state-{e(o.state.value)}">{e(o.state_name)}</td>'
        f"<td>{e(wo.team_name(o.team_id))}</td><td>{e(wo.local_time(o.created_at))}</td>"
        f"<td>{e(wo.local_time(o.due_at))}{' ⚠超时' if o.escalated else ''}</td></tr>"
        for o in rows
    )
    body = (
        _filters_form(params)
        + export
        + '<table class="list" id="orders"><thead><tr><th>工单号</th><th>类型</th><th>标题</th><th>状态</th>'
        f"<th>班组</th><th>登记时间</th><th>时限</th></tr></thead><tbody>{trs}</tbody></table>"
        f"<p>{len(rows)} 条</p>"
    )
    return page(ctx, "工单", body, body_class="wide")


def _action_forms(ctx: Ctx, order: workorder.WorkOrder, actor: Actor) -> str:
    teams = workorder.list_teams()
    out = []
    for action in wo.allowed_actions(order, actor):
        label = workorder.ACTION_NAMES[action]
        extra = ""
        if action in ("dispatch", "redispatch", "transfer"):
            opts = "".join(
                f'<option value="{t.id}">{e(t.name)}</option>' for t in teams if t.id != order.team_id
            )
            extra = f'<label>班组 <select name="team_id">{opts}</select></label>'
        if action == "answer":
            extra = (
                '<label>最终答复 <textarea name="final_answer" required rows="3"'
                ' maxlength="4000"></textarea></label>'
            )
        elif action == "reply":
            extra = (
                '<label>处理结果 <textarea name="note" required rows="3" maxlength="2000"></textarea></label>'
            )
        else:
            extra += '<label>说明 <input name="note" maxlength="2000"></label>'
        out.append(
            f'<form method="post" action="/orders/{order.id}/act" class="action" id="act-{action}">'
            f'{csrf_field(ctx)}<input type="hidden" name="action" value="{action}">{extra}'
            f'<button type="submit">{label}</button></form>'
        )
    return "".join(out) or "<p>当前没有您可以执行的操作</p>"


def order_detail_html(order: workorder.WorkOrder, steps: list[workorder.Step]) -> str:
    fields = [
        ("工单号", order.serial),
        ("类型", workorder.TYPE_NAMES.get(order.type, order.type)),
        ("状态", order.state_name),
        ("优先级", wo.PRIORITY_NAMES.get(order.priority, order.priority)),
        ("来电号码", order.caller_phone),
        ("地址", order.address),
        ("班组", wo.team_name(order.team_id)),
        ("登记", f"{wo.local_time(order.created_at)} {order.created_by}"),
        ("时限", wo.local_time(order.due_at)),
        ("标题", order.title),
        ("内容", order.description),
        ("最终答复", order.final_answer),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{e(v)}</dd>" for k, v in fields)
    trs = "".join(
        f"<tr><td>{e(wo.local_time(s.at))}</td><td>{e(s.actor)}</td>"
        f"<td>{e(workorder.ACTION_NAMES.get(s.action, s.action))}</td>"
        f"<td>{e(workorder.STATE_NAMES.get(workorder.State(s.to_state), s.to_state))}</td>"
        f"<td>{e(wo.team_name(s.team_id))}</td><td>{e(s.note)}</td></tr>"
        for s in steps
    )
    return (
        f'<dl class="fields" id="order-fields">{dl}</dl><h2>处理过程</h2><table class="list" id="steps">'
        f"<thead><tr><th>时间</th><th>人员</th><th>操作</th><th>状态</th><th>班组</th><th>说明</th></tr>"
        f"</thead><tbody>{trs}</tbody></table>"
    )


@route("GET", "/orders/<oid:int>", perm="wo.read", summary="工单详情")
def order_page(ctx: Ctx) -> bottle.HTTPResponse:
    actor = ctx.need_actor()
    order = workorder.get_order(actor, int(ctx.args["oid"]))
    steps = workorder.steps(actor, order.id)
    msg = ctx.query.get("msg", "")[:200]
    note = f'<p class="ok" role="status">{e(msg)}</p>' if msg else ""
    body = (
        note
        + order_detail_html(order, steps)
        + '<h2>操作</h2><div class="actions">'
        + _action_forms(ctx, order, actor)
        + f'</div><p><a href="/orders/{order.id}/print" '
        'id="print-link">打印</a></p>'
    )
    return page(ctx, f"工单 {order.serial}", body)


@route("POST", "/orders/<oid:int>/act", perm="wo.act", summary="工单操作（派单、回复、答复、关闭…）")
def order_act(ctx: Ctx) -> bottle.HTTPResponse:
    actor = ctx.need_actor()
    order = wo.act(
        actor,
        int(ctx.args["oid"]),
        ctx.field("action"),
        note=ctx.field("note"),
        team=ctx.field("team_id"),
        final_answer=ctx.field("final_answer"),
    )
    back = ctx.field("back")
    target = back if back in ("/tech",) else f"/orders/{order.id}"
    msg = urllib.parse.quote(f"已{workorder.ACTION_NAMES[ctx.field('action')]}：{order.state_name}")
    return redirect(f"{target}?msg={msg}")


@route("GET", "/orders/<oid:int>/print", perm="wo.read", summary="打印工单")
def order_print(ctx: Ctx) -> bottle.HTTPResponse:
    actor = ctx.need_actor()
    order = workorder.get_order(actor, int(ctx.args["oid"]))
    body = order_detail_html(order, workorder.steps(actor, order.id))
    body += '<p class="signature">维修人员签字：__________　　客户签字：__________</p>'
    return page(None, f"工单 {order.serial}", body, body_class="print")


# ---- administration ------------------------------------------------------------------------------


def _role_options() -> str:
    return "".join(f'<option value="{r}">{ROLE_NAMES[r]}</option>' for r in users.ROLES if r != "maintenance")


@route("GET", "/admin/users", perm="users.admin", summary="用户管理")
def users_page(ctx: Ctx) -> bottle.HTTPResponse:
    teams = workorder.list_teams()
    msg = ctx.query.get("msg", "")[:200]
    rows = []
    for u in users.list_users():
        state = "已停用" if u.disabled else "正常"
        toggle = "启用" if u.disabled else "停用"
        team = wo.team_name(workorder.team_of(u.username)) if u.role == "technician" else ""
        rows.append(
            f'<tr id="user-{e(u.username)}"><td>{e(u.username)}</td>'
            f'<td>{e(ROLE_NAMES.get(u.role, u.role))}</td>'
            f"<td>{e(team)}</td><td>{state}</td><td>"
            f'<form method="post" action="/admin/users/disable" class="inline">{csrf_field(ctx)}'
            f'<input type="hidden" name="username" value="{e(u.username)}">'
            f'<input type="hidden" name="disabled" value="{"0" if u.disabled else "1"}">'
            f'<button type="submit">{toggle}</button></form>'
            f'<form method="post" action="/admin/users/password" class="inline">{csrf_field(ctx)}'
            f'<input type="hidden" name="username" value="{e(u.username)}">'
            f'<input name="password" type="password" placeholder="新密码" maxlength="128" required>'
            f'<button type="submit">重置密码</button></form></td></tr>'
        )
    body = (
        (f'<p class="ok" role="status">{e(msg)}</p>' if msg else "")
        + f"""
<form method="post" action="/admin/users" class="card" id="new-user">{csrf_field(ctx)}<h2>新建用户</h2>
<label>用户名 <input name="username" id="nu-username" required maxlength="32"></label>
<label>角色 <select name="role" id="nu-role">{_role_options()}</select></label>
<label>班组（维修人员） <select name="team_id" id="nu-team"><option value="">无</option>{_team_options(teams)}
</select></label>
<label>初始密码 <input name="password" id="nu-password" type="password" required maxlength="128"></label>
<button type="submit" id="nu-submit">创建</button></form>
<table class="list" id="users"><thead><tr><th>用户名</th><th>角色</th><th>班组</th><th>状态</th><th>操作</th>
</tr></thead><tbody>{"".join(rows)}</tbody></table>"""
    )
    return page(ctx, "用户管理", body)


def _back(path: str, msg: str) -> bottle.HTTPResponse:
    return redirect(f"{path}?msg={urllib.parse.quote(msg)}")


@route("POST", "/admin/users", perm="users.admin", summary="新建用户")
def user_create(ctx: Ctx) -> bottle.HTTPResponse:
    role = ctx.field("role")
    if role == "maintenance":
        raise WebError(400, "维护账号只能在串口控制台设置")
    info = session.create_user(ctx.username, ctx.field("username"), ctx.field("password"), role)
    team = ctx.field("team_id")
    if team and info.role == "technician":
        workorder.add_member(ctx.need_actor(), wo.team_id_of(team), info.username)
    return _back("/admin/users", f"已创建用户 {info.username}")


@route("POST", "/admin/users/disable", perm="users.admin", summary="停用或启用用户")
def user_disable(ctx: Ctx) -> bottle.HTTPResponse:
    name = ctx.field("username").strip().lower()
    disabled = ctx.field("disabled") == "1"
    if name == ctx.username and disabled:
        raise WebError(400, "不能停用自己的账号")
    session.set_disabled(ctx.username, name, disabled)
    return _back("/admin/users", f"已{'停用' if disabled else '启用'}用户 {name}")


@route("POST", "/admin/users/password", perm="users.admin", summary="重置用户密码")
def user_password(ctx: Ctx) -> bottle.HTTPResponse:
    info = session.reset_password(ctx.username, ctx.field("username"), ctx.field("password"))
    return _back("/admin/users", f"已重置 {info.username} 的密码")


@route("GET", "/admin/teams", perm="users.admin", summary="维修班组")
def teams_page(ctx: Ctx) -> bottle.HTTPResponse:
    msg = ctx.query.get("msg", "")[:200]
    rows = "".join(
        f"<tr><td>{t.id}</td><td>{e(t.name)}</td><td>{e(t.leader_name)}</td>"
        f"<td>{e(t.leader_mobile)}</td></tr>"
        for t in workorder.list_teams()
    )
    body = (
        (f'<p class="ok" role="status">{e(msg)}</p>' if msg else "")
        + f"""
<form method="post" action="/admin/teams" class="card" id="new-team">{csrf_field(ctx)}<h2>新建班组</h2>
<label>名称 <input name="name" id="nt-name" required maxlength="32"></label>
<label>班长 <input name="leader_name" maxlength="32"></label>
<label>班长手机 <input name="leader_mobile" maxlength="20"></label>
<button type="submit" id="nt-submit">创建</button></form>
<table class="list" id="teams"><thead><tr><th>编号</th><th>名称</th><th>班长</th><th>手机</th></tr></thead>
<tbody>{rows}</tbody></table>"""
    )
    return page(ctx, "维修班组", body)


@route("POST", "/admin/teams", perm="users.admin", summary="新建班组")
def team_create(ctx: Ctx) -> bottle.HTTPResponse:
    team = workorder.create_team(
        ctx.need_actor(), ctx.field("name"), ctx.field("leader_name"), ctx.field("leader_mobile")
    )
    return _back("/admin/teams", f"已创建班组 {team.name}")


@route("GET", "/admin/audit", perm="audit.read", summary="审计日志")
def audit_page(ctx: Ctx) -> bottle.HTTPResponse:
    rows = "".join(
        f"<tr><td>{e(r.at)}</td><td>{e(r.source)}</td><td>{e(r.actor)}</td><td>{e(r.action)}</td>"
        f"<td>{e(r.target)}</td></tr>"
        for r in audit.recent(200)
    )
    body = (
        '<table class="list" id="audit"><thead><tr><th>时间</th><th>来源</th><th>人员</th><th>操作</th>'
        f"<th>对象</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return page(ctx, "审计日志", body, body_class="wide")
