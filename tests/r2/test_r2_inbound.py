"""Inbound China R2 calls: the scripted exchange (far board) calls our E1 channels through openr2 1.3.3."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gevent
import pytest
from gevent.event import AsyncResult

from appliance.voiceboard.channel import Channel, Play
from appliance.voiceboard.r2 import ExchangeState, R2Channel

from .conftest import R2Site, wait_for


def _answering_handler(offered: dict[int, AsyncResult]) -> Callable[[Channel], None]:
    def handle(ch: Channel) -> None:
        assert isinstance(ch, R2Channel)
        ch.answer()
        offered[ch.index].set((ch.caller_id, ch.dnis, ch.category_name))
        ch.detect_tone(500)
        assert ch.wait_tone(500, 5), "we hear the caller"
        ch.start_play([Play.tone(1000, duration_ms=3000)])
        ch.wait_hangup(30)

    return handle


def _one_call(s: R2Site, i: int, offered: dict[int, AsyncResult]) -> None:
    x = s.exchanges[i]
    far = s.site.far.channels[i]
    ani, dnis = f"138{i:08d}", f"9556{i:04d}"
    x.call(ani, dnis)
    assert x.wait_state(ExchangeState.ANSWERED, ExchangeState.REJECTED, ExchangeState.FAILED,
                        timeout=15) is ExchangeState.ANSWERED
    assert offered[i].get(timeout=5) == (ani, dnis, "National Subscriber")
    far.detect_tone(1000)
    far.start_play([Play.tone(500, duration_ms=3000)])
    assert far.wait_tone(1000, 8), "the caller hears us"
    x.clear()
    assert x.wait_state(ExchangeState.IDLE, timeout=5) is ExchangeState.IDLE
    s.wait_idle(i)


def test_inbound_call_delivers_ani_dnis_audio_and_clear_forward(r2site: R2Site) -> None:
    offered = {0: AsyncResult()}
    r2site.site.board.call_handler = _answering_handler(offered)
    _one_call(r2site, 0, offered)
    st = r2site.site.far.channels[0].status()
    assert st["cas_rx"] == 0xB and st["cas_tx"] == 0xB


@pytest.mark.parametrize("r2site", [30], indirect=True)
def test_thirty_simultaneous_inbound_calls(r2site: R2Site) -> None:
    offered = {i: AsyncResult() for i in range(30)}
    r2site.site.board.call_handler = _answering_handler(offered)
    calls = [gevent.spawn(_one_call, r2site, i, offered) for i in range(30)]
    gevent.joinall(calls, timeout=60, raise_error=True)
    assert all(g.successful() for g in calls)


def test_we_hang_up_first_clear_back_then_clear_forward(r2site: R2Site) -> None:
    def handle(ch: Channel) -> None:
        ch.answer()
        ch.play([Play.tone(1000, duration_ms=500)], barge_in=False)
        # returning ends the call: the board releases the channel -> R2 clear-back

    r2site.site.board.call_handler = handle
    x = r2site.exchanges[0]
    x.call("13912345678", "95566001", category=1)
    got = x.wait_state(ExchangeState.CLEARED_BACK, ExchangeState.FAILED, timeout=15)
    assert got is ExchangeState.CLEARED_BACK
    ch = r2site.site.board.channels[0]
    assert isinstance(ch, R2Channel)
    assert ch.caller_id == "" and ch.in_call, "released locally; the R2 call waits for clear-forward"
    x.clear()
    assert x.wait_state(ExchangeState.IDLE, timeout=5) is ExchangeState.IDLE
    r2site.wait_idle(0)


def test_dahdi_install_is_idempotent_and_leaves_other_fds_alone(tmp_path: Path) -> None:
    from appliance.drivers._binding import lib

    n = lib.vb_dahdi_install()
    assert n >= 3 and lib.vb_dahdi_install() == n
    f = tmp_path / "plain"
    f.write_bytes(b"ok")           # plain read/write in this process are not redirected
    assert f.read_bytes() == b"ok"


def test_call_released_before_answer_ends_idle_after_the_clear_forward(r2site: R2Site) -> None:
    """An agent-less reject: we release the offered call unanswered; once the exchange clears
    forward the channel must be free again (openr2 asks for a second disconnect here)."""
    offered: AsyncResult = AsyncResult()
    r2site.site.board.call_handler = None
    r2site.site.board.subscribe(lambda name, ch, **_: offered.set(ch) if name == "call.offered" else None)
    x = r2site.exchanges[0]
    x.call("13800138000", "95566001")
    ch = offered.get(timeout=15)
    assert isinstance(ch, R2Channel) and ch.in_call
    ch.release("rejected before answer")
    got = x.wait_state(ExchangeState.REJECTED, ExchangeState.FAILED, timeout=5)
    assert got is ExchangeState.REJECTED, "the exchange sees the call refused (clear-back before answer)"
    x.clear()
    assert x.wait_state(ExchangeState.IDLE, timeout=5) is ExchangeState.IDLE
    wait_for(lambda: ch.available, 5, "the channel is free for the next call")
