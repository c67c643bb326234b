"""The prompt library: uploads judged by content, converted to the line format, versioned, heard by
callers in preference to the built-in set; refusals in Chinese that change nothing; TTS."""

from __future__ import annotations

import datetime as _dt
import logging
import struct
from pathlib import Path

import pytest
from gevent import subprocess

from appliance.crm import audit, promptstore
from appliance.crm.common import InvalidInput
from appliance.ivr import promptlib
from appliance.voiceboard.prompts import LayeredPrompts, PromptSet, check_line_wav

from .caller import make_site

NOW = _dt.datetime(2026, 12, 2, 10, 0)


def sox(*args: str) -> None:
    subprocess.run(["sox", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, test_prompts: PromptSet) -> dict[str, bytes]:
    """Real files in the formats an administrator brings: CD-quality stereo WAV, float WAV, MP3,
    and the DTMF code of the test prompt "thanks" resampled (a caller's far end can still hear it)."""
    d = tmp_path_factory.mktemp("media")
    thanks = test_prompts.require("thanks")
    sox("-n", "-r", "44100", "-c", "2", "-b", "16", str(d / "cd.wav"), "synth", "2.0", "sine", "440")
    sox("-n", "-r", "48000", "-c", "1", "-e", "floating-point", "-b", "32", str(d / "float.wav"),
        "synth", "0.5", "sine", "300")
    sox("-n", "-r", "22050", "-c", "1", str(d / "tone.mp3"), "synth", "1.5", "sine", "500")
    sox(thanks, "-r", "16000", "-c", "2", "-e", "signed", "-b", "16", str(d / "thanks16.wav"))
    sox(thanks, "-r", "16000", "-c", "1", "-C", "64", str(d / "thanks.mp3"))
    return {p.name: p.read_bytes() for p in d.iterdir()}


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.rglob("*") if p.is_file()} if directory.exists() else set()


@pytest.mark.parametrize(("name", "kind", "ms"), [("cd.wav", "wav", 2000), ("float.wav", "wav", 500),
                                                  ("tone.mp3", "mp3", 1500)])
def test_upload_is_converted_to_line_format_and_indexed(data_dir: Path, media: dict[str, bytes], name: str,
                                                        kind: str, ms: int) -> None:
    stored = promptlib.save_upload("welcome", media[name], "admin")
    assert (stored.name, stored.version, stored.source) == ("welcome", 1, "upload")
    assert stored.original_type == kind
    path = stored.path()
    assert path.parent == (data_dir / "prompts").resolve()
    assert path.name != name and path.suffix == ".wav"          # a name we generated
    info = check_line_wav(path)                                  # 8 kHz mono A-law
    assert abs(info.duration_ms - ms) < 120, info
    assert promptstore.current()["welcome"].id == stored.id
    entry = audit.recent(5)[0]
    assert (entry.action, entry.actor, entry.target) == ("ivr.prompt.add", "admin", "prompt:welcome@v1")


def _bad_uploads(media: dict[str, bytes]) -> dict[str, tuple[bytes, str]]:
    wav, mp3 = media["cd.wav"], media["tone.mp3"]
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 4000 + b"This program..."
    bogus_fmt = bytearray(wav)
    struct.pack_into("<H", bogus_fmt, 20, 0x55)                 # fmt tag of MPEG-in-WAV: not ours
    return {
        "exe renamed .wav": (exe, "不是WAV或MP3"),
        "text": ("这不是音频".encode() * 50, "不是WAV或MP3"),
        "empty": (b"", "文件为空"),
        "truncated wav": (wav[: len(wav) // 2], "已截断"),
        "truncated mp3": (mp3[: len(mp3) // 2 + 7], "已截断"),
        "corrupt mp3": (mp3[:2000] + b"\x00" * 300 + mp3[2300:], "MP3文件损坏"),
        "riff but not wave": (b"RIFF\x10\x00\x00\x00AVI LIST" + b"\x00" * 100, "不是WAV"),
        "unknown wav coding": (bytes(bogus_fmt), "不支持的WAV编码"),
        "oversize": (b"RIFF" + b"\x00" * promptlib.MAX_BYTES, "文件太大"),
    }


def test_bad_uploads_are_refused_in_chinese_and_the_previous_version_stays(
        data_dir: Path, media: dict[str, bytes]) -> None:
    first = promptlib.save_upload("menu", media["cd.wav"], "admin")
    before = files_in(data_dir / "prompts")
    for what, (data, needle) in _bad_uploads(media).items():
        with pytest.raises(promptlib.PromptRefused) as refused:
            promptlib.save_upload("menu", data, "admin")
        assert needle in str(refused.value), (what, str(refused.value))
        assert promptstore.current()["menu"].id == first.id, what
        assert files_in(data_dir / "prompts") == before, f"{what} left a file behind"
    assert check_line_wav(first.path()).duration_ms > 1900
    assert [v.version for v in promptstore.versions("menu")] == [1]


def test_too_long_and_names_that_look_like_paths_are_refused(data_dir: Path) -> None:
    long_wav = data_dir / "long.wav"
    sox("-n", "-r", "8000", "-c", "1", "-e", "u-law", str(long_wav), "synth", str(promptlib.MAX_SECONDS + 5),
        "sine", "400")
    with pytest.raises(promptlib.PromptRefused, match="语音太长"):
        promptlib.save_upload("hold", long_wav.read_bytes(), "admin")
    for name in ("../../etc/passwd", "welcome.wav", "/tmp/x", "Welcome", "", "a" * 41, "欢迎"):
        with pytest.raises(InvalidInput, match="语音名称无效"):
            promptlib.save_upload(name, b"RIFF", "admin")
    assert promptstore.count() == 0 and not (data_dir / "etc").exists()


def test_tts_speaks_chinese_text_into_a_prompt(data_dir: Path) -> None:
    text = "各位用户：明天上午九点至十二点停气检修。"
    stored = promptlib.save_tts("notice_gas", text, "admin")
    assert (stored.source, stored.text, stored.original_type) == ("tts", text, "tts")
    assert check_line_wav(stored.path()).duration_ms > 1000
    for text, needle in (("   ", "请输入"), ("x" * (promptlib.MAX_TTS_CHARS + 1), "文字太长"),
                         ("停气\x07通知", "控制字符")):
        with pytest.raises(promptlib.PromptRefused, match=needle):
            promptlib.save_tts("notice_gas", text, "admin")
    assert [v.version for v in promptstore.versions("notice_gas")] == [1]


def test_tts_that_takes_too_long_is_stopped(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(promptlib, "TTS_TIMEOUT", 0.001)
    with pytest.raises(promptlib.PromptRefused, match="语音合成超时"):
        promptlib.save_tts("notice_gas", "停气通知" * 50, "admin")
    assert promptstore.count() == 0


def hello_flow() -> dict[str, object]:
    return {"id": "default", "version": 0, "start": "hello", "nodes": {
        "hello": {"type": "play", "prompts": ["welcome"], "next": "end", "barge_in": False},
        "end": {"type": "hangup", "prompts": ["goodbye"]},
    }}


@pytest.mark.parametrize("upload", ["thanks16.wav", "thanks.mp3"])
def test_callers_hear_the_uploaded_prompt_instead_of_the_built_in_one(
        test_prompts: PromptSet, data_dir: Path, media: dict[str, bytes], upload: str,
        caplog: pytest.LogCaptureFixture) -> None:
    library = promptlib.Library(test_prompts)
    site = make_site(library.prompts, data_dir, "fxo:2,fxs:1", NOW)
    try:
        version, problems = site.runtime.save(hello_flow())
        assert not problems
        site.runtime.activate(version)
        c = site.caller()
        c.call()
        assert c.expect("welcome", "goodbye") == ["welcome", "goodbye"]     # the built-in set
        c.wait_ended()
        # the administrator replaces "welcome" with a recording (here: one that sounds like "thanks")
        stored = promptlib.save_upload("welcome", media[upload], "admin")
        c = site.caller(1)
        c.call()
        assert c.expect("thanks", "goodbye") == ["thanks", "goodbye"]
        c.wait_ended()
        # the file disappears (disk trouble): logged, the built-in prompt plays, the call goes on
        caplog.set_level(logging.WARNING)
        stored.path().unlink()
        c = site.caller()
        c.call()
        assert c.expect("welcome", "goodbye") == ["welcome", "goodbye"]
        c.wait_ended()
        assert any("uploaded file" in r.getMessage() and "missing" in r.getMessage() for r in caplog.records)
    finally:
        site.stop()


def test_layered_names_let_a_flow_use_a_new_uploaded_prompt(test_prompts: PromptSet, data_dir: Path,
                                                            media: dict[str, bytes]) -> None:
    layered = LayeredPrompts(test_prompts)
    assert "outage_notice" not in layered
    library = promptlib.Library(test_prompts)
    promptlib.save_upload("outage_notice", media["cd.wav"], "admin")
    assert "outage_notice" in library.prompts and "outage_notice" in library.prompts.names
    assert library.prompts.path("outage_notice") == str(promptstore.current()["outage_notice"].path())
    assert library.prompts.path("menu") == test_prompts.path("menu")
    assert len(library.prompts) == len(test_prompts) + 1


def test_the_service_plays_a_prompt_uploaded_while_it_runs(tmp_path: Path, test_prompts: PromptSet,
                                                           media: dict[str, bytes]) -> None:
    """The running appliance: an upload (what the 语音库 page calls) is heard by the next caller,
    through the IVR's default flow, without a restart."""
    from appliance.service import Service, load_config
    from appliance.voiceboard.events import CidFormat
    from appliance.voiceboard.prompts import decode_heard
    from appliance.voiceboard.sim import exchange_hangup, ring_in

    from .caller import wait_for
    from .test_service_ivr import config

    ivr = '[ivr]\nenabled = true\ntransfer_allow = ["95001", "95002"]\n[web]\nport = 0\n'
    svc = Service(load_config(config(tmp_path, test_prompts, ivr)))
    svc.start()
    try:
        assert svc.far_board is not None
        exch = svc.far_board.channels[0]

        def greeting() -> list[str]:
            exch.heard = ""
            ring_in(exch, "13800138000", "", CidFormat.DTMF, timeout=20)
            wait_for(lambda: len(decode_heard(exch.heard)) >= 2, 15, "the IVR greeting")
            heard = decode_heard(exch.heard)[:2]
            exchange_hangup(exch, "busy")
            wait_for(lambda: not svc.board.channels[0].busy and not svc.board.channels[0].status()["hook"],
                     15, "our trunk on-hook again")
            exch.release("caller done")
            wait_for(lambda: not exch.status()["hook"], 5, "the exchange sees the line on-hook")
            return heard

        assert greeting() == ["welcome", "record_notice"]
        promptlib.save_upload("welcome", media["thanks16.wav"], "admin")
        assert greeting() == ["thanks", "record_notice"]
    finally:
        svc.stop()
