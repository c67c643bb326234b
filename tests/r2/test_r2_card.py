"""R2 on the card backend: the same openr2 span, but every E1 channel is a DAHDI CAS channel
(``dahdi`` backend, ``/dev/dahdi/channel`` + SPECIFY, SETTXBITS/GETRXBITS, GETEVENT, 160-byte
A-law blocks) of the fake DAHDI kernel, crossed to the far board's channels like two spans of a
card joined by a crossover cable.  What a technician would see on a real card: calls both ways
with ANI/DNIS and audio, and the card's alarms (red, blue, yellow) named on the span."""

from __future__ import annotations

import time

import gevent
import pytest
from gevent.event import AsyncResult

from appliance.drivers._binding import check, lib
from appliance.voiceboard.channel import ChannelState, Play
from appliance.voiceboard.dahdi import card_stats
from appliance.voiceboard.errors import Busy, NoFreeChannel
from appliance.voiceboard.r2 import ExchangeAnswer, ExchangeState

from .conftest import R2Site, answer_and_hold, wait_for
from .test_r2_alarms import ALARM_BUDGET, SpanEvents, _hold_calls
from .test_r2_inbound import _answering_handler, _one_call


@pytest.mark.parametrize("cardsite", [30], indirect=True)
def test_thirty_inbound_calls_through_the_card_backend(cardsite: R2Site) -> None:
    offered = {i: AsyncResult() for i in range(30)}
    cardsite.site.board.call_handler = _answering_handler(offered)
    calls = [gevent.spawn(_one_call, cardsite, i, offered) for i in range(30)]
    gevent.joinall(calls, timeout=90, raise_error=True)
    assert all(g.successful() for g in calls)
    st = card_stats(cardsite.site.board, 0)
    assert st["reads"] > 0 and st["writes"] > 0 and st["events"] > 0, "audio and CAS went through DAHDI"
    assert st["read_errors"] == st["write_errors"] == st["ioctl_errors"] == 0


def test_outbound_call_answered_with_audio_then_busy(cardsite: R2Site) -> None:
    x = cardsite.exchanges[0]
    x.configure(dnis_len=8, ani_after=4, answer=ExchangeAnswer.ANSWER, answer_ms=300)
    ch = cardsite.span.dial("95566001", ani="075512345678", category=1)
    assert ch.state is ChannelState.UP
    assert x.received() == ("075512345678", "95566001", 1)
    far = cardsite.site.far.channels[0]
    far.detect_tone(1000)
    ch.detect_tone(500)
    ch.start_play([Play.tone(1000, duration_ms=2000)])
    far.start_play([Play.tone(500, duration_ms=2000)])
    assert far.wait_tone(1000, 5), "the called party hears us"
    assert ch.wait_tone(500, 5), "we hear the called party"
    ch.hangup()
    assert x.wait_state(ExchangeState.IDLE, timeout=5) is ExchangeState.IDLE
    cardsite.wait_idle(0)
    x.configure(answer=ExchangeAnswer.BUSY)
    with pytest.raises(Busy):
        cardsite.span.dial("95566002", ani="075512345678")
    cardsite.wait_idle(0)


@pytest.mark.parametrize(("alarm", "name"), [
    ("DAHDI_ALARM_RED", "LOS/red"), ("DAHDI_ALARM_BLUE", "AIS/blue"), ("DAHDI_ALARM_YELLOW", "RAI/yellow")])
def test_card_alarms_release_calls_name_the_alarm_and_recover(cardsite: R2Site, alarm: str,
                                                             name: str) -> None:
    events = SpanEvents(cardsite)
    ended = _hold_calls(cardsite, 1)
    t0 = time.monotonic()
    check(lib.vb_dahdi_fake_alarm(1, getattr(lib, alarm)))     # what the card's framer reports
    at, data = events.alarm.get(timeout=ALARM_BUDGET)
    assert at - t0 <= ALARM_BUDGET and data["alarms"] == [name]
    assert ended[0].get(timeout=ALARM_BUDGET)
    assert card_stats(cardsite.site.board, 0)["alarm"] == getattr(lib, alarm)
    with pytest.raises(NoFreeChannel):
        cardsite.span.dial("95566001")
    if alarm != "DAHDI_ALARM_YELLOW":
        far = cardsite.site.far.channels[0]
        wait_for(lambda: far.e1_alarm == 4, ALARM_BUDGET, "the far span sees RAI (yellow)")
    cardsite.exchanges[0].clear()
    t1 = time.monotonic()
    check(lib.vb_dahdi_fake_alarm(1, 0))
    assert events.recovered.get(timeout=ALARM_BUDGET) - t1 <= ALARM_BUDGET
    wait_for(lambda: cardsite.ch(0).available, 5, "channel free after recovery")
    assert cardsite.exchanges[0].wait_state(ExchangeState.IDLE, timeout=5) is ExchangeState.IDLE
    again: AsyncResult = AsyncResult()
    cardsite.site.board.call_handler = answer_and_hold(lambda ch: again.set(ch.caller_id))
    cardsite.exchanges[0].call("13912345678", "95566001")
    assert again.get(timeout=15) == "13912345678", "a call goes through after recovery"
    cardsite.exchanges[0].clear()
    cardsite.wait_idle(0)
