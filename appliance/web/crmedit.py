"""Editing pages of the desk roles: a customer's file (new / edit) and the knowledge base (new, edit, pin).

Server-rendered forms (they work without JavaScript, Tab order follows the form). Every change goes
through the crm service functions (customer.create_customer / update_customer, kb.create_article /
update_article), which check the input, answer in Chinese and write the audit log; a refused form
comes back with what was typed and the reason on top.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import bottle

from appliance.crm import customer, kb
from appliance.crm.common import Actor, CrmError
from appliance.web.render import csrf_field, e, page, redirect
from appliance.web.routes import Ctx, WebError, route

log = logging.getLogger(__name__)

PHONE_KINDS = {"mobile": "手机", "home": "家庭", "work": "单位", "other": "其他"}
GENDER_NAMES = {"": "未填", "M": "男", "F": "女"}
PHONE_ROWS = 4                      # empty phone rows offered (up to customer.MAX_PHONES)
TEXT_FIELDS = (("name", "姓名"), ("address", "地址"), ("region", "片区"), ("region_code", "片区代码"),
               ("meter_type", "表具类型"), ("email", "电子邮件"))


def _msg(ctx: Ctx) -> str:
    msg = ctx.query.get("msg", "")[:200]
    return f'<p class="ok" role="status">{e(msg)}</p>' if msg else ""


def _alert(message: str) -> str:
    return f'<p class="error" role="alert" id="form-error">{e(message)}</p>' if message else ""


def _options(choices: Mapping[str, str], selected: str) -> str:
    return "".join(
        f'<option value="{e(k)}"{" selected" if k == selected else ""}>{e(v)}</option>'
        for k, v in choices.items()
    )


# ---- customers -------------------------------------------------------------------------------------


def _int_field(ctx: Ctx, name: str, label: str) -> int:
    raw = ctx.field(name).strip()
    if not raw:
        return 0
    if not raw.lstrip("-").isdigit() or len(raw) > 6:
        raise WebError(400, f"{label}必须是整数")
    return int(raw)


def _phone_rows(ctx: Ctx) -> list[tuple[str, str]]:
    out = []
    for i in range(customer.MAX_PHONES):
        number = ctx.field(f"phone_{i}").strip()
        if number:
            kind = ctx.field(f"kind_{i}", "mobile")
            out.append((number, PHONE_KINDS.get(kind, "")))
    return out


def _customer_values(ctx: Ctx) -> dict[str, Any]:
    values: dict[str, Any] = {k: ctx.field(k) for k, _ in TEXT_FIELDS}
    values["notes"] = ctx.field("notes")
    values["gender"] = ctx.field("gender")
    values["grade"] = ctx.field("grade", "normal")
    values["household_size"] = _int_field(ctx, "household_size", "家庭人数")
    values["floor"] = _int_field(ctx, "floor", "楼层")
    return values


def _customer_form(ctx: Ctx, action: str, values: Mapping[str, object], phones: Sequence[tuple[str, str]],
                   *, account: str | None, message: str = "") -> str:
    kind_of = {v: k for k, v in PHONE_KINDS.items()}
    rows = list(phones) + [("", "手机")] * PHONE_ROWS
    phone_html = "".join(
        f'<div class="phone"><input name="phone_{i}" id="phone_{i}" value="{e(n)}" maxlength="32"'
        f' aria-label="电话{i + 1}" inputmode="tel"> <select name="kind_{i}" aria-label="电话{i + 1}类型">'
        f"{_options(PHONE_KINDS, kind_of.get(k, 'mobile'))}</select></div>"
        for i, (n, k) in enumerate(rows[: max(PHONE_ROWS, min(len(phones) + 1, customer.MAX_PHONES))])
    )
    acct = (
        f'<label>户号 <input name="account_no" id="c-account" required maxlength="32" value="{e(account)}"'
        ' pattern="[0-9A-Za-z-]{1,32}" title="字母、数字和“-”"></label>'
        if account is not None else ""
    )
    texts = "".join(
        f'<label>{label} <input name="{k}" id="c-{k}" value="{e(values.get(k, ""))}"'
        f' maxlength="{customer.LIMITS[k]}"{" required" if k == "name" else ""}></label>'
        for k, label in TEXT_FIELDS
    )
    return f"""{_alert(message)}<form method="post" action="{e(action)}" class="edit" id="customer-form">
{csrf_field(ctx)}{acct}{texts}
<fieldset><legend>电话（最多{customer.MAX_PHONES}个）</legend>{phone_html}</fieldset>
<label>性别 <select name="gender" id="c-gender">
{_options(GENDER_NAMES, str(values.get("gender", "")))}</select></label>
<label>客户等级 <select name="grade" id="c-grade">
{_options(customer.GRADE_NAMES, str(values.get("grade", "normal")))}</select></label>
<label>家庭人数 <input name="household_size" id="c-household_size" inputmode="numeric" maxlength="3"
 value="{e(values.get("household_size", ""))}"></label>
<label>楼层 <input name="floor" id="c-floor" inputmode="numeric" maxlength="4"
 value="{e(values.get("floor", ""))}"></label>
<label>备注 <textarea name="notes" id="c-notes" rows="3"
 maxlength="{customer.LIMITS["notes"]}">{e(values.get("notes", ""))}</textarea></label>
<button type="submit" id="c-submit">保存</button> <a href="/desk">返回坐席台</a></form>"""


@route("GET", "/customers/new", perm="desk", summary="新建客户档案（phone：预填的来电号码）")
def customer_new(ctx: Ctx) -> bottle.HTTPResponse:
    phone = ctx.query.get("phone", "")[:32]
    form = _customer_form(ctx, "/customers", {"grade": "normal"}, [(phone, "手机")] if phone else [],
                          account="")
    return page(ctx, "新建客户档案", form)


@route("POST", "/customers", perm="desk", summary="新建客户档案")
def customer_create(ctx: Ctx) -> bottle.HTTPResponse:
    phones = _phone_rows(ctx)
    account = ctx.field("account_no").strip()
    try:
        values = _customer_values(ctx)
        name = str(values.pop("name"))
        c = customer.create_customer(ctx.need_actor(), account, name, phones=phones, **values)
    except (CrmError, WebError) as exc:
        message = exc.message if isinstance(exc, WebError) else str(exc)
        form = _customer_form(ctx, "/customers", _raw(ctx), phones, account=account, message=message)
        return page(ctx, "新建客户档案", form, 400)
    log.info("web: %s created customer %s (%s)", ctx.username, c.id, c.account_no)
    done = f"已建档：{c.name}（户号 {c.account_no}）"
    return redirect(f"/customers/{c.id}/edit?msg=" + urllib.parse.quote(done))


def _raw(ctx: Ctx) -> dict[str, object]:
    keys = [k for k, _ in TEXT_FIELDS] + ["notes", "gender", "grade", "household_size", "floor"]
    return {k: ctx.field(k) for k in keys}


@route("GET", "/customers/<cid:int>/edit", perm="desk", summary="修改客户档案")
def customer_edit(ctx: Ctx) -> bottle.HTTPResponse:
    c = customer.get_customer(int(ctx.args["cid"]))
    values = {f: getattr(c, f) for f in customer.EDITABLE}
    phones = [(p.raw, p.kind) for p in c.phones]
    form = _customer_form(ctx, f"/customers/{c.id}", values, phones, account=None)
    return page(ctx, f"客户档案：{c.name}（户号 {c.account_no}）", _msg(ctx) + form)


@route("POST", "/customers/<cid:int>", perm="desk", summary="保存客户档案")
def customer_save(ctx: Ctx) -> bottle.HTTPResponse:
    c = customer.get_customer(int(ctx.args["cid"]))
    phones = _phone_rows(ctx)
    try:
        values = _customer_values(ctx)
        saved = customer.update_customer(ctx.need_actor(), c.id, phones=phones, **values)
    except (CrmError, WebError) as exc:
        message = exc.message if isinstance(exc, WebError) else str(exc)
        form = _customer_form(ctx, f"/customers/{c.id}", _raw(ctx), phones, account=None, message=message)
        return page(ctx, f"客户档案：{c.name}（户号 {c.account_no}）", form, 400)
    return redirect(f"/customers/{saved.id}/edit?msg=" + urllib.parse.quote("已保存"))


# ---- knowledge base --------------------------------------------------------------------------------


def _pin_form(ctx: Ctx, a: kb.Article) -> str:
    return (
        f'<form method="post" action="/kb/{a.id}/pin" class="inline">{csrf_field(ctx)}'
        f'<input type="hidden" name="pinned" value="{"0" if a.pinned else "1"}">'
        f'<button type="submit" class="pin">{"取消置顶" if a.pinned else "置顶"}</button></form>'
    )


@route("GET", "/kb", perm="desk", summary="知识库维护：文章列表（q：搜索）")
def kb_list(ctx: Ctx) -> bottle.HTTPResponse:
    q = ctx.query.get("q", "").strip()
    articles = kb.search(q, limit=100) if q else kb.list_articles(limit=200)
    names = {c.id: c.name for c in kb.categories()}
    rows = "".join(
        f'<tr id="kb-{a.id}"><td>{"📌 " if a.pinned else ""}<a href="/kb/{a.id}/edit">{e(a.title)}</a></td>'
        f"<td>{e(names.get(a.category_id or 0, ''))}</td><td>{e(a.keywords)}</td><td>{a.views}</td>"
        f"<td>{e(a.updated_at[:16].replace('T', ' '))}</td><td>{_pin_form(ctx, a)}</td></tr>"
        for a in articles
    )
    body = (
        _msg(ctx)
        + f'<p><a href="/kb/new" id="kb-new">新建文章</a></p><form method="get" class="filters">'
        f'<input name="q" value="{e(q)}" placeholder="搜索标题、正文、关键词" maxlength="64">'
        f'<button type="submit">搜索</button></form><table class="list" id="kb-list"><thead><tr><th>标题</th>'
        f"<th>分类</th><th>关键词</th><th>浏览</th><th>修改时间（UTC）</th><th></th></tr></thead>"
        f"<tbody>{rows}</tbody></table><p>{len(articles)} 篇</p>"
    )
    return page(ctx, "知识库维护", body, body_class="wide")


def _kb_form(ctx: Ctx, action: str, a: Mapping[str, object], message: str = "") -> str:
    cats = {"": "（不分类）"} | {str(c.id): c.name for c in kb.categories()}
    checked = " checked" if a.get("pinned") else ""
    return f"""{_alert(message)}<form method="post" action="{e(action)}" class="edit" id="kb-form">
{csrf_field(ctx)}<label>标题 <input name="title" id="kb-title" required maxlength="{kb.LIMITS["title"]}"
 value="{e(a.get("title", ""))}"></label>
<label>分类 <select name="category_id" id="kb-category">
{_options(cats, str(a.get("category_id") or ""))}</select></label>
<label>或新建分类 <input name="new_category" id="kb-new-category" maxlength="{kb.LIMITS["category"]}"
 value="{e(a.get("new_category", ""))}"></label>
<label>关键词（逗号分隔） <input name="keywords" id="kb-keywords" maxlength="{kb.LIMITS["keywords"]}"
 value="{e(a.get("keywords", ""))}"></label>
<label>正文 <textarea name="body" id="kb-body" rows="12"
 maxlength="{kb.LIMITS["body"]}">{e(a.get("body", ""))}</textarea></label>
<label><input type="checkbox" name="pinned" value="1" id="kb-pinned"{checked}> 置顶（搜索时排在最前）</label>
<button type="submit" id="kb-submit">保存</button> <a href="/kb">返回列表</a></form>"""


def _kb_values(ctx: Ctx) -> dict[str, object]:
    return {k: ctx.field(k) for k in ("title", "body", "keywords", "category_id", "new_category")} | {
        "pinned": ctx.field("pinned") == "1"}


def _category(ctx: Ctx, actor: Actor) -> int | None:
    new = ctx.field("new_category").strip()
    if new:
        return kb.create_category(actor, new).id
    raw = ctx.field("category_id").strip()
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise WebError(400, "分类无效")
    return int(raw)


@route("GET", "/kb/new", perm="desk", summary="新建知识库文章")
def kb_new(ctx: Ctx) -> bottle.HTTPResponse:
    return page(ctx, "新建知识库文章", _kb_form(ctx, "/kb", {}))


@route("POST", "/kb", perm="desk", summary="保存新的知识库文章")
def kb_create(ctx: Ctx) -> bottle.HTTPResponse:
    actor = ctx.need_actor()
    try:
        a = kb.create_article(actor, ctx.field("title"), ctx.field("body"), keywords=ctx.field("keywords"),
                              category_id=_category(ctx, actor), pinned=ctx.field("pinned") == "1")
    except (CrmError, WebError) as exc:
        message = exc.message if isinstance(exc, WebError) else str(exc)
        return page(ctx, "新建知识库文章", _kb_form(ctx, "/kb", _kb_values(ctx), message), 400)
    return redirect(f"/kb/{a.id}/edit?msg=" + urllib.parse.quote(f"已发布：{a.title}"))


@route("GET", "/kb/<aid:int>/edit", perm="desk", summary="修改知识库文章")
def kb_edit(ctx: Ctx) -> bottle.HTTPResponse:
    a = kb.get_article(int(ctx.args["aid"]))
    values = {"title": a.title, "body": a.body, "keywords": a.keywords, "category_id": a.category_id,
              "pinned": a.pinned}
    info = f'<p class="hint">浏览 {a.views} 次；{e(a.created_by)} 创建于 {e(a.created_at[:16])}（UTC）</p>'
    return page(ctx, "修改知识库文章", _msg(ctx) + info + _kb_form(ctx, f"/kb/{a.id}", values))


@route("POST", "/kb/<aid:int>", perm="desk", summary="保存知识库文章")
def kb_save(ctx: Ctx) -> bottle.HTTPResponse:
    actor = ctx.need_actor()
    a = kb.get_article(int(ctx.args["aid"]))
    try:
        kb.update_article(actor, a.id, title=ctx.field("title"), body=ctx.field("body"),
                          keywords=ctx.field("keywords"), category_id=_category(ctx, actor),
                          pinned=ctx.field("pinned") == "1")
    except (CrmError, WebError) as exc:
        message = exc.message if isinstance(exc, WebError) else str(exc)
        return page(ctx, "修改知识库文章", _kb_form(ctx, f"/kb/{a.id}", _kb_values(ctx), message), 400)
    return redirect(f"/kb/{a.id}/edit?msg=" + urllib.parse.quote("已保存"))


@route("POST", "/kb/<aid:int>/pin", perm="desk", summary="置顶或取消置顶知识库文章")
def kb_pin(ctx: Ctx) -> bottle.HTTPResponse:
    a = kb.pin(ctx.need_actor(), int(ctx.args["aid"]), ctx.field("pinned") == "1")
    return redirect("/kb?msg=" + urllib.parse.quote(f"已{'置顶' if a.pinned else '取消置顶'}：{a.title}"))
