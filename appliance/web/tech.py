"""The technician's phone page: his team's open orders, reply, transfer, accept."""

from __future__ import annotations

import bottle

from appliance.crm import workorder
from appliance.web import orders as wo
from appliance.web.render import csrf_field, e, page
from appliance.web.routes import Ctx, route


def _order_card(ctx: Ctx, o: workorder.WorkOrder, teams: list[workorder.Team]) -> str:
    actor = ctx.need_actor()
    actions = wo.allowed_actions(o, actor)
    forms = []
    hidden = f'{csrf_field(ctx)}<input type="hidden" name="back" value="/tech">'
    if "accept" in actions:
        forms.append(
            f'<form method="post" action="/orders/{o.id}/act">{hidden}'
            '<input type="hidden" name="action" value="accept"><button type="submit" '
            'class="big">接单</button></form>'
        )
    if "reply" in actions:
        forms.append(
            f'<form method="post" action="/orders/{o.id}/act" class="reply">{hidden}'
            '<input type="hidden" name="action" value="reply">'
            '<textarea name="note" required rows="3" maxlength="2000" placeholder="处理结果"></textarea>'
            '<button type="submit" class="big">回复并结束我的环节</button></form>'
        )
    if "transfer" in actions:
        opts = "".join(f'<option value="{t.id}">{e(t.name)}</option>' for t in teams if t.id != o.team_id)
        forms.append(
            f'<form method="post" action="/orders/{o.id}/act">{hidden}'
            f'<input type="hidden" name="action" value="transfer"><select name="team_id">{opts}</select>'
            '<input name="note" placeholder="转派原因" maxlength="2000">'
            '<button type="submit">转派</button></form>'
        )
    late = ' <b class="overdue">⚠已超时</b>' if o.escalated else ""
    return (
        f'<article class="order-card" id="order-{o.id}"><h2>{e(o.serial)} {e(o.title)}</h2>'
        f'<p class="state-{e(o.state.value)}">{e(o.state_name)} · '
        f"{e(workorder.TYPE_NAMES.get(o.type, o.type))}</p>"
        f'<p>{e(o.address)}</p><p>来电：<a href="tel:{e(o.caller_phone)}">{e(o.caller_phone)}</a></p>'
        f"<p>{e(o.description)}</p><p>时限：{e(wo.local_time(o.due_at))}{late}</p>{''.join(forms)}</article>"
    )


@route("GET", "/tech", perm="tech", summary="维修人员：本班组工单（手机）")
def tech_page(ctx: Ctx) -> bottle.HTTPResponse:
    actor = ctx.need_actor()
    msg = ctx.query.get("msg", "")[:200]
    if actor.team_id is None:
        return page(
            ctx, "我的工单", '<p class="error">您还没有加入维修班组，请联系管理员</p>', body_class="phone"
        )
    teams = workorder.list_teams()
    open_states = {s for s in workorder.OPEN_STATES}
    orders = [o for o in workorder.list_orders(actor, limit=200) if o.state in open_states]
    cards = "".join(_order_card(ctx, o, teams) for o in orders) or "<p>本班组暂无待处理工单</p>"
    note = f'<p class="ok" role="status">{e(msg)}</p>' if msg else ""
    live = '<p id="tech-notice" class="notice" role="status" hidden></p>'
    return page(ctx, f"我的工单（{wo.team_name(actor.team_id)}）", live + note + cards, body_class="phone",
                scripts=("app.js", "tech.js"))
