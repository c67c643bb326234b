"""The prompt library: prompts an administrator uploads (WAV or MP3) or has spoken from text (TTS).

An upload is judged by its CONTENT, never its file name: RIFF/WAVE with a complete ``fmt`` and
``data`` chunk, or an MPEG-1/2/2.5 Layer III stream whose frames are walked end to end (an optional
ID3v2 tag first, an ID3v1 tag last). Size and duration are bounded before anything is converted.
sox (a subprocess, with a timeout: off the hub) converts it to the line format, 8 kHz mono A-law
WAV, and the result is checked again. The file is written under ``<data dir>/prompts/`` with a name
this module generates, then indexed (``crm.promptstore``, audited) as the next version of the
prompt; what played before stays until that commit, and a refused upload changes nothing.

Calls hear the library through ``LayeredPrompts`` (voiceboard): the built-in set with the newest
version of each uploaded name on top. ``Library`` keeps that layer in step with the database;
every Library of the process is refreshed after each save.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import struct
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

import gevent
from gevent import subprocess

from appliance.crm import promptstore
from appliance.crm.common import InvalidInput
from appliance.crm.db import data_dir, off_hub
from appliance.voiceboard.prompts import TEST_PROMPTS, LayeredPrompts, PromptError, PromptSet, check_line_wav

log = logging.getLogger(__name__)

MAX_BYTES = 8 * 1024 * 1024         # an upload larger than this is refused unread
MAX_SECONDS = 300                   # music on hold may be long; nothing plays longer
MAX_TTS_CHARS = 300
CONVERT_TIMEOUT = 60.0              # seconds for sox
TTS_TIMEOUT = 30.0                  # seconds for espeak-ng
TTS_VOICE = "cmn"                   # espeak-ng's Mandarin ("zh")
TTS_SPEED = 160
BUILTIN_NAMES: tuple[str, ...] = TEST_PROMPTS   # the names of the built-in sets

_WAV_FORMATS = {1: "PCM", 3: "浮点", 6: "A律", 7: "μ律"}
_WAVE_EXTENSIBLE = 0xFFFE


class PromptRefused(InvalidInput):
    """An upload or text was refused; the message (Chinese) says why. Nothing was changed."""


@dataclass(frozen=True)
class Probe:
    kind: str               # "wav" or "mp3"
    duration_ms: int
    detail: str             # for the administrator: "44100 Hz 2 声道 PCM 16 位"


# ---- content checks (pure functions on bytes) -------------------------------------------------------


def probe_wav(data: bytes) -> Probe:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise PromptRefused("不是WAV文件")
    pos = 12
    fmt: tuple[int, int, int, int, int] | None = None
    data_bytes: int | None = None
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body_end = pos + 8 + size
        if chunk == b"fmt ":
            if size < 16 or body_end > len(data):
                raise PromptRefused("WAV文件损坏：格式块不完整")
            tag, channels, rate, _byte_rate, align, bits = struct.unpack_from("<HHIIHH", data, pos + 8)
            if tag == _WAVE_EXTENSIBLE and size >= 26:
                (tag,) = struct.unpack_from("<H", data, pos + 8 + 24)
            fmt = (tag, channels, rate, align, bits)
        elif chunk == b"data":
            if fmt is None:
                raise PromptRefused("WAV文件损坏：数据块在格式块之前")
            if body_end > len(data):
                raise PromptRefused("WAV文件不完整（已截断）")
            data_bytes = size
            break
        pos = body_end + (size & 1)
    if fmt is None or data_bytes is None:
        raise PromptRefused("WAV文件损坏：缺少格式块或数据块")
    tag, channels, rate, align, bits = fmt
    if tag not in _WAV_FORMATS:
        raise PromptRefused(f"不支持的WAV编码（格式 {tag}）：请用PCM、浮点、A律或μ律")
    if not 1 <= channels <= 8 or not 4000 <= rate <= 192000 or bits not in (8, 16, 24, 32, 64) or align < 1:
        raise PromptRefused("WAV文件头无效（声道、采样率或位数不合理）")
    if data_bytes == 0:
        raise PromptRefused("WAV文件没有声音数据")
    duration_ms = data_bytes * 1000 // (align * rate)
    return Probe("wav", duration_ms, f"{rate} Hz {channels} 声道 {_WAV_FORMATS[tag]} {bits} 位")


_MP3_BITRATES = {  # kbit/s by (MPEG-1?, index 1..14), Layer III
    True: (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    False: (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame(data: bytes, pos: int) -> tuple[int, int, int]:
    """(frame length, samples, rate) of the Layer III frame header at ``pos``; ValueError if none."""
    if pos + 4 > len(data):
        raise ValueError("short")
    b1, b2, b3 = data[pos + 1], data[pos + 2], data[pos + 3]
    if data[pos] != 0xFF or (b1 & 0xE0) != 0xE0:
        raise ValueError("no sync")
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    br_index, sr_index, padding = b2 >> 4, (b2 >> 2) & 3, (b2 >> 1) & 1
    if version == 1 or layer != 1 or not 1 <= br_index <= 14 or sr_index == 3 or (b3 & 3) == 2:
        raise ValueError("bad header")
    mpeg1 = version == 3
    bitrate = _MP3_BITRATES[mpeg1][br_index - 1] * 1000
    rate = _MP3_RATES[version][sr_index]
    samples = 1152 if mpeg1 else 576
    length = samples // 8 * bitrate // rate + padding
    return length, samples, rate


def probe_mp3(data: bytes) -> Probe:
    pos = 0
    if data[:3] == b"ID3":
        if len(data) < 10:
            raise PromptRefused("MP3文件不完整（已截断）")
        size = 0
        for b in data[6:10]:
            if b & 0x80:
                raise PromptRefused("MP3文件损坏：ID3标签无效")
            size = size << 7 | b
        pos = 10 + size + (10 if data[5] & 0x10 else 0)
    end = len(data)
    if end - pos >= 128 and data[end - 128:end - 125] == b"TAG":
        end -= 128                                      # ID3v1 tag at the end
    frames = 0
    samples_total = 0
    rate = 0
    while pos < end:
        try:
            length, samples, rate = _mp3_frame(data, pos)
        except ValueError:
            if frames == 0:
                raise PromptRefused("不是MP3文件") from None
            raise PromptRefused(f"MP3文件损坏：第{frames}帧之后的数据无效") from None
        if pos + length > end:
            raise PromptRefused("MP3文件不完整（已截断）")
        pos += length
        frames += 1
        samples_total += samples
    if frames < 2:
        raise PromptRefused("MP3文件没有声音数据")
    return Probe("mp3", samples_total * 1000 // rate, f"MP3 {rate} Hz {frames} 帧")


def probe(data: bytes) -> Probe:
    """What the upload is, from its content; PromptRefused (Chinese) for anything else."""
    if not data:
        raise PromptRefused("文件为空")
    if len(data) > MAX_BYTES:
        raise PromptRefused(f"文件太大：最大 {MAX_BYTES // (1024 * 1024)} MB")
    if data[:4] == b"RIFF":
        found = probe_wav(data)
    elif data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        found = probe_mp3(data)
    else:
        raise PromptRefused("文件内容不是WAV或MP3音频（按内容判断，与文件名无关）")
    if found.duration_ms > MAX_SECONDS * 1000:
        raise PromptRefused(f"语音太长：{found.duration_ms // 1000} 秒，最长 {MAX_SECONDS} 秒")
    if found.duration_ms < 50:
        raise PromptRefused("语音太短")
    return found


# ---- conversion (subprocesses: the hub waits cooperatively) ---------------------------------------------


def _run(argv: list[str], timeout: float, what: str) -> None:
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, timeout=timeout)
    except FileNotFoundError:
        raise PromptRefused(f"{what}程序未安装（./build.sh deps）") from None
    except subprocess.TimeoutExpired:
        raise PromptRefused(f"{what}超时（{timeout:.0f} 秒）") from None
    if done.returncode != 0:
        log.info("prompts: %s failed (%d): %s", argv[0], done.returncode,
                 done.stderr.decode(errors="replace").strip()[:300])
        raise PromptRefused(f"{what}失败：音频数据损坏或无法解码")


def _convert(source: Path, out: Path, kind: str) -> int:
    """sox ``source`` -> 8 kHz mono A-law WAV ``out``; its duration in ms (checked)."""
    _run(["sox", "-V1", "-t", kind, str(source), "-r", "8000", "-c", "1", "-e", "a-law", "-b", "8",
          "-t", "wav", str(out)], CONVERT_TIMEOUT, "格式转换")
    try:
        info = check_line_wav(out)
    except PromptError:
        raise PromptRefused("格式转换失败：没有得到有效的语音") from None
    if info.duration_ms < 50:
        raise PromptRefused("转换后没有声音（文件可能已损坏）")
    return info.duration_ms


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _new_file() -> tuple[str, Path]:
    rel = f"{promptstore.PROMPT_DIR}/{secrets.token_hex(16)}.wav"
    return rel, data_dir() / rel


def _store(name: str, converted: Path, *, source: str, original_type: str, original_bytes: int,
           duration_ms: int, text: str, by: str) -> promptstore.StoredPrompt:
    rel, final = _new_file()
    digest = off_hub(lambda: hashlib.sha256(converted.read_bytes()).hexdigest())
    os.replace(converted, final)
    try:
        stored = promptstore.add_version(name, rel, source=source, original_type=original_type,
                                         original_bytes=original_bytes, duration_ms=duration_ms,
                                         sha256=digest, text=text, created_by=by)
    except BaseException:
        final.unlink(missing_ok=True)
        raise
    refresh_all()
    log.warning("prompts: %s v%d (%s, %d ms) by %s", name, stored.version, source, duration_ms, by)
    return stored


def _workdir() -> tempfile.TemporaryDirectory[str]:
    base = promptstore.prompt_dir()
    base.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=".upload-", dir=base)


def save_upload(name: str, data: bytes, by: str) -> promptstore.StoredPrompt:
    """Check, convert and store an uploaded file as the next version of prompt ``name``."""
    promptstore.check_name(name)
    if len(data) > MAX_BYTES:
        raise PromptRefused(f"文件太大：最大 {MAX_BYTES // (1024 * 1024)} MB")
    found = off_hub(probe, data)            # walking the frames of 8 MB is CPU work: off the hub
    with _workdir() as tmp:
        source = Path(tmp) / f"in.{found.kind}"
        off_hub(_write, source, data)
        out = Path(tmp) / "out.wav"
        duration = _convert(source, out, found.kind)
        if duration > (MAX_SECONDS + 1) * 1000:
            raise PromptRefused(f"语音太长：最长 {MAX_SECONDS} 秒")
        return _store(name, out, source="upload", original_type=found.kind, original_bytes=len(data),
                      duration_ms=duration, text="", by=by)


def check_text(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        raise PromptRefused("请输入要朗读的文字")
    if len(text) > MAX_TTS_CHARS:
        raise PromptRefused(f"文字太长：最多 {MAX_TTS_CHARS} 个字")
    if any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise PromptRefused("文字含有控制字符")
    return text


def save_tts(name: str, text: str, by: str) -> promptstore.StoredPrompt:
    """Speak ``text`` with espeak-ng (Mandarin), convert and store it as the next version of ``name``."""
    promptstore.check_name(name)
    text = check_text(text)
    with _workdir() as tmp:
        raw = Path(tmp) / "tts.wav"
        # the text goes as one argument after "--": never through a shell, never read as an option
        _run(["espeak-ng", "-v", TTS_VOICE, "-s", str(TTS_SPEED), "-w", str(raw), "--", text],
             TTS_TIMEOUT, "语音合成")
        out = Path(tmp) / "out.wav"
        duration = _convert(raw, out, "wav")
        return _store(name, out, source="tts", original_type="tts", original_bytes=len(text.encode()),
                      duration_ms=duration, text=text, by=by)


# ---- what calls hear -----------------------------------------------------------------------------------

_libraries: weakref.WeakSet[Library] = weakref.WeakSet()


class Library:
    """The built-in set with the library on top, for the IVR and the ACD (``prompts``)."""

    def __init__(self, base: PromptSet) -> None:
        self.prompts = LayeredPrompts(base)
        _libraries.add(self)

    def refresh(self) -> None:
        """Read the newest version of every name from the database (the hub waits, not blocks)."""
        root = data_dir().resolve()
        self.prompts.set_layer({name: str(root / p.file) for name, p in promptstore.current().items()})


def refresh_all() -> None:
    for lib in list(_libraries):
        try:
            lib.refresh()
        except Exception:           # a library whose database is gone (tests) keeps its layer
            log.exception("prompts: refresh failed")
        gevent.sleep(0)
