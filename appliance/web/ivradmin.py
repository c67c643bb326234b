"""IVR administration pages: the prompt library (upload, text to speech, listen) and the call flows
(versions, the validator's messages, activate, upload a flow JSON).

Prompt files are served only by their id in the database index (``crm.promptstore``); no path or
file name from the request reaches the filesystem. Flows are saved and activated through the
running IVR's service API (``FlowRuntime``, bound by the service at start), so an activation takes
effect for the next call; without a running IVR the versions are shown read-only.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
from typing import Any, Protocol

import bottle

from appliance.crm import flowstore, promptstore
from appliance.crm.common import InvalidInput, NotFound
from appliance.crm.db import off_hub
from appliance.ivr import promptlib
from appliance.ivr.flow import FlowError
from appliance.ivr.validate import FlowInvalid, Problem
from appliance.web.render import csrf_field, e, page, redirect, response
from appliance.web.routes import Ctx, WebError, route

log = logging.getLogger(__name__)

UPLOAD_LIMIT = promptlib.MAX_BYTES + 64 * 1024          # the file plus the form's other fields
FLOW_LIMIT = flowstore.MAX_BODY + 64 * 1024


class FlowRuntime(Protocol):
    """What these pages need from the IVR (appliance/ivr/runtime.py ``IvrRuntime``)."""

    flow_id: str

    def save(self, body: str | dict[str, Any], by: str = ...) -> tuple[int, list[Problem]]: ...
    def activate(self, version: int, by: str = ...) -> Any: ...


_runtime: FlowRuntime | None = None


def bind(runtime: FlowRuntime | None) -> None:
    """The service gives the web its running IVR (None: the IVR is not enabled)."""
    global _runtime
    _runtime = runtime


def _need_runtime() -> FlowRuntime:
    if _runtime is None:
        raise WebError(409, "IVR未启用（配置文件 [ivr] enabled = true），流程只能查看")
    return _runtime


def _note(ctx: Ctx, error: str = "") -> str:
    msg = ctx.query.get("msg", "")[:200]
    out = f'<p class="ok" role="status">{e(msg)}</p>' if msg else ""
    if error:
        out += f'<p class="error" role="alert" id="error">{e(error)}</p>'
    return out


def _seconds(ms: int) -> str:
    return f"{ms / 1000:.1f} 秒"


def audio_response(data: bytes, download_name: str) -> bottle.HTTPResponse:
    """A WAV file for an <audio> element: fixed, ASCII file name; never sniffed as anything else."""
    res = response(data, 200, "audio/wav")
    res.set_header("Content-Disposition", f'inline; filename="{download_name}"')
    return res


# ---- prompt library --------------------------------------------------------------------------------------


def _prompt_rows(ctx: Ctx) -> str:
    rows = []
    for name, p in promptstore.current().items():
        older = [v for v in promptstore.versions(name) if v.id != p.id]
        history = ""
        if older:
            items = "".join(
                f'<li>第{v.version}版 {e(v.created_at)} {e(v.created_by)} {e(v.source_name)} '
                f'{_seconds(v.duration_ms)} <audio controls preload="none" '
                f'src="/admin/prompts/{v.id}/audio"></audio></li>' for v in older)
            history = f"<details><summary>历史版本 {len(older)}</summary><ul>{items}</ul></details>"
        builtin = "替换内置语音" if name in promptlib.BUILTIN_NAMES else "新增语音"
        text = f"<br><small>{e(p.text)}</small>" if p.text else ""
        rows.append(
            f'<tr id="prompt-{e(name)}"><td>{e(name)}</td><td>{builtin}</td><td>第{p.version}版</td>'
            f"<td>{e(p.source_name)}{text}</td><td>{_seconds(p.duration_ms)}</td><td>{e(p.created_at)}</td>"
            f'<td>{e(p.created_by)}</td><td><audio controls preload="none" src="/admin/prompts/{p.id}/audio">'
            f"</audio>{history}</td></tr>")
    return "".join(rows)


def prompts_page(ctx: Ctx, error: str = "", status: int = 200) -> bottle.HTTPResponse:
    options = "".join(f'<option value="{n}"></option>' for n in promptlib.BUILTIN_NAMES)
    rows = _prompt_rows(ctx)
    body = (
        _note(ctx, error)
        + f"""<p>上传的语音优先于内置语音播放；新的上传成功之前，原来的语音照常播放。
支持WAV和MP3（任意采样率、声道），按文件内容检查，最大{promptlib.MAX_BYTES // (1024 * 1024)} MB、
{promptlib.MAX_SECONDS}秒，自动转换为8 kHz单声道A律。</p>
<datalist id="prompt-names">{options}</datalist>
<form method="post" action="/admin/prompts/upload" enctype="multipart/form-data" class="card" id="upload">
{csrf_field(ctx)}<h2>上传语音</h2>
<label>语音名称 <input name="name" id="up-name" list="prompt-names" required maxlength="40"
 pattern="[a-z][a-z0-9_]*"></label>
<label>音频文件 <input name="file" id="up-file" type="file" required accept=".wav,.mp3,audio/*"></label>
<button type="submit" id="up-submit">上传</button></form>
<form method="post" action="/admin/prompts/tts" class="card" id="tts">{csrf_field(ctx)}<h2>文字转语音</h2>
<label>语音名称 <input name="name" id="tts-name" list="prompt-names" required maxlength="40"
 pattern="[a-z][a-z0-9_]*"></label>
<label>文字（普通话，最多{promptlib.MAX_TTS_CHARS}字） <textarea name="text" id="tts-text" rows="3" required
 maxlength="{promptlib.MAX_TTS_CHARS}"></textarea></label>
<button type="submit" id="tts-submit">生成</button></form>
<h2>语音库</h2>
<table class="list" id="prompts"><thead><tr><th>名称</th><th>用途</th><th>版本</th><th>来源</th><th>时长</th>
<th>时间</th><th>人员</th><th>试听</th></tr></thead><tbody>{rows}</tbody></table>"""
    )
    return page(ctx, "语音库", body, status, body_class="wide")


@route("GET", "/admin/prompts", perm="ivr.admin", summary="语音库")
def prompts_list(ctx: Ctx) -> bottle.HTTPResponse:
    return prompts_page(ctx)


def _saved(stored: promptstore.StoredPrompt) -> bottle.HTTPResponse:
    msg = f"已保存语音 {stored.name} 第{stored.version}版（{_seconds(stored.duration_ms)}）"
    return redirect("/admin/prompts?msg=" + urllib.parse.quote(msg))


@route("POST", "/admin/prompts/upload", perm="ivr.admin", summary="上传语音文件", max_body=UPLOAD_LIMIT)
def prompt_upload(ctx: Ctx) -> bottle.HTTPResponse:
    upload = ctx.files.get("file")
    if upload is None:
        return prompts_page(ctx, "请选择要上传的音频文件（表单须为 multipart/form-data）", 400)
    name = ctx.field("name").strip()
    try:
        stored = promptlib.save_upload(name, upload.data, ctx.username)
    except promptlib.PromptRefused as exc:
        log.info("web: prompt upload %r (%r, %d bytes) by %s refused: %s", name, upload.filename,
                 len(upload.data), ctx.username, exc)
        promptstore.note_refused(name, str(exc), ctx.username, size=len(upload.data), source="upload")
        return prompts_page(ctx, f"上传被拒绝：{exc}（原有语音未改变）", 400)
    except InvalidInput as exc:
        return prompts_page(ctx, f"上传被拒绝：{exc}", 400)
    return _saved(stored)


@route("POST", "/admin/prompts/tts", perm="ivr.admin", summary="文字转语音")
def prompt_tts(ctx: Ctx) -> bottle.HTTPResponse:
    try:
        stored = promptlib.save_tts(ctx.field("name").strip(), ctx.field("text"), ctx.username)
    except InvalidInput as exc:
        return prompts_page(ctx, f"生成失败：{exc}（原有语音未改变）", 400)
    return _saved(stored)


@route("GET", "/admin/prompts/<pid:int>/audio", perm="ivr.admin", summary="试听语音")
def prompt_audio(ctx: Ctx) -> bottle.HTTPResponse:
    stored = promptstore.get(int(ctx.args["pid"]))
    path = stored.path()
    try:
        data = off_hub(path.read_bytes)                 # up to 2.4 MB (300 s): off the hub
    except OSError:
        log.warning("web: prompt %d: file %s is missing", stored.id, path)
        raise NotFound("语音文件不存在") from None
    return audio_response(data, f"prompt-{stored.id}.wav")


# ---- call flows ---------------------------------------------------------------------------------------


def _problems_html(problems: list[str]) -> str:
    if not problems:
        return ""
    return '<ul class="problems">' + "".join(f"<li>{e(p)}</li>" for p in problems) + "</ul>"


def _versions_html(ctx: Ctx, flow_id: str, can_act: bool) -> str:
    rows = []
    for v in flowstore.list_versions(flow_id):
        state = "已启用" if v.active else ("有效" if v.valid else "无效")
        act = ""
        if can_act and not v.active:
            act = (f'<form method="post" action="/admin/flows/activate" class="inline">{csrf_field(ctx)}'
                   f'<input type="hidden" name="version" value="{v.version}">'
                   f'<button type="submit">启用</button></form>')
        rows.append(
            f'<tr id="flow-{e(flow_id)}-v{v.version}" class="{"active" if v.active else ""}">'
            f"<td>第{v.version}版</td><td>{e(v.created_at)}</td><td>{e(v.created_by)}</td>"
            f'<td class="state">{state}</td><td>{_problems_html(v.problems)}</td>'
            f'<td>{act} <a href="/admin/flows/{v.version}.json?flow={urllib.parse.quote(flow_id)}">'
            "下载</a></td>"
            "</tr>")
    return "".join(rows)


def flows_page(ctx: Ctx, error: str = "", problems: list[str] | None = None,
               status: int = 200) -> bottle.HTTPResponse:
    running = _runtime.flow_id if _runtime is not None else None
    flows = flowstore.list_flows()
    if running is not None and running not in flows:
        flows.insert(0, running)
    sections = []
    for flow_id in flows:
        live = "（运行中）" if flow_id == running else ""
        sections.append(
            f'<h2>流程 {e(flow_id)}{live}</h2><table class="list" id="versions-{e(flow_id)}"><thead><tr>'
            "<th>版本</th><th>保存时间</th><th>保存人</th><th>状态</th><th>校验结果</th><th>操作</th></tr>"
            f"</thead><tbody>{_versions_html(ctx, flow_id, flow_id == running)}</tbody></table>")
    upload = ""
    if running is not None:
        upload = f"""<form method="post" action="/admin/flows/upload" enctype="multipart/form-data"
 class="card" id="flow-upload">{csrf_field(ctx)}<h2>上传流程（JSON）</h2>
<p>保存为流程 {e(running)} 的新版本并校验；校验通过后可启用，新来电使用新版本，通话中的来电不受影响。</p>
<label>流程文件 <input name="flow" id="flow-file" type="file" required
 accept=".json,application/json"></label>
<button type="submit" id="flow-submit">上传并校验</button></form>"""
    else:
        upload = '<p class="error">IVR未启用（配置文件 [ivr] enabled = true），流程只能查看。</p>'
    body = _note(ctx, error) + _problems_html(problems or []) + upload + "".join(sections)
    return page(ctx, "IVR流程", body, status, body_class="wide")


@route("GET", "/admin/flows", perm="ivr.admin", summary="IVR流程与版本")
def flows_list(ctx: Ctx) -> bottle.HTTPResponse:
    return flows_page(ctx)


@route("GET", "/admin/flows/<version:int>.json", perm="ivr.admin", summary="下载流程版本")
def flow_download(ctx: Ctx) -> bottle.HTTPResponse:
    flow_id = ctx.query.get("flow", "") or (_runtime.flow_id if _runtime is not None else "default")
    stored = flowstore.get_version(flow_id, int(ctx.args["version"]))
    if stored is None:
        raise NotFound("流程版本不存在")
    res = response(stored.body, 200, "application/json; charset=utf-8")
    res.set_header("Content-Disposition", f'attachment; filename="flow-v{stored.version}.json"')
    return res


@route("POST", "/admin/flows/upload", perm="ivr.admin", summary="上传流程JSON", max_body=FLOW_LIMIT)
def flow_upload(ctx: Ctx) -> bottle.HTTPResponse:
    runtime = _need_runtime()
    upload = ctx.files.get("flow")
    if upload is None:
        return flows_page(ctx, "请选择流程文件（JSON）", status=400)
    try:
        text = upload.data.decode("utf-8")
        json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return flows_page(ctx, "流程文件不是有效的UTF-8 JSON，未保存", status=400)
    try:
        version, problems = runtime.save(text, by=ctx.username)
    except (FlowError, flowstore.FlowStoreError) as exc:
        return flows_page(ctx, f"流程未保存：{exc}", status=400)
    if problems:
        return flows_page(ctx, f"已保存为第{version}版，但校验未通过，不能启用：",
                          [str(p) for p in problems], 400)
    return redirect("/admin/flows?msg=" + urllib.parse.quote(f"已保存第{version}版，校验通过，可以启用"))


@route("POST", "/admin/flows/activate", perm="ivr.admin", summary="启用流程版本")
def flow_activate(ctx: Ctx) -> bottle.HTTPResponse:
    runtime = _need_runtime()
    raw = ctx.field("version")
    if not raw.isdigit():
        raise WebError(400, "版本号无效")
    try:
        runtime.activate(int(raw), by=ctx.username)
    except FlowInvalid as exc:
        return flows_page(ctx, f"第{raw}版校验未通过，不能启用：", [str(p) for p in exc.problems], 400)
    except flowstore.FlowStoreError as exc:
        return flows_page(ctx, f"不能启用：{exc}", status=400)
    return redirect("/admin/flows?msg=" + urllib.parse.quote(f"已启用第{raw}版：新来电使用此版本"))
