"""Protocol faults from the exchange end in a clean idle channel, never a stuck one."""

from __future__ import annotations

from collections.abc import Iterator

import gevent
import pytest
from gevent.event import AsyncResult

from appliance.voiceboard.channel import Channel
from appliance.voiceboard.errors import CallFailed
from appliance.voiceboard.r2 import ExchangeState

from .conftest import R2Site, answer_and_hold

MF_BACK_TIMEOUT_MS = 1500


@pytest.fixture
def site() -> Iterator[R2Site]:
    s = R2Site(2, mf_back_timeout_ms=MF_BACK_TIMEOUT_MS)
    try:
        yield s
    finally:
        s.stop()


def _good_call(s: R2Site, i: int) -> None:
    got: dict[int, AsyncResult] = {i: AsyncResult()}
    s.site.board.call_handler = answer_and_hold(lambda ch: got[ch.index].set((ch.caller_id, ch.dnis)))
    x = s.exchanges[i]
    x.configure(mf_silent_after=0)
    x.call("13511112222", "95566009")
    assert got[i].get(timeout=15) == ("13511112222", "95566009")
    x.clear()
    assert x.wait_state(ExchangeState.IDLE, timeout=5) is ExchangeState.IDLE
    s.wait_idle(i)


def test_caller_stops_sending_digits_mid_dnis(site: R2Site) -> None:
    offered: list[str] = []
    site.site.board.call_handler = lambda ch: offered.append(ch.caller_id)
    x = site.exchanges[0]
    x.configure(mf_silent_after=3)                 # three digits, then the forward side goes quiet
    x.call("13800138000", "95566001")
    gevent.sleep(MF_BACK_TIMEOUT_MS / 1000 + 1.5)  # our MF cycle timer runs out
    assert not offered, "an incomplete call is never offered"
    x.clear()                                      # the exchange gives up too
    assert x.wait_state(ExchangeState.IDLE, timeout=5) is ExchangeState.IDLE
    site.wait_idle(0)
    _good_call(site, 0)


def test_garbage_cas_on_an_idle_channel(site: R2Site) -> None:
    offered: list[str] = []
    site.site.board.call_handler = lambda ch: offered.append(ch.caller_id)
    site.exchanges[0].garbage(2000)
    gevent.sleep(3.0)
    assert not offered
    site.wait_idle(0, timeout=8)
    _good_call(site, 0)
    _good_call(site, 1)


def test_garbage_cas_during_an_answered_call(site: R2Site) -> None:
    ended: AsyncResult = AsyncResult()

    def handle(ch: Channel) -> None:
        ch.answer()
        try:
            ch.wait_hangup(30)
        finally:
            ended.set(True)

    site.site.board.call_handler = handle
    x = site.exchanges[0]
    x.call("13800138001", "95566002")
    assert x.wait_state(ExchangeState.ANSWERED, timeout=15) is ExchangeState.ANSWERED
    x.garbage(1500)
    gevent.sleep(2.0)
    x.clear()
    assert ended.get(timeout=10)
    site.wait_idle(0, timeout=10)
    assert x.wait_state(ExchangeState.IDLE, timeout=5) is ExchangeState.IDLE
    _good_call(site, 0)


def test_glare_both_ends_seize_the_same_channel_at_once(site: R2Site) -> None:
    """Double seizure: the exchange and we seize channel 1 in the same frame.  Our call fails
    cleanly (no hang), nothing is offered, and once the exchange gives up the channel works in
    both directions again."""
    offered: list[str] = []
    site.site.board.call_handler = lambda ch: offered.append(ch.caller_id)
    x = site.exchanges[1]
    x.configure(answer_ms=300)
    x.call("13800138000", "95566001")              # its seizure reaches us on the next frame
    with pytest.raises(CallFailed):
        with gevent.Timeout(30, AssertionError("dial hung in glare")):
            site.span.dial("95566002", ani="13800000001")   # highest free channel first: channel 1
    assert not offered, "neither call is half-offered"
    x.clear()
    assert x.wait_state(ExchangeState.IDLE, timeout=5) is ExchangeState.IDLE
    site.wait_idle(1)
    _good_call(site, 1)
    ch = site.span.dial("95566003", ani="13800000001")
    assert ch.index == 1 and x.received()[1] == "95566003"
    ch.hangup()
    assert x.wait_state(ExchangeState.IDLE, timeout=5) is ExchangeState.IDLE
    site.wait_idle(1)
