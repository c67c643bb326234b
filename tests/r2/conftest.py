"""The E1 rig: our board's E1 span under openr2, cabled to a far board whose channels are
scripted China exchanges (forward when they call us, backward when we call them).

``R2Site(n)`` cables the two boards with the simulator's virtual E1 cable; ``R2Site(n, card=True)``
binds both boards to DAHDI CAS channels of the fake DAHDI kernel (the ``dahdi`` backend, the code
path of a real card) crossed by ``vb_dahdi_fake_patch``, as two spans of a card joined by an E1
crossover cable."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import gevent
import pytest

from appliance.drivers._binding import check, lib
from appliance.voiceboard.board import Board
from appliance.voiceboard.channel import Channel, ChannelState
from appliance.voiceboard.dahdi import DahdiSite, use_fake_kernel
from appliance.voiceboard.r2 import R2Channel, R2Span, ScriptedExchange
from appliance.voiceboard.sim import SimulatedSite

DNIS_LEN = 8


FAR_CHANNO = 101        # fake kernel: our span is DAHDI channels 1..n, the far span 101..100+n


class PatchedCardSite:
    """Two boards on the ``dahdi`` backend, each E1 port bound to a fake-kernel CAS channel;
    our channel i and the far channel i are crossed (an E1 crossover cable between two spans)."""

    def __init__(self, n: int) -> None:
        lib.vb_dahdi_fake_reset()
        use_fake_kernel(True)
        ours, far = list(range(1, n + 1)), list(range(FAR_CHANNO, FAR_CHANNO + n))
        for a, b in zip(ours, far, strict=True):
            check(lib.vb_dahdi_fake_add(a, lib.DAHDI_SIG_CAS))
            check(lib.vb_dahdi_fake_add(b, lib.DAHDI_SIG_CAS))
            check(lib.vb_dahdi_fake_patch(a, b))
        self.ours = DahdiSite(f"e1:{n}", ours, name="r2card")
        self.exchange = DahdiSite(f"e1:{n}", far, name="r2card-far")
        self.board: Board = self.ours.board
        self.far: Board = self.exchange.board

    def start(self, timeout: float = 5.0) -> None:
        self.ours.start()
        self.exchange.start()
        wait_for(lambda: all(c.line_up for c in self.board.channels + self.far.channels), timeout,
                 "both spans in sync through the fake card")

    def stop(self) -> None:
        self.ours.stop()
        self.exchange.stop()
        use_fake_kernel(False)
        lib.vb_dahdi_fake_reset()


class R2Site:
    def __init__(self, n: int, mf_back_timeout_ms: int = 0, card: bool = False) -> None:
        self.site: SimulatedSite | PatchedCardSite = (
            PatchedCardSite(n) if card else SimulatedSite(f"e1:{n}", name="r2"))
        self.site.start()
        self.span = R2Span(self.site.board, range(n), dnis_len=DNIS_LEN,
                           mf_back_timeout_ms=mf_back_timeout_ms)
        self.span.start()
        self.exchanges = [ScriptedExchange(self.site.far, i) for i in range(n)]
        # openr2 sees the start-up alarm of a fresh E1 channel (no frames yet) clear a little after
        # the lines are up: a seizure before that is ignored and the exchange's call fails
        wait_for(lambda: all(self.ch(i).available for i in range(n)), 5.0, "the span's channels idle")

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


@pytest.fixture
def cardsite(request: pytest.FixtureRequest) -> Iterator[R2Site]:
    """The E1 rig on the card backend (fake DAHDI kernel, patched spans)."""
    s = R2Site(getattr(request, "param", 1), card=True)
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
