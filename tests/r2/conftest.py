"""The E1 rig: our board's E1 span under openr2, cabled to a far board whose channels are
scripted China exchanges (forward when they call us, backward when we call them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import gevent
import pytest

from appliance.voiceboard.channel import Channel, ChannelState
from appliance.voiceboard.r2 import R2Channel, R2Span, ScriptedExchange
from appliance.voiceboard.sim import SimulatedSite

DNIS_LEN = 8


class R2Site:
    def __init__(self, n: int, mf_back_timeout_ms: int = 0) -> None:
        self.site = SimulatedSite(f"e1:{n}", name="r2")
        self.site.start()
        self.span = R2Span(self.site.board, range(n), dnis_len=DNIS_LEN,
                           mf_back_timeout_ms=mf_back_timeout_ms)
        self.span.start()
        self.exchanges = [ScriptedExchange(self.site.far, i) for i in range(n)]

    def ch(self, i: int) -> R2Channel:
        c = self.site.board.channels[i]
        assert isinstance(c, R2Channel)
        return c

    def wait_idle(self, i: int, timeout: float = 5) -> None:
        c = self.ch(i)
        wait_for(lambda: c.state is ChannelState.IDLE and not c.in_call, timeout, f"channel {i} back to idle")

    def stop(self) -> None:
        for x in self.exchanges:
            x.close()
        self.span.stop()
        self.site.stop()


@pytest.fixture
def r2site(request: pytest.FixtureRequest) -> Iterator[R2Site]:
    s = R2Site(getattr(request, "param", 1))
    try:
        yield s
    finally:
        s.stop()


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    with gevent.Timeout(timeout, AssertionError(f"timed out: {what}")):
        while not cond():
            gevent.sleep(0.02)


def answer_and_hold(on_answer: Callable[[R2Channel], object] | None = None,
                    hold: float = 30.0) -> Callable[[Channel], None]:
    """A call handler: answer, report the channel to ``on_answer``, stay on until the far end clears."""

    def handle(ch: Channel) -> None:
        assert isinstance(ch, R2Channel)
        ch.answer()
        if on_answer is not None:
            on_answer(ch)
        ch.wait_hangup(hold)

    return handle
