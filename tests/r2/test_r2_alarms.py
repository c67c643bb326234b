"""E1 span alarms: LOS/AIS/RAI injected on the simulated cable, with calls up."""

from __future__ import annotations

import time
from typing import Any

import gevent
import pytest
from gevent.event import AsyncResult

from appliance.voiceboard.channel import Channel
from appliance.voiceboard.errors import Hangup, NoFreeChannel
from appliance.voiceboard.r2 import ExchangeState

from .conftest import R2Site, answer_and_hold, wait_for

ALARM_BUDGET = 3.0     # seconds from the fault to the event reaching the upper layers


class SpanEvents:
    def __init__(self, s: R2Site) -> None:
        self.alarm: AsyncResult = AsyncResult()
        self.recovered: AsyncResult = AsyncResult()
        s.site.board.subscribe(self)

    def __call__(self, name: str, channel: Channel, **data: Any) -> None:
        if name == "span.alarm" and not self.alarm.ready():
            self.alarm.set((time.monotonic(), data))
        elif name == "span.recovered" and not self.recovered.ready():
            self.recovered.set(time.monotonic())


def _hold_calls(s: R2Site, n: int) -> dict[int, AsyncResult]:
    ended: dict[int, AsyncResult] = {i: AsyncResult() for i in range(n)}

    def handle(ch: Channel) -> None:
        ch.answer()
        try:
            ch.wait_hangup(120)
        except Hangup as exc:
            ended[ch.index].set(exc.cause)
            raise

    s.site.board.call_handler = handle
    for i in range(n):
        s.exchanges[i].call(f"138{i:08d}", f"9556{i:04d}")
    for i in range(n):
        assert s.exchanges[i].wait_state(ExchangeState.ANSWERED, timeout=30) is ExchangeState.ANSWERED
    return ended


@pytest.mark.parametrize("r2site", [30], indirect=True)
def test_los_during_thirty_calls_releases_all_blocks_the_span_and_recovers(r2site: R2Site) -> None:
    events = SpanEvents(r2site)
    ended = _hold_calls(r2site, 30)
    far = r2site.site.far.channels
    t0 = time.monotonic()
    for c in far:
        c.inject_e1_fault(los=True)           # the exchange's transmitter goes silent
    at, data = events.alarm.get(timeout=ALARM_BUDGET)
    assert at - t0 <= ALARM_BUDGET and "LOS/red" in data["alarms"]
    for i in range(30):
        assert "alarm" in ended[i].get(timeout=ALARM_BUDGET) or "line down" in ended[i].get()
    wait_for(lambda: all(not r2site.ch(i).in_call for i in range(30)), ALARM_BUDGET, "calls released")
    st = r2site.span.status()
    assert st["in_alarm"] and st["in_call"] == 0 and st["idle"] == 0
    with pytest.raises(NoFreeChannel):
        r2site.span.dial("95566001")
    wait_for(lambda: all(c.e1_alarm == 4 for c in far), ALARM_BUDGET, "the exchange sees our RAI (yellow)")
    for x in r2site.exchanges:
        x.clear()
    t1 = time.monotonic()
    for c in far:
        c.inject_e1_fault()                   # cleared
    assert events.recovered.get(timeout=ALARM_BUDGET) - t1 <= ALARM_BUDGET
    wait_for(lambda: r2site.span.status()["idle"] == 30, 5, "all channels free again")
    for x in r2site.exchanges:
        assert x.wait_state(ExchangeState.IDLE, timeout=5) is ExchangeState.IDLE
    again = {0: AsyncResult()}
    r2site.site.board.call_handler = answer_and_hold(lambda ch: again[0].set(ch.caller_id))
    r2site.exchanges[0].call("13912345678", "95566001")
    assert again[0].get(timeout=15) == "13912345678", "a call goes through after recovery"
    r2site.exchanges[0].clear()
    r2site.wait_idle(0)


@pytest.mark.parametrize(("fault", "name"), [("ais", "AIS/blue"), ("rai", "RAI/yellow")])
def test_ais_and_rai_are_reported_and_block_the_span(r2site: R2Site, fault: str, name: str) -> None:
    events = SpanEvents(r2site)
    ended = _hold_calls(r2site, 1)
    far = r2site.site.far.channels[0]
    far.inject_e1_fault(**{fault: True})
    _, data = events.alarm.get(timeout=ALARM_BUDGET)
    assert data["alarms"] == [name]
    assert ended[0].get(timeout=ALARM_BUDGET)
    assert not r2site.ch(0).available
    r2site.exchanges[0].clear()
    far.inject_e1_fault()
    events.recovered.get(timeout=ALARM_BUDGET)
    wait_for(lambda: r2site.ch(0).available, 5, "channel free after recovery")


def test_cut_cable_is_a_red_alarm(r2site: R2Site) -> None:
    events = SpanEvents(r2site)
    r2site.ch(0).cut(True)
    _, data = events.alarm.get(timeout=ALARM_BUDGET)
    assert "LOS/red" in data["alarms"]
    r2site.ch(0).cut(False)
    events.recovered.get(timeout=ALARM_BUDGET)
    wait_for(lambda: r2site.ch(0).available, 5, "channel free after the cable is mended")


def test_blocked_channel_is_not_seized_by_the_exchange_until_unblocked(r2site: R2Site) -> None:
    got: AsyncResult = AsyncResult()
    r2site.site.board.call_handler = answer_and_hold(lambda ch: got.set(ch.dnis))
    r2site.span.block(r2site.ch(0))
    wait_for(lambda: r2site.site.far.channels[0].cas_rx == 0xF, 2, "the exchange sees BLOCKED")
    x = r2site.exchanges[0]
    x.call("13800138000", "95566001")
    gevent.sleep(1.5)
    assert not got.ready() and x.state is ExchangeState.SEIZED, "no seizure on a blocked channel"
    with pytest.raises(NoFreeChannel):
        r2site.span.dial("95566002")
    r2site.span.unblock(r2site.ch(0))
    assert got.get(timeout=15) == "95566001"
    x.clear()
    r2site.wait_idle(0)
