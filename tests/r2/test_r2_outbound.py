"""Outbound China R2 calls: our openr2 forward side calls the scripted exchange (backward role)."""

from __future__ import annotations

import gevent
import pytest

from appliance.voiceboard import r2 as r2mod
from appliance.voiceboard.channel import ChannelState, Play
from appliance.voiceboard.errors import Busy, CallFailed, Congestion, Hangup, NoAnswer, NoFreeChannel
from appliance.voiceboard.r2 import ExchangeAnswer, ExchangeState

from .conftest import R2Site, answer_and_hold, wait_for


def _exchange_idle(s: R2Site, i: int) -> None:
    x = s.exchanges[i]
    assert x.wait_state(ExchangeState.IDLE, timeout=5) is ExchangeState.IDLE


@pytest.mark.parametrize("ani_after", [0, 1, 4])
def test_answered_call_sends_dnis_and_ani_when_asked_and_carries_audio(
        r2site: R2Site, ani_after: int) -> None:
    x = r2site.exchanges[0]
    x.configure(dnis_len=8, ani_after=ani_after, answer=ExchangeAnswer.ANSWER, answer_ms=500)
    ch = r2site.span.dial("95566001", ani="075512345678", category=1)
    assert ch.state is ChannelState.UP and ch.index == 0
    assert x.state is ExchangeState.ANSWERED
    assert x.received() == ("075512345678", "95566001", 1), "the exchange got our DNIS, ANI and KA"
    far = r2site.site.far.channels[0]
    far.detect_tone(1000)
    ch.detect_tone(500)
    ch.start_play([Play.tone(1000, duration_ms=2000)])
    far.start_play([Play.tone(500, duration_ms=2000)])
    assert far.wait_tone(1000, 5), "the called party hears us"
    assert ch.wait_tone(500, 5), "we hear the called party"
    ch.hangup()                                   # clear forward
    _exchange_idle(r2site, 0)
    r2site.wait_idle(0)


def test_called_party_hangs_up_first_clear_back(r2site: R2Site) -> None:
    x = r2site.exchanges[0]
    x.configure(answer_ms=300)
    ch = r2site.span.dial("95566002", ani="13800000001")
    x.clear()                                     # the called party hangs up: clear back
    with pytest.raises(Hangup):
        ch.wait_hangup(5)
    ch.release("far end hung up")                 # our side clears forward
    _exchange_idle(r2site, 0)
    r2site.wait_idle(0)


@pytest.mark.parametrize(("answer", "error"), [
    (ExchangeAnswer.BUSY, Busy),
    (ExchangeAnswer.CONGESTION, Congestion),
    (ExchangeAnswer.UNALLOCATED, CallFailed),
])
def test_rejected_calls_report_their_cause_and_free_the_channel(
        r2site: R2Site, answer: ExchangeAnswer, error: type[Exception]) -> None:
    x = r2site.exchanges[0]
    x.configure(answer=answer)
    with pytest.raises(error):
        r2site.span.dial("95566003", ani="13800000002")
    _exchange_idle(r2site, 0)
    r2site.wait_idle(0)
    assert r2site.ch(0).available
    x.configure(answer=ExchangeAnswer.ANSWER, answer_ms=200)   # the channel works again
    r2site.span.dial("95566004").hangup()
    r2site.wait_idle(0)


def test_no_answer_gives_up_and_clears_forward(r2site: R2Site) -> None:
    x = r2site.exchanges[0]
    x.configure(answer=ExchangeAnswer.NO_ANSWER)
    with pytest.raises(NoAnswer):
        r2site.span.dial("95566005", timeout=2.0)
    assert x.state is not ExchangeState.ANSWERED
    _exchange_idle(r2site, 0)
    r2site.wait_idle(0)


@pytest.mark.parametrize("r2site", [4], indirect=True)
def test_a_busy_channel_is_never_seized_twice(r2site: R2Site) -> None:
    for x in r2site.exchanges:
        x.configure(answer=ExchangeAnswer.ANSWER, answer_ms=300)
    # the exchange calls us on channel 0 and we keep that call up
    r2site.site.board.call_handler = answer_and_hold()
    r2site.exchanges[0].call("13900000000", "95566000")
    assert r2site.exchanges[0].wait_state(ExchangeState.ANSWERED, timeout=15) is ExchangeState.ANSWERED
    calls = [gevent.spawn(r2site.span.dial, f"9556601{i}") for i in range(4)]
    gevent.joinall(calls, timeout=30)
    won = [g.value for g in calls if g.successful()]
    lost = [g.exception for g in calls if not g.successful()]
    assert len(won) == 3 and len(lost) == 1 and isinstance(lost[0], NoFreeChannel)
    assert sorted(c.index for c in won) == [1, 2, 3], "each outgoing call on its own channel, not 0"
    for c in won:
        c.hangup()
    for i in (1, 2, 3):
        _exchange_idle(r2site, i)
        r2site.wait_idle(i)
    r2site.exchanges[0].clear()
    r2site.wait_idle(0)


def test_missing_backward_signal_ends_in_a_clean_idle_channel(
        r2site: R2Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(r2mod, "SETUP_TIMEOUT", 3.0)
    x = r2site.exchanges[0]
    x.configure(mf_silent_after=3)                # the exchange stops answering after 3 digits
    with pytest.raises(CallFailed):
        r2site.span.dial("95566006", ani="13800000003")
    _exchange_idle(r2site, 0)
    r2site.wait_idle(0)
    x.configure(answer_ms=200)
    r2site.span.dial("95566007").hangup()
    r2site.wait_idle(0)


def test_no_seizure_acknowledgement_ends_in_a_clean_idle_channel(r2site: R2Site) -> None:
    x = r2site.exchanges[0]
    x.configure(no_seize_ack=True)
    with pytest.raises(CallFailed):
        r2site.span.dial("95566008")
    r2site.wait_idle(0, timeout=5)
    assert r2site.ch(0).available


def test_invalid_numbers_are_refused_before_seizing(r2site: R2Site) -> None:
    for dnis, ani in (("", ""), ("9556*01", ""), ("95566001", "1380013800x"), ("1" * 40, "")):
        with pytest.raises(ValueError):
            r2site.span.dial(dnis, ani=ani)
    assert r2site.ch(0).available
    wait_for(lambda: r2site.exchanges[0].state is ExchangeState.IDLE, 1, "exchange untouched")
