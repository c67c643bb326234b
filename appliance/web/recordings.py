"""Call recordings for team leaders and supervisors (质检): the list, and each file by its id.

A file is found only through its row in the recording index (appliance/crm/callrec.py): the URL
carries an integer id, never a path. Listening is audited like a write (recordings are personal
data of the caller).
"""

from __future__ import annotations

import time
from pathlib import Path

import bottle
import gevent

from appliance.crm import audit, callrec
from appliance.crm.db import run_db
from appliance.web.render import e, page, response
from appliance.web.routes import Ctx, WebError, route

LIST_LIMIT = 200
MAX_BYTES = 4 * 3600 * 8000 + 4096      # the longest recording the ACD makes (4 h of A-law)


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


@route("GET", "/recordings", perm="recordings.read", summary="通话录音（质检）")
def recordings(ctx: Ctx) -> bottle.HTTPResponse:
    rows = run_db(callrec.recent_recordings, LIST_LIMIT)
    body = "".join(
        f"<tr><td>{e(_when(r.started_at))}</td><td>{e(r.caller)}</td><td>{e(r.agent)}</td>"
        f"<td>{r.duration_s:.0f} 秒</td><td>{'按需' if r.started_by else '自动'}</td>"
        f'<td><audio controls preload="none" src="/recordings/{r.id}/audio"></audio></td></tr>'
        for r in rows)
    table = (f'<table class="list" id="recordings"><thead><tr><th>时间</th><th>来电号码</th><th>座席</th>'
             f"<th>时长</th><th>方式</th><th>播放</th></tr></thead><tbody>{body}</tbody></table>"
             if rows else "<p>暂无录音</p>")
    return page(ctx, "通话录音", f"<h1>通话录音</h1>{table}")


def _read(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(MAX_BYTES)


@route("GET", "/recordings/<rid:int>/audio", perm="recordings.read", summary="播放一条录音（按编号）")
def recording_audio(ctx: Ctx) -> bottle.HTTPResponse:
    rid = int(ctx.args["rid"])
    path = run_db(callrec.recording_file, rid)
    if path is None or not path.is_file():
        raise WebError(404, "录音不存在或文件已丢失")
    data = gevent.get_hub().threadpool.apply(_read, (path,))
    run_db(audit.record, "recording_listen", actor=ctx.username, source="web", target=f"recording:{rid}")
    headers = {"Cache-Control": "no-store", "Content-Disposition": f'inline; filename="{rid}.wav"'}
    return response(data, content_type="audio/wav", headers=headers)
