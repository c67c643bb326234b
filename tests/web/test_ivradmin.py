"""The IVR administration pages and the voicemail list through the web app: uploads (good and bad),
text to speech, listening by id, flow versions with the validator's messages, activation, messages."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from gevent import subprocess

from appliance.crm import audit, flowstore, messages, promptstore
from appliance.ivr import promptlib
from appliance.ivr.crmbind import CrmBinding
from appliance.ivr.flow import default_flow
from appliance.ivr.registry import Registry
from appliance.ivr.runtime import IvrRuntime
from appliance.ivr.services import register_crm_lookups
from appliance.voiceboard.board import Board
from appliance.voiceboard.prompts import PromptSet, build_test_set
from appliance.web import ivradmin
from appliance.web.app import App

from .client import Client, Result
from .conftest import World, logged_in
from .test_input import clean_error


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "----rexian" + secrets.token_hex(8)
    out = b""
    for k, v in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'
        out += head.encode() + v.encode() + b"\r\n"
    for k, (filename, data) in files.items():
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def upload(c: Client, path: str, fields: dict[str, str], files: dict[str, tuple[str, bytes]],
           csrf: bool = True) -> Result:
    if csrf:
        fields = {**fields, "csrf": c.csrf}
    body, ctype = multipart(fields, files)
    return c.request("POST", path, body, ctype)


@pytest.fixture(scope="module")
def wav(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("wav") / "hello.wav"
    subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", "-b", "16", str(out), "synth", "1.0", "sine",
                    "440"], check=True)
    return out.read_bytes()


@pytest.fixture
def admin(app: App, world: World) -> Client:
    return logged_in(app, "admin")


def test_admin_uploads_a_prompt_lists_and_listens_to_it(admin: Client, app: App, wav: bytes,
                                                        data_dir: Path) -> None:
    res = upload(admin, "/admin/prompts/upload", {"name": "welcome"}, {"file": ("欢迎词 v2.wav", wav)})
    assert res.status == 303, res.text[:300]
    page = admin.get(res.header("Location"))
    assert page.status == 200 and "已保存语音 welcome 第1版" in page.text
    assert 'id="prompt-welcome"' in page.text and "替换内置语音" in page.text
    stored = promptstore.current()["welcome"]
    audio = admin.get(f"/admin/prompts/{stored.id}/audio")
    assert audio.status == 200 and audio.header("Content-Type") == "audio/wav"
    assert audio.body[:4] == b"RIFF" and audio.body == stored.path().read_bytes()
    assert audio.header("Content-Disposition") == f'inline; filename="prompt-{stored.id}.wav"'
    assert audio.header("X-Content-Type-Options") == "nosniff"
    assert clean_error(admin.get("/admin/prompts/9999/audio"), 404)
    supervisor = logged_in(app, "u-supervisor")
    assert supervisor.get("/admin/prompts").status == 200
    for role in ("agent", "team_leader", "technician", "maintenance"):
        c = logged_in(app, f"u-{role}")
        assert c.get(f"/admin/prompts/{stored.id}/audio").status == 403
        assert upload(c, "/admin/prompts/upload", {"name": "welcome"}, {"file": ("x.wav", wav)}).status == 403
    assert [v.version for v in promptstore.versions("welcome")] == [1]


def test_bad_uploads_are_refused_and_nothing_is_lost(admin: Client, wav: bytes, data_dir: Path) -> None:
    assert upload(admin, "/admin/prompts/upload", {"name": "menu"}, {"file": ("menu.wav", wav)}).status == 303
    first = promptstore.current()["menu"]
    exe = b"MZ\x90\x00" + b"\x00" * 5000
    cases = [
        ({"name": "menu"}, {"file": ("menu.wav", exe)}, 400, "不是WAV或MP3"),
        ({"name": "menu"}, {"file": ("menu.mp3", wav[:9000])}, 400, "已截断"),
        ({"name": "../../../etc/passwd"}, {"file": ("menu.wav", wav)}, 400, "语音名称无效"),
        ({"name": "menu"}, {}, 400, "请选择"),
    ]
    for fields, files, status, needle in cases:
        text = clean_error(upload(admin, "/admin/prompts/upload", fields, files), status)
        assert needle in text, (fields, needle)
    refused = [a for a in audit.recent(20) if a.action == "ivr.prompt.refused"]
    assert len(refused) == 2 and all(a.actor == "admin" for a in refused)       # the exe, the truncated
    # a traversal-looking file name is only ever displayed: the content is fine, the file is ours
    res = upload(admin, "/admin/prompts/upload", {"name": "menu"},
                 {"file": ("../../../../tmp/evil\x00.wav", wav)})
    assert res.status == 303
    second = promptstore.current()["menu"]
    assert second.version == 2 and second.file.startswith("prompts/") and "evil" not in second.file
    assert not (data_dir.parent / "tmp").exists() and not Path("/tmp/evil.wav").exists()
    assert first.path().is_file()                                   # the previous version is kept
    # oversize: refused before it is read, with the limit in the message
    big = b"RIFF" + b"\x00" * (ivradmin.UPLOAD_LIMIT + 10)
    assert "过大" in clean_error(upload(admin, "/admin/prompts/upload", {"name": "menu"},
                                        {"file": ("big.wav", big)}), 413)
    # no CSRF token: refused, nothing stored
    text = clean_error(upload(admin, "/admin/prompts/upload", {"name": "menu"}, {"file": ("m.wav", wav)},
                              csrf=False), 403)
    assert "CSRF" in text
    # malformed multipart, and multipart where no upload is accepted
    res = admin.request("POST", "/admin/prompts/upload", b"--x\r\nnonsense",
                        "multipart/form-data; boundary=x")
    clean_error(res, 400)
    body, ctype = multipart({"csrf": admin.csrf, "text": "x", "name": "menu"}, {})
    clean_error(admin.request("POST", "/admin/prompts/tts", body, ctype), 415)
    assert [v.version for v in promptstore.versions("menu")] == [2, 1]


def test_tts_from_the_page(admin: Client, data_dir: Path) -> None:
    res = admin.post("/admin/prompts/tts", {"name": "outage", "text": "今天下午两点到五点停水。"})
    assert res.status == 303, res.text[:300]
    page = admin.get("/admin/prompts")
    assert 'id="prompt-outage"' in page.text and "新增语音" in page.text
    assert "今天下午两点到五点停水" in page.text
    assert "请输入" in clean_error(admin.post("/admin/prompts/tts", {"name": "outage", "text": " "}), 400)
    assert [v.version for v in promptstore.versions("outage")] == [1]


# ---- flows ----------------------------------------------------------------------------------------


@pytest.fixture
def runtime(data_dir: Path, tmp_path: Path) -> Iterator[IvrRuntime]:
    build_test_set(tmp_path / "prompts")
    board = Board("webivr", "fxo:1,fxs:1")          # never started: the pages need no call
    library = promptlib.Library(PromptSet(tmp_path / "prompts"))
    registry = Registry()
    register_crm_lookups(registry, CrmBinding())    # the real CRM, as the service wires it
    rt = IvrRuntime(board, library.prompts, data_dir, registry=registry, allow=("95001", "95002"))
    rt.load()
    ivradmin.bind(rt)
    yield rt
    ivradmin.bind(None)


def test_flow_versions_upload_validate_and_activate(admin: Client, runtime: IvrRuntime) -> None:
    page = admin.get("/admin/flows")
    assert page.status == 200 and "流程 default（运行中）" in page.text and "已启用" in page.text
    good = json.loads(default_flow().to_json())
    good["description"] = "第二版"
    res = upload(admin, "/admin/flows/upload", {}, {"flow": ("flow.json", json.dumps(good).encode())})
    assert res.status == 303 and "校验通过" in admin.get(res.header("Location")).text
    bad = {"id": "default", "start": "hello", "nodes": {
        "hello": {"type": "play", "prompts": ["no_such_prompt"], "next": "nowhere"}}}
    res = upload(admin, "/admin/flows/upload", {}, {"flow": ("bad.json", json.dumps(bad).encode())})
    text = clean_error(res, 400)
    assert "校验未通过" in text and "节点 hello" in text
    versions = {v.version: v for v in flowstore.list_versions("default")}
    assert set(versions) == {1, 2, 3} and versions[2].valid and not versions[3].valid
    # activating the invalid version is refused with its reasons; the active one stays
    text = clean_error(admin.post("/admin/flows/activate", {"version": "3"}), 400)
    assert "不能启用" in text and "节点 hello" in text
    def active() -> int:
        stored = flowstore.get_active("default")
        assert stored is not None and runtime.active is not None
        assert runtime.active.version == stored.version      # the running IVR and the database agree
        return stored.version

    assert active() == 1
    res = admin.post("/admin/flows/activate", {"version": "2"})
    assert res.status == 303
    assert active() == 2
    assert audit.recent(5)[0].action == "ivr.flow.activate"
    assert "不是有效的UTF-8 JSON" in clean_error(
        upload(admin, "/admin/flows/upload", {}, {"flow": ("x.json", b"{not json")}), 400)
    assert clean_error(admin.post("/admin/flows/activate", {"version": "99"}), 400)
    assert clean_error(admin.post("/admin/flows/activate", {"version": "../1"}), 400)
    download = admin.get("/admin/flows/2.json")
    assert download.status == 200 and json.loads(download.body)["description"] == "第二版"


def test_flows_without_a_running_ivr_are_read_only(admin: Client) -> None:
    page = admin.get("/admin/flows")
    assert page.status == 200 and "IVR未启用" in page.text
    assert "IVR未启用" in clean_error(admin.post("/admin/flows/activate", {"version": "1"}), 409)


# ---- voicemail ---------------------------------------------------------------------------------------


def test_voicemail_list_listen_and_mark_handled(app: App, world: World, data_dir: Path, wav: bytes) -> None:
    rec = data_dir / "voicemail" / "20261202-100000-0-1.wav"
    rec.parent.mkdir(parents=True)
    rec.write_bytes(wav)
    m = messages.add_message("20261202-100000-0-1", "13912345678", "repair", 4200, str(rec))
    agent = logged_in(app, "u-agent")
    page = agent.get("/voicemail")
    assert page.status == 200 and "13912345678" in page.text and "报修" in page.text and "0:04" in page.text
    audio = agent.get(f"/voicemail/{m.id}/audio")
    assert audio.status == 200 and audio.body == wav and audio.header("Content-Type") == "audio/wav"
    assert audit.recent(3)[0].action == "ivr_message_played"
    assert agent.post(f"/voicemail/{m.id}/handled").status == 303
    assert messages.list_messages(unheard_only=True) == []
    assert "已处理" in agent.get("/voicemail").text
    assert clean_error(agent.post("/voicemail/999/handled"), 400)
    assert clean_error(agent.get("/voicemail/999/audio"), 404)
    assert clean_error(agent.post(f"/voicemail/{m.id}/handled", csrf=False), 403)
    tech = logged_in(app, "u-technician")
    assert tech.get(f"/voicemail/{m.id}/audio").status == 403
