"""Callers' messages (留言) from the IVR: the list, listening by message id, marking handled.

A recording is served only by the message's id in the database (``crm.messages``), and only if its
file lies inside the data dir; each listen and each "handled" is audited.
"""

from __future__ import annotations

import logging
import urllib.parse

import bottle

from appliance.crm import messages
from appliance.crm.common import NotFound
from appliance.crm.db import off_hub
from appliance.web.ivradmin import audio_response
from appliance.web.render import csrf_field, e, page, redirect
from appliance.web.routes import Ctx, route

log = logging.getLogger(__name__)

LIST_LIMIT = 200


def _duration(ms: int) -> str:
    return f"{ms // 60000}:{ms // 1000 % 60:02d}"


@route("GET", "/voicemail", perm="voicemail.read", summary="来电留言")
def voicemail_list(ctx: Ctx) -> bottle.HTTPResponse:
    pending_only = ctx.query.get("pending") == "1"
    rows = []
    for m in messages.list_messages(LIST_LIMIT, unheard_only=pending_only):
        action = "已处理" if m.heard else (
            f'<form method="post" action="/voicemail/{m.id}/handled" class="inline">{csrf_field(ctx)}'
            '<button type="submit">标记已处理</button></form>')
        rows.append(
            f'<tr id="message-{m.id}" class="{"done" if m.heard else "pending"}"><td>{e(m.at)}</td>'
            f'<td class="caller">{e(m.caller or "未知号码")}</td><td>{e(m.category_name)}</td>'
            f"<td>{_duration(m.duration_ms)}</td>"
            f'<td><audio controls preload="none" src="/voicemail/{m.id}/audio"></audio></td>'
            f'<td class="state">{action}</td></tr>')
    msg = ctx.query.get("msg", "")[:200]
    note = f'<p class="ok" role="status">{e(msg)}</p>' if msg else ""
    switch = ('<a href="/voicemail">全部留言</a>' if pending_only else
              '<a href="/voicemail?pending=1" id="pending-only">只看未处理</a>')
    body = (
        f"{note}<p>{switch}</p>"
        '<table class="list" id="messages"><thead><tr><th>时间</th><th>来电号码</th><th>类别</th>'
        f'<th>时长</th><th>收听</th><th>处理</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
        f"<p>{len(rows)} 条</p>")
    return page(ctx, "来电留言", body, body_class="wide")


@route("GET", "/voicemail/<mid:int>/audio", perm="voicemail.read", summary="收听留言录音")
def voicemail_audio(ctx: Ctx) -> bottle.HTTPResponse:
    message = messages.get_message(int(ctx.args["mid"]))
    path = messages.recording_path(message)
    try:
        data = off_hub(path.read_bytes)
    except OSError:
        log.warning("web: message %d: recording %s is missing", message.id, path)
        raise NotFound("留言录音文件不存在") from None
    messages.note_played(message.id, ctx.username)
    return audio_response(data, f"message-{message.id}.wav")


@route("POST", "/voicemail/<mid:int>/handled", perm="voicemail.read", summary="留言标记为已处理")
def voicemail_handled(ctx: Ctx) -> bottle.HTTPResponse:
    mid = int(ctx.args["mid"])
    messages.mark_heard(mid, ctx.username)
    return redirect("/voicemail?msg=" + urllib.parse.quote(f"留言 {mid} 已标记为已处理"))
