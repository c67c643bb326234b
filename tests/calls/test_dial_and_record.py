"""Outgoing calls on an analog trunk, and recording a message (beep, silence, '#', max length)."""

from __future__ import annotations

from pathlib import Path

import gevent
import pytest
from gevent.event import AsyncResult

from appliance.voiceboard.channel import Channel, ChannelState, Play
from appliance.voiceboard.errors import Busy
from appliance.voiceboard.events import CidFormat, Kind, RecordReason
from appliance.voiceboard.sim import SimulatedSite, exchange_hangup, exchange_line, ring_in

from .test_fxo_call import wait_for


def _exchange_serves_dialling(site: SimulatedSite, busy: frozenset[str] = frozenset()) -> AsyncResult:
    dialled: AsyncResult = AsyncResult()

    def handler(port: Channel) -> None:
        if port.kind is Kind.FXS:
            port.claim()
            exchange_line(port, answer_after=1.0, busy_numbers=busy)
            dialled.set(port)

    site.far.call_handler = handler
    return dialled


def test_dial_out_answered_then_far_hangup(site: SimulatedSite) -> None:
    _exchange_serves_dialling(site)
    line = site.board.of_kind(Kind.FXO)[0]
    exch = site.far_of(line)
    line.claim()
    line.dial("95566", timeout=15)
    assert line.state is ChannelState.UP
    assert exch.state is ChannelState.UP
    exch.detect_tone(1000)
    line.start_play([Play.tone(1000, duration_ms=800)])
    assert exch.wait_tone(1000, 2), "the called party hears us"
    line.release("done")
    wait_for(lambda: exch.state is not ChannelState.UP, 5, "the exchange sees our on-hook")


def test_dial_out_busy(site: SimulatedSite) -> None:
    _exchange_serves_dialling(site, busy=frozenset({"12345"}))
    line = site.board.of_kind(Kind.FXO)[1]
    line.claim()
    with pytest.raises(Busy):
        line.dial("12345", timeout=15)
    assert line.state is ChannelState.IDLE
    wait_for(lambda: line.status()["hook"] == 0, 1, "the line back on-hook")


def test_dial_rejects_bad_number(site: SimulatedSite) -> None:
    line = site.board.of_kind(Kind.FXO)[0]
    with pytest.raises(ValueError, match="invalid number"):
        line.dial("12;rm -rf")
    assert line.state is ChannelState.IDLE


@pytest.mark.parametrize(("how", "reason"), [
    ("hash", RecordReason.DTMF), ("silence", RecordReason.SILENCE), ("max", RecordReason.MAXTIME)])
def test_record_message_ends_by_hash_silence_or_max(site: SimulatedSite, tmp_path: Path, how: str,
                                                    reason: RecordReason) -> None:
    msg = tmp_path / "msg.wav"
    result: AsyncResult = AsyncResult()

    def handler(ch: Channel) -> None:
        ch.answer()
        result.set(ch.record(msg, max_s=3.0, silence_s=1.0, beep=True))
        ch.wait_hangup(30)

    site.board.call_handler = handler
    exch = site.far_of(site.board.of_kind(Kind.FXO)[0])
    exch.detect_tone(1000)
    ring_in(exch, "13800000003", "", CidFormat.FSK, timeout=20)
    assert exch.wait_tone(1000, 3), "the caller hears the beep before recording"
    gevent.sleep(0.3)
    if how == "hash":
        exch.play([Play.tone(600, duration_ms=800)], barge_in=False)
        exch.send_dtmf("#")
    elif how == "max":
        exch.start_play([Play.tone(600, duration_ms=5000)])
    rec = result.get(timeout=10)
    assert rec.reason is reason, rec
    assert msg.stat().st_size > 44
    if how == "max":
        assert 2800 <= rec.duration_ms <= 3300, rec
    exchange_hangup(exch, "busy")
