"""An analog trunk call in, heard from the far side of the cable (the exchange)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gevent
import pytest
from gevent.event import AsyncResult

from appliance.voiceboard.channel import Channel, ChannelState, Play
from appliance.voiceboard.errors import Hangup
from appliance.voiceboard.events import CidFormat, Kind, PlayReason
from appliance.voiceboard.prompts import PromptSet, decode_heard
from appliance.voiceboard.sim import SimulatedSite, exchange_hangup, ring_in

from .audio import tone_runs_in_file


def wait_for(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while not cond():
            gevent.sleep(0.02)


def heard_prompts(ch: Channel) -> list[str]:
    return decode_heard(ch.heard)


@pytest.mark.parametrize("fmt", [CidFormat.FSK, CidFormat.DTMF])
def test_call_in_caller_id_prompt_and_digits(site: SimulatedSite, test_prompts: PromptSet,
                                             fmt: CidFormat) -> None:
    got: AsyncResult = AsyncResult()
    ended: AsyncResult = AsyncResult()

    def handler(ch: Channel) -> None:
        try:
            ch.answer()
            ch.play([test_prompts.require("welcome"), test_prompts.require("menu")], barge_in=False)
            got.set((ch.caller_id, ch.caller_name, ch.cid_format, ch.collect_digits(4, timeout=8)))
            ch.wait_hangup(30)
        except Hangup as exc:
            ended.set(exc.cause)
            raise

    site.board.call_handler = handler
    line = site.board.of_kind(Kind.FXO)[0]
    exch = site.far_of(line)
    name = "ZHANG SAN" if fmt is CidFormat.FSK else ""
    ring_in(exch, "13800138000", name, fmt, timeout=20)
    assert exch.state is ChannelState.UP
    wait_for(lambda: heard_prompts(exch) == ["welcome", "menu"], 15, "the caller to hear welcome+menu")
    exch.send_dtmf("2580")
    number, cname, cfmt, digits = got.get(timeout=10)
    assert (number, cname, cfmt) == ("13800138000", name, fmt)
    assert digits == "2580"
    exchange_hangup(exch, "busy")
    assert ended.get(timeout=5) == "busy tone"
    wait_for(lambda: line.state is ChannelState.IDLE, 5, "our line back to idle")


def test_far_hangup_by_polarity_reversal(site: SimulatedSite) -> None:
    ended: AsyncResult = AsyncResult()

    def handler(ch: Channel) -> None:
        ch.answer()
        try:
            ch.wait_hangup(30)
        except Hangup as exc:
            ended.set((exc.cause, gevent.get_hub().loop.now()))
            raise

    site.board.call_handler = handler
    line = site.board.of_kind(Kind.FXO)[1]
    exch = site.far_of(line)
    ring_in(exch, "02088886666", "", CidFormat.FSK, timeout=20)
    t0 = gevent.get_hub().loop.now()
    exchange_hangup(exch, "polarity")
    cause, t1 = ended.get(timeout=5)
    assert cause == "polarity reversal"
    assert t1 - t0 < 0.5
    wait_for(lambda: line.state is ChannelState.IDLE and exch.status()["hook"] == 0, 5, "line on-hook")


def test_barge_in_stops_prompt_within_100ms(site: SimulatedSite, tmp_path: Path) -> None:
    """Measured on our own line from the recording: DTMF onset (rx) to prompt silence (tx)."""
    rec = tmp_path / "barge.wav"
    result: AsyncResult = AsyncResult()

    def handler(ch: Channel) -> None:
        ch.answer()
        ch.start_record(rec)
        res = ch.play([Play.tone(1000, duration_ms=8000, level_dbm0=-12)], barge_in=True)
        gevent.sleep(0.5)
        ch.stop_record()
        result.set(res)
        ch.wait_hangup(30)

    site.board.call_handler = handler
    line = site.board.of_kind(Kind.FXO)[0]
    exch = site.far_of(line)
    exch.detect_tone(1000)
    ring_in(exch, "13912345678", "", CidFormat.FSK, timeout=20)
    assert exch.wait_tone(1000, 5), "the caller never heard the prompt"
    gevent.sleep(0.6)
    exch.send_dtmf("5", on_ms=100, off_ms=50)
    res = result.get(timeout=5)
    assert res.reason is PlayReason.BARGE_IN and res.digit == "5"
    wait_for(lambda: rec.exists() and line.status()["recording"] == 0, 5, "recording closed")
    prompt = tone_runs_in_file(rec, 1000, min_amplitude=1000)   # the -12 dBm0 prompt, even under DTMF
    dtmf = tone_runs_in_file(rec, 770, 0.15)   # '5' = 770 + 1336 Hz
    assert prompt and dtmf, f"prompt runs {prompt}, dtmf runs {dtmf}"
    prompt_end = prompt[0][0] + prompt[0][1]
    dtmf_start = dtmf[0][0]
    latency_ms = (prompt_end - dtmf_start) * 20
    print(f"barge-in latency on the line: {latency_ms} ms")
    assert 0 <= latency_ms <= 100, f"barge-in took {latency_ms} ms"
    exchange_hangup(exch, "busy")


def test_recording_holds_both_directions(site: SimulatedSite, tmp_path: Path) -> None:
    rec = tmp_path / "call.wav"
    done: AsyncResult = AsyncResult()

    def handler(ch: Channel) -> None:
        ch.answer()
        ch.start_record(rec)
        ch.play([Play.tone(1000, duration_ms=600)], barge_in=False)     # we speak
        gevent.sleep(1.2)                                   # the caller speaks meanwhile
        ch.stop_record()
        done.set(True)
        ch.wait_hangup(30)

    site.board.call_handler = handler
    line = site.board.of_kind(Kind.FXO)[0]
    exch = site.far_of(line)
    ring_in(exch, "13800000001", "", CidFormat.FSK, timeout=20)
    gevent.sleep(0.8)
    exch.play([Play.tone(1500, duration_ms=600)], barge_in=False)
    done.get(timeout=10)
    wait_for(lambda: line.status()["recording"] == 0, 5, "recording closed")
    ours = tone_runs_in_file(rec, 1000, 0.4)
    theirs = tone_runs_in_file(rec, 1500, 0.4)
    assert ours and max(n for _, n in ours) >= 20, f"our tone missing from the recording: {ours}"
    assert theirs and max(n for _, n in theirs) >= 20, f"caller's tone missing from the recording: {theirs}"
    exchange_hangup(exch, "busy")


def test_malformed_prompt_is_reported_and_call_goes_on(site: SimulatedSite, test_prompts: PromptSet,
                                                      tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk")
    not_wav = tmp_path / "notes.wav"
    not_wav.write_text("这不是声音文件")
    got: AsyncResult = AsyncResult()

    def handler(ch: Channel) -> None:
        ch.answer()
        prompts: list[str | Path] = [bad, not_wav, tmp_path / "missing.wav", test_prompts.require("goodbye")]
        res = ch.play(prompts, barge_in=False)
        got.set((res, ch.collect_digits(1, timeout=8)))
        ch.wait_hangup(30)

    site.board.call_handler = handler
    line = site.board.of_kind(Kind.FXO)[0]
    exch = site.far_of(line)
    ring_in(exch, "13800000002", "", CidFormat.FSK, timeout=20)
    wait_for(lambda: "goodbye" in heard_prompts(exch), 10, "the good prompt after the bad ones")
    exch.send_dtmf("9")
    res, digit = got.get(timeout=10)
    assert res.reason is PlayReason.END
    assert len(res.errors) == 3, res.errors
    assert all(e for e in res.errors)
    assert digit == "9"
    exchange_hangup(exch, "busy")
