"""Prompt sets: codes of the test set, the built sets on disk, loading them."""

from __future__ import annotations

import logging
import math
import struct
import tomllib
import wave
from pathlib import Path

import pytest

from appliance.voiceboard import prompts
from appliance.voiceboard.prompts import (
    TEST_PROMPTS,
    PromptError,
    PromptSet,
    build_demo_set,
    build_test_set,
    check_line_wav,
    code_for,
    decode_heard,
    wav_info,
)

ROOT = Path(__file__).resolve().parent.parent
DEMO_TOML = ROOT / "prompts" / "zh-CN.toml"
BUILT = ROOT / "build" / "prompts"  # what ./build.sh prompts made


# ---- codes ---------------------------------------------------------------------------------------


def test_codes() -> None:
    assert code_for("welcome") == "A00B"
    assert code_for(TEST_PROMPTS[7]) == "A07B"
    assert len(set(TEST_PROMPTS)) == len(TEST_PROMPTS) <= 100
    with pytest.raises(KeyError):
        code_for("no_such_prompt")


def test_decode_heard_round_trip() -> None:
    names = ["welcome", "menu", "digit_3", "yuan", "menu", TEST_PROMPTS[-1]]
    assert decode_heard("".join(code_for(n) for n in names)) == names
    # a caller's own digits, a half-heard code, lower case and an unknown code are skipped
    noisy = "12#" + code_for("welcome") + "A0" + "5" + code_for("goodbye").lower() + "A99B" + "*"
    assert decode_heard(noisy) == ["welcome", "goodbye"]
    assert decode_heard("") == []


def test_demo_manifest_matches_test_prompts() -> None:
    spec = prompts.load_demo_spec(DEMO_TOML)
    assert set(spec.prompts) == set(TEST_PROMPTS)
    assert spec.prompts["welcome"] == "欢迎致电燃气服务热线"
    assert spec.prompts["digit_9"] == "九"


# ---- built sets ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_set(tmp_path_factory: pytest.TempPathFactory) -> PromptSet:
    """The demo set build.sh made, or (pytest run on its own) one built now."""
    if (BUILT / "demo" / prompts.MANIFEST).exists():
        return PromptSet(BUILT / "demo")
    return PromptSet(build_demo_set(DEMO_TOML, tmp_path_factory.mktemp("prompts") / "demo"))


@pytest.fixture(scope="session")
def test_set(tmp_path_factory: pytest.TempPathFactory) -> PromptSet:
    if (BUILT / "test" / prompts.MANIFEST).exists():
        return PromptSet(BUILT / "test")
    return PromptSet(build_test_set(tmp_path_factory.mktemp("prompts") / "test"))


def test_demo_set_is_line_format(demo_set: PromptSet) -> None:
    spec = prompts.load_demo_spec(DEMO_TOML)
    assert demo_set.kind == "demo"
    assert sorted(demo_set.names) == sorted(spec.prompts), "built demo set is stale: ./build.sh prompts"
    for name, text in spec.prompts.items():
        assert demo_set.text(name) == text
        path = demo_set.path(name)
        assert path is not None and Path(path).is_absolute()
        info = check_line_wav(path)
        assert (info.rate, info.channels, info.format_tag, info.bits) == (8000, 1, 6, 8)
        assert 150 <= info.duration_ms <= 20_000, (name, info.duration_ms)


def test_test_set_files(test_set: PromptSet) -> None:
    assert test_set.kind == "test"
    assert test_set.names == list(TEST_PROMPTS)
    for name in TEST_PROMPTS:
        path = test_set.path(name)
        assert path is not None
        info = check_line_wav(path)
        code = code_for(name)
        assert test_set.text(name) == code
        # 100 ms lead + 4 digits of 60 ms on / 60 ms off
        expected = prompts.TEST_LEAD_MS + len(code) * (prompts.TEST_ON_MS + prompts.TEST_OFF_MS)
        assert abs(info.duration_ms - expected) <= prompts.TEST_OFF_MS + 20, (name, info.duration_ms)


def test_test_set_plays_its_codes(test_set: PromptSet) -> None:
    """Decode the DTMF in every file (a Goertzel detector here): it is the prompt's own code."""
    heard = ""
    for name in TEST_PROMPTS:
        path = test_set.path(name)
        assert path is not None
        digits = _detect_dtmf(_read_alaw(Path(path)))
        assert digits == code_for(name), name
        heard += digits + "1"  # a caller's key between prompts
    assert decode_heard(heard) == list(TEST_PROMPTS)


# ---- loading and checking ------------------------------------------------------------------------


def test_prompt_set_missing_prompt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "one.wav").write_bytes(_alaw_wav(b"\xd5" * 800))
    (tmp_path / "manifest.json").write_text(
        '{"version": 1, "set": "demo", "prompts": {"one": {"file": "one.wav", "text": "x", "ms": 100},'
        ' "gone": {"file": "gone.wav", "text": "y", "ms": 100}}}'
    )
    ps = PromptSet(tmp_path)
    assert ps.path("one") == str(tmp_path.resolve() / "one.wav")
    with caplog.at_level(logging.WARNING, logger=prompts.__name__):
        assert ps.path("nothing") is None
        assert ps.path("gone") is None
    assert "nothing" in caplog.text and "gone.wav" in caplog.text
    assert ps.require("one") == ps.path("one")
    with pytest.raises(PromptError, match="gone"):
        ps.require("gone")
    assert ps.duration_ms("one") == 100 and ps.duration_ms("nothing") is None
    with pytest.raises(PromptError):
        PromptSet(tmp_path / "no-such-dir")


def test_wav_checks(tmp_path: Path) -> None:
    pcm = tmp_path / "pcm.wav"
    with wave.open(str(pcm), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    assert wav_info(pcm).duration_ms == 100
    with pytest.raises(PromptError, match="not 8 kHz mono A-law"):
        check_line_wav(pcm)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"hello")
    with pytest.raises(PromptError, match="not a RIFF"):
        wav_info(junk)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(_alaw_wav(b""))
    with pytest.raises(PromptError, match="no audio"):
        check_line_wav(empty)


def test_demo_spec_rejects_bad_ids(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[prompts]\n"Welcome!" = "hi"\n', encoding="utf-8")
    with pytest.raises(PromptError, match="bad prompt id"):
        prompts.load_demo_spec(bad)
    bad.write_text("voice = 'cmn'\n", encoding="utf-8")
    with pytest.raises(PromptError, match=r"no \[prompts\]"):
        prompts.load_demo_spec(bad)
    with open(DEMO_TOML, "rb") as f:
        assert tomllib.load(f)["prompts"]  # the real one parses


# ---- helpers: A-law WAV and a small DTMF detector ------------------------------------------------


def _alaw_wav(data: bytes) -> bytes:
    fmt = struct.pack("<HHIIHH", 6, 1, 8000, 8000, 1, 8)
    return (
        b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"data" + struct.pack("<I", len(data)) + data
    )


def _alaw_to_linear(a: int) -> int:
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = t + 8 if seg == 0 else (t + 0x108) << (seg - 1)
    return t if a & 0x80 else -t


_ALAW = [_alaw_to_linear(i) for i in range(256)]


def _read_alaw(path: Path) -> list[int]:
    raw = path.read_bytes()
    pos = 12
    while pos + 8 <= len(raw):
        size = struct.unpack_from("<I", raw, pos + 4)[0]
        if raw[pos : pos + 4] == b"data":
            return [_ALAW[b] for b in raw[pos + 8 : pos + 8 + size]]
        pos += 8 + size + (size & 1)
    raise AssertionError(f"{path}: no data chunk")


_ROWS = (697, 770, 852, 941)
_COLS = (1209, 1336, 1477, 1633)
_KEYS = ("123A", "456B", "789C", "*0#D")


def _goertzel(block: list[int], freq: float) -> float:
    coeff = 2 * math.cos(2 * math.pi * freq / 8000)
    s1 = s2 = 0.0
    for x in block:
        s1, s2 = x + coeff * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coeff * s1 * s2


def _detect_dtmf(samples: list[int], n: int = 160) -> str:
    """Digits in 20 ms blocks: a digit is a run of >= 2 blocks whose energy is its two tones."""
    per_block: list[str | None] = []
    for i in range(0, len(samples) - n + 1, n):
        block = samples[i : i + n]
        energy = sum(x * x for x in block)
        if energy < n * 100.0**2:  # below about -50 dBm0
            per_block.append(None)
            continue
        rows = [_goertzel(block, f) for f in _ROWS]
        cols = [_goertzel(block, f) for f in _COLS]
        r, c = rows.index(max(rows)), cols.index(max(cols))
        share = (rows[r] + cols[c]) / (energy * n / 2)  # 1.0 for a clean dual tone
        per_block.append(_KEYS[r][c] if share > 0.6 else None)
    digits = ""
    run_key, run = None, 0
    for key in [*per_block, None]:
        if key == run_key:
            run += 1
            continue
        if run_key is not None and run >= 2:
            digits += run_key
        run_key, run = key, 1
    return digits
