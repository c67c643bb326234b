"""1,000 random DTMF / hook sequences from the far side: no crash, no stuck or leaked channel."""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest

from appliance import attendant as attendant_mod
from appliance.attendant import Attendant
from appliance.voiceboard import channel as channel_mod
from appliance.voiceboard.channel import Channel, ChannelState, Play
from appliance.voiceboard.events import CidFormat, Kind, Tone
from appliance.voiceboard.prompts import PromptSet
from appliance.voiceboard.sim import SimulatedSite

from .test_fxo_call import wait_for

SEQUENCES = 1000
DIGITS = "0123456789*#ABCD"


@pytest.fixture
def short_timeouts() -> Iterator[None]:
    saved = (channel_mod.OFFER_AFTER_RING, channel_mod.RING_GONE, attendant_mod.STATION_RING_TIMEOUT,
             attendant_mod.MENU_DIGIT_TIMEOUT)
    channel_mod.OFFER_AFTER_RING, channel_mod.RING_GONE = 1.0, 1.5
    attendant_mod.STATION_RING_TIMEOUT, attendant_mod.MENU_DIGIT_TIMEOUT = 2.0, 1.0
    yield
    (channel_mod.OFFER_AFTER_RING, channel_mod.RING_GONE, attendant_mod.STATION_RING_TIMEOUT,
     attendant_mod.MENU_DIGIT_TIMEOUT) = saved


def exchange_action(port: Channel, rng: random.Random) -> None:
    """One random thing an exchange line card does to our trunk."""
    b = port.board.handle
    lib = channel_mod.lib
    what = rng.randrange(6)
    if what == 0:
        number = "".join(rng.choice("0123456789") for _ in range(rng.randrange(0, 14)))
        lib.vb_ring(b, port.index, rng.choice([200, 1000]), rng.choice([300, 4000]), number.encode(),
                    b"", rng.choice([int(CidFormat.FSK), int(CidFormat.DTMF)]))
    elif what == 1:
        lib.vb_ring_stop(b, port.index)
    elif what == 2:
        lib.vb_send_dtmf(b, port.index, 0, "".join(rng.choice(DIGITS) for _ in range(rng.randrange(1, 6)))
                         .encode(), rng.choice([40, 80]), rng.choice([40, 80]))
    elif what == 3:
        lib.vb_polarity(b, port.index, rng.randrange(2))
    elif what == 4:
        port.start_play([Play.tone(rng.choice([450, 1000, 697]), duration_ms=rng.randrange(50, 400))])
    else:
        lib.vb_battery(b, port.index, rng.randrange(2))


def phone_action(phone: Channel, rng: random.Random) -> None:
    """One random thing a person does with a phone on our station."""
    b = phone.board.handle
    lib = channel_mod.lib
    what = rng.randrange(4)
    if what == 0:
        lib.vb_hook(b, phone.index, 1)
    elif what == 1:
        lib.vb_hook(b, phone.index, 0)
    elif what == 2:
        lib.vb_flash(b, phone.index, rng.choice([100, 300, 500, 900]))
    else:
        lib.vb_send_dtmf(b, phone.index, 0, "".join(rng.choice(DIGITS) for _ in range(rng.randrange(1, 5)))
                         .encode(), rng.choice([40, 80]), rng.choice([40, 80]))


def restore_idle(far: Channel) -> None:
    lib = channel_mod.lib
    b = far.board.handle
    if far.kind is Kind.FXS:
        lib.vb_ring_stop(b, far.index)
        lib.vb_battery(b, far.index, 1)
        lib.vb_polarity(b, far.index, 0)
        far.start_play([Play.cptone(Tone.BUSY, 1500)])   # the caller hung up
    else:
        lib.vb_hook(b, far.index, 0)


def run_sequences(far: Channel, count: int, seed: int) -> int:
    rng = random.Random(seed)
    act = exchange_action if far.kind is Kind.FXS else phone_action
    for _ in range(count):
        for _ in range(rng.randrange(2, 7)):
            act(far, rng)
            gevent.sleep(rng.uniform(0, 0.15))
        restore_idle(far)
        gevent.sleep(rng.uniform(0, 0.1))
    return count


def test_random_far_side_sequences(short_timeouts: None, test_prompts: PromptSet, tmp_path: Path,
                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    with SimulatedSite("fxo:8,fxs:16", name="fz") as site:
        site.board.call_handler = Attendant(site.board, test_prompts, tmp_path, report=lambda _m: None).handle
        fars = site.far.channels
        base, extra = divmod(SEQUENCES, len(fars))
        per_line = [base + (1 if i < extra else 0) for i in range(len(fars))]
        jobs = [gevent.spawn(run_sequences, far, n, 1000 + i)
                for i, (far, n) in enumerate(zip(fars, per_line, strict=True))]
        gevent.joinall(jobs, raise_error=True)
        assert sum(j.value for j in jobs) == SEQUENCES
        for far in fars:
            restore_idle(far)
        wait_for(lambda: all(c.state is ChannelState.IDLE for c in site.board.channels), 40,
                 "every channel of ours back to idle")
        wait_for(lambda: site.board.stats()["active_plays"] == 0, 5, "no play left running")
        st = site.board.stats()
        assert (st["active_records"], st["open_files"], st["connections"], st["conf_members"]) == (0, 0, 0, 0)
        assert st["events_lost"] == 0
        assert all(not c.owner for c in site.board.channels)
    crashes = [r for r in caplog.records if "handler failed" in r.getMessage() or "died" in r.getMessage()]
    assert not crashes, [r.getMessage() for r in crashes[:5]]
