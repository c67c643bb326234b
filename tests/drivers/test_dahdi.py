"""The DAHDI card backend (csrc/dahdi.c) on the fake DAHDI kernel (csrc/dahdifake.c).

The engine is the real one; only the kernel under the channel fds is the fake, which keeps
per-channel queues, events, hook and bits the way dahdi-base.c does.  Every check is what a
user of the line, or of the card, would notice.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.drivers._binding import LinkError, PlayItem, VBSystemError, WrongKind, check, ffi, lib

from .rig import E1, FXO, FXS, Board, Rig, digits, longest_run, tone_blocks

FXSKS = lib.DAHDI_SIG_FXSKS      # what an FXO (trunk) port of a card is signalled as
FXOKS = lib.DAHDI_SIG_FXOKS      # what an FXS (station) port is signalled as
CAS = lib.DAHDI_SIG_CAS


@pytest.fixture
def rig() -> Iterator[Rig]:
    lib.vb_dahdi_fake_reset()
    check(lib.vb_dahdi_card_use_fake(1))
    r = Rig()
    yield r
    r.close()                       # closes every bound fd
    lib.vb_dahdi_card_use_fake(0)
    lib.vb_dahdi_fake_reset()


def fake(channo: int) -> Any:
    st = ffi.new("vb_dahdi_fake_state_t *")
    check(lib.vb_dahdi_fake_state(channo, st))
    return st


def card_stats(board: Board, chan: int) -> Any:
    st = ffi.new("vb_dahdi_card_stats_t *")
    check(lib.vb_dahdi_card_stats(board.h, chan, st))
    return st


def bound_board(rig: Rig, kind: int, sigtype: int, n: int = 1, first_channo: int = 1) -> Board:
    """A running board with ``n`` channels of ``kind`` bound to fake DAHDI channels."""
    b = rig.board("card", (kind, n))
    for i in range(n):
        check(lib.vb_dahdi_fake_add(first_channo + i, sigtype))
        check(lib.vb_dahdi_bind(b.h, i, first_channo + i, ffi.NULL))
    b.start()
    rig.wait(b, lib.VB_EV_LINE, 0, arg=1)
    return b


def pull_tx(channo: int) -> bytes:
    buf = ffi.new("uint8_t[]", 1500 * 160)
    n = check(lib.vb_dahdi_fake_pull_tx(channo, buf, 1500 * 160))
    return bytes(ffi.buffer(buf, n))


def push_rx(channo: int, data: bytes) -> None:
    check(lib.vb_dahdi_fake_push_rx(channo, data, len(data)))


def alaw_decode(b: int) -> int:
    """G.711 A-law to 16-bit linear (ITU-T G.711), for checking what went to the card."""
    b ^= 0x55
    seg = (b >> 4) & 7
    mant = b & 0x0F
    mag = (mant << 4) + 8 if seg == 0 else ((mant << 4) + 0x108) << (seg - 1)
    return mag if b & 0x80 else -mag


def dtmf_alaw(tmp_path: Path, digits_: str) -> bytes:
    """The A-law samples of a DTMF string (the engine's own test-prompt writer), padded to blocks."""
    path = tmp_path / f"dtmf-{digits_}.wav"
    check(lib.vb_util_dtmf_wav(str(path).encode(), digits_.encode(), 100, 100, 100))
    raw = path.read_bytes()
    pos = 12
    while pos + 8 <= len(raw):
        cid, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        if cid == b"data":
            data = raw[pos + 8:pos + 8 + size]
            return data + b"\xd5" * (-len(data) % 160 + 160 * 10)
        pos += 8 + size + (size & 1)
    raise AssertionError("no data chunk")


# ---------------------------------------------------------------------------- binding
def test_bind_opens_specifies_and_sets_blocksize_and_alaw(rig: Rig) -> None:
    b = rig.board("card", (FXO, 1))
    check(lib.vb_dahdi_fake_add(7, FXSKS))
    assert fake(7).law == lib.DAHDI_LAW_MULAW and not fake(7).open     # the fake's analog default
    check(lib.vb_dahdi_bind(b.h, 0, 7, ffi.NULL))
    st = fake(7)
    assert st.open == 1 and st.blocksize == 160 and st.law == lib.DAHDI_LAW_ALAW
    cs = card_stats(b, 0)
    assert cs.bound == 1 and cs.channo == 7 and cs.sigtype == FXSKS
    b.start()
    rig.wait(b, lib.VB_EV_LINE, 0, arg=1)
    assert b.status(0).linked == 1 and b.status(0).line_up == 1
    # a second bind of the same engine channel, or of the same DAHDI channel, is refused
    with pytest.raises(LinkError):
        check(lib.vb_dahdi_bind(b.h, 0, 7, ffi.NULL))
    b2 = rig.board("other", (FXO, 1))
    with pytest.raises(VBSystemError) as ei:
        check(lib.vb_dahdi_bind(b2.h, 0, 7, ffi.NULL))
    assert ei.value.errno == errno.EBUSY


def test_wrong_signalling_for_the_channel_kind_is_refused_clearly(rig: Rig) -> None:
    b = rig.board("card", (FXS, 1), (E1, 1))
    check(lib.vb_dahdi_fake_add(1, FXSKS))      # an FXO port of the card
    check(lib.vb_dahdi_fake_add(2, FXOKS))
    with pytest.raises(WrongKind):
        check(lib.vb_dahdi_bind(b.h, 0, 1, ffi.NULL))
    msg = ffi.string(lib.vb_dahdi_card_error()).decode()
    assert "FXSKS" in msg and "FXS station" in msg and "FXOKS/FXOLS" in msg
    assert not fake(1).open                     # the fd was closed again
    with pytest.raises(WrongKind):
        check(lib.vb_dahdi_bind(b.h, 1, 2, ffi.NULL))
    assert "CAS" in ffi.string(lib.vb_dahdi_card_error()).decode()
    check(lib.vb_dahdi_bind(b.h, 0, 2, ffi.NULL))  # the right one binds


def test_failing_open_keeps_errno_and_says_what(rig: Rig) -> None:
    b = rig.board("card", (FXO, 2))
    with pytest.raises(VBSystemError) as ei:
        check(lib.vb_dahdi_bind(b.h, 0, 1, b"/dev/dahdi/nonesuch"))
    assert ei.value.errno == errno.ENOENT
    assert "cannot open /dev/dahdi/nonesuch" in ffi.string(lib.vb_dahdi_card_error()).decode()
    with pytest.raises(VBSystemError) as ei:       # no DAHDI channel 9 configured
        check(lib.vb_dahdi_bind(b.h, 0, 9, ffi.NULL))
    assert ei.value.errno == errno.ENXIO
    # the real system calls: a box without the device
    lib.vb_dahdi_card_use_fake(0)
    with pytest.raises(VBSystemError) as ei:
        check(lib.vb_dahdi_bind(b.h, 1, 1, b"/nonexistent/dahdi/channel"))
    assert ei.value.errno == errno.ENOENT


def test_unbind_closes_the_fd_and_takes_the_line_down(rig: Rig) -> None:
    b = bound_board(rig, FXS, FXOKS)
    check(lib.vb_dahdi_unbind(b.h, 0))
    assert not fake(1).open
    rig.wait(b, lib.VB_EV_LINE, 0, arg=0)
    rig.wait_until(lambda: b.status(0).linked == 0, what="unlinked")
    with pytest.raises(LinkError):
        check(lib.vb_dahdi_unbind(b.h, 0))
    check(lib.vb_dahdi_bind(b.h, 0, 1, ffi.NULL))    # and binds again
    assert fake(1).open


# ------------------------------------------------------------------------------ audio
def test_a_tone_played_by_the_engine_reaches_the_card(rig: Rig) -> None:
    b = bound_board(rig, FXS, FXOKS)
    pull_tx(1)
    b.play(0, [PlayItem.tone(1000, 0, -10, 0, 0, 600)], tag=5)
    rig.wait(b, lib.VB_EV_PLAY_DONE, 0, tag=5)
    samples = [alaw_decode(x) for x in pull_tx(1)]
    assert longest_run(tone_blocks(samples, 1000)) >= 25       # 600 ms = 30 blocks
    assert card_stats(b, 0).writes > 30


def test_dtmf_sent_on_one_card_channel_is_detected_on_another(rig: Rig) -> None:
    b = bound_board(rig, FXS, FXOKS, n=2)
    pull_tx(1)
    check(lib.vb_send_dtmf(b.h, 0, 9, b"159#", 0, 0))
    rig.wait(b, lib.VB_EV_DIGITS_SENT, 0, tag=9)
    rig.run(0.1)
    sent = pull_tx(1)
    push_rx(2, sent[-200 * 160:])   # what left port 1 comes in on port 2
    rig.wait_until(lambda: digits(b, 1) == "159#", what="digits on channel 1")
    assert digits(b, 0) == ""


def test_eagain_is_an_underrun_heard_as_silence(rig: Rig) -> None:
    b = bound_board(rig, FXO, FXSKS)
    before = card_stats(b, 0)
    rig.run(0.4)
    after = card_stats(b, 0)
    assert after.reads == 0 and after.underruns - before.underruns >= 15
    push_rx(1, b"\xd5" * 160 * 5)
    rig.wait_until(lambda: card_stats(b, 0).reads == 5, what="5 blocks read")


def test_an_event_pending_while_reading_loses_neither_event_nor_audio(rig: Rig, tmp_path: Path) -> None:
    b = bound_board(rig, FXS, FXOKS)
    audio = dtmf_alaw(tmp_path, "5")
    push_rx(1, audio)
    check(lib.vb_dahdi_fake_event(1, lib.DAHDI_EVENT_RINGOFFHOOK))  # the phone picks up meanwhile
    rig.wait(b, lib.VB_EV_HOOK, 0, arg=1)
    rig.wait_until(lambda: digits(b, 0) == "5", what="digit 5")
    rig.wait_until(lambda: fake(1).rx_queued == 0, what="RX drained")
    st = card_stats(b, 0)
    assert st.elast >= 1 and st.events >= 1 and st.last_event == lib.DAHDI_EVENT_RINGOFFHOOK
    assert st.reads == len(audio) // 160          # every block read, none dropped for the event


# ------------------------------------------------------------------------- signalling
def test_station_port_hook_flash_and_ring(rig: Rig) -> None:
    b = bound_board(rig, FXS, FXOKS)
    check(lib.vb_ring(b.h, 0, 1000, 4000, ffi.NULL, ffi.NULL, 0))
    rig.wait_until(lambda: fake(1).ringing == 1, what="DAHDI ringing")
    assert fake(1).hook == lib.DAHDI_RING
    ops = fake(1).hook_ops
    rig.wait_until(lambda: fake(1).hook == lib.DAHDI_RINGOFF, timeout=2, what="burst end")
    assert fake(1).hook_ops == ops + 1
    rig.wait_until(lambda: fake(1).hook == lib.DAHDI_RING, timeout=5, what="second burst")
    check(lib.vb_dahdi_fake_event(1, lib.DAHDI_EVENT_RINGOFFHOOK))  # picked up: the kernel trips the ring
    rig.wait(b, lib.VB_EV_HOOK, 0, arg=1)
    rig.wait_until(lambda: b.status(0).ringing == 0, what="ring stopped")
    rig.run(0.1)
    assert fake(1).hook == lib.DAHDI_RING and fake(1).ringing == 0   # no RINGOFF to an off-hook phone
    check(lib.vb_polarity(b.h, 0, 1))
    rig.wait_until(lambda: fake(1).polarity == 1, what="polarity")
    check(lib.vb_dahdi_fake_event(1, lib.DAHDI_EVENT_WINKFLASH))
    e = rig.wait(b, lib.VB_EV_FLASH, 0)
    assert lib.VB_FLASH_MIN_MS <= e.arg <= lib.VB_FLASH_MAX_MS
    check(lib.vb_dahdi_fake_event(1, lib.DAHDI_EVENT_ONHOOK))
    rig.wait(b, lib.VB_EV_HOOK, 0, arg=0)
    assert card_stats(b, 0).ioctl_errors == 0


def test_ring_stop_on_an_idle_station_sends_ringoff(rig: Rig) -> None:
    b = bound_board(rig, FXS, FXOKS)
    check(lib.vb_ring(b.h, 0, 1000, 4000, ffi.NULL, ffi.NULL, 0))
    rig.wait_until(lambda: fake(1).ringing == 1, what="DAHDI ringing")
    check(lib.vb_ring_stop(b.h, 0))
    rig.wait_until(lambda: fake(1).hook == lib.DAHDI_RINGOFF and fake(1).ringing == 0, what="RINGOFF")


def test_trunk_port_hook_flash_ring_and_polarity(rig: Rig) -> None:
    b = bound_board(rig, FXO, FXSKS)
    check(lib.vb_dahdi_fake_event(1, lib.DAHDI_EVENT_RINGBEGIN))
    rig.wait(b, lib.VB_EV_RING, 0, arg=1)
    check(lib.vb_dahdi_fake_event(1, lib.DAHDI_EVENT_RINGOFFHOOK))   # DAHDI: the burst is over
    rig.wait(b, lib.VB_EV_RING, 0, arg=0)
    check(lib.vb_hook(b.h, 0, 1))
    rig.wait_until(lambda: fake(1).offhook == 1 and fake(1).hook == lib.DAHDI_OFFHOOK, what="off-hook")
    check(lib.vb_flash(b.h, 0, 300))
    rig.wait_until(lambda: fake(1).hook == lib.DAHDI_FLASH, what="flash")
    rig.run(0.5)
    assert fake(1).hook == lib.DAHDI_FLASH and fake(1).offhook == 1   # the kernel timed it: no ON/OFF
    assert card_stats(b, 0).ioctl_errors == 0                          # EINPROGRESS is success
    check(lib.vb_dahdi_fake_event(1, lib.DAHDI_EVENT_POLARITY))
    rig.wait(b, lib.VB_EV_POLARITY, 0, arg=1)
    check(lib.vb_hook(b.h, 0, 0))
    rig.wait_until(lambda: fake(1).offhook == 0 and fake(1).hook == lib.DAHDI_ONHOOK, what="on-hook")


def test_e1_cas_bits_both_ways(rig: Rig) -> None:
    b = bound_board(rig, E1, CAS)
    rig.wait_until(lambda: fake(1).txbits == 0xB, what="idle bits sent")  # the engine's idle
    check(lib.vb_cas_tx(b.h, 0, 0x1))
    rig.wait_until(lambda: fake(1).txbits == 0x1, what="SETTXBITS")
    check(lib.vb_dahdi_fake_set_rxbits(1, 0x3))
    e = rig.wait(b, lib.VB_EV_CAS, 0, arg=0x3)
    assert e.arg == 0x3 and b.status(0).cas_rx == 0x3


def test_alarm_takes_the_line_down_and_noalarm_up(rig: Rig) -> None:
    b = bound_board(rig, E1, CAS)
    check(lib.vb_dahdi_fake_alarm(1, lib.DAHDI_ALARM_RED))
    rig.wait(b, lib.VB_EV_LINE, 0, arg=0)
    assert card_stats(b, 0).alarm == lib.DAHDI_ALARM_RED, "the card's alarm mask is kept"
    assert b.status(0).alarm == lib.VB_E1_ALARM_RED
    check(lib.vb_dahdi_fake_alarm(1, 0))
    rig.wait_until(lambda: len(b.find(lib.VB_EV_LINE, 0, arg=1)) == 2, what="line up again")
    assert card_stats(b, 0).alarm == 0


def test_a_channel_bound_while_in_alarm_starts_down(rig: Rig) -> None:
    b = rig.board("card", (E1, 1))
    check(lib.vb_dahdi_fake_add(1, CAS))
    check(lib.vb_dahdi_fake_alarm(1, lib.DAHDI_ALARM_RED))
    check(lib.vb_dahdi_bind(b.h, 0, 1, ffi.NULL))
    assert card_stats(b, 0).alarm == lib.DAHDI_ALARM_RED
    b.start()
    rig.run(0.2)
    assert b.status(0).line_up == 0 and not b.find(lib.VB_EV_LINE, 0, arg=1)


# ------------------------------------------------------------------ the Python layer
def test_dahdi_site_binds_the_spec_and_offers_a_call_from_a_station(rig: Rig) -> None:
    import gevent

    from appliance.voiceboard.dahdi import DahdiError, DahdiSite, parse_channels

    assert parse_channels("1-2,9", 3) == [1, 2, 9]
    with pytest.raises(ValueError, match="one per port"):
        parse_channels("1-4", 3)
    check(lib.vb_dahdi_fake_add(3, FXSKS))
    check(lib.vb_dahdi_fake_add(4, FXOKS))
    with pytest.raises(DahdiError, match=r"port 0 \(DAHDI channel 4\).*FXOKS") as ei:
        DahdiSite("fxo:1,fxs:1", "4,3")
    assert ei.value.code == lib.VB_EKIND
    assert not fake(3).open and not fake(4).open      # the half-bound board was freed
    offered = gevent.event.AsyncResult()
    site = DahdiSite("fxo:1,fxs:1", "3-4")
    site.board.call_handler = offered.set
    with site:
        with gevent.Timeout(2):
            while not all(c.line_up for c in site.board.channels):
                gevent.sleep(0.02)
        check(lib.vb_dahdi_fake_event(4, lib.DAHDI_EVENT_RINGOFFHOOK))
        station = offered.get(timeout=2)
        assert station.index == 1       # the station's phone went off-hook: a call from it
        assert site.stats(1)["events"] == 1 and site.alarmed_ports() == []
    assert not fake(3).open and not fake(4).open
