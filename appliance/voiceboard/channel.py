"""Channel: one line of a voice board, with a gevent-friendly call API.

Every operation queues a command on the C media engine and waits for its
outcome event, so the hub never blocks.  The far end going away (on-hook,
busy tone, polarity reversal, cable cut) is raised as :class:`Hangup` into
the greenlet that owns the call, so its ``finally`` releases everything.

The same class serves both ends of a virtual cable: an FXO trunk answers a
ringing line and an FXS port rings a phone, whichever board they sit on.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import AsyncResult
from gevent.queue import Empty, Queue

from appliance.drivers._binding import PlayItem, check, ffi, lib, play_items

from .errors import Busy, ChannelBusy, Hangup, NoAnswer, NoDialTone
from .events import BoardEvent, CidFormat, Kind, PlayReason, RecordReason, Tone

if TYPE_CHECKING:
    from .board import Board

log = logging.getLogger(__name__)

# Timeouts (seconds); module level so tests can shorten them.
RING_TIMEOUT = 30.0          # ringing a station or a line before NoAnswer
OFFER_AFTER_RING = 6.5       # FXO: offer the call without caller ID after this long
RING_GONE = 6.5              # FXO: ringing stopped for this long before answer -> caller gave up
DIAL_TONE_WAIT = 3.0         # FXO: wait for dial tone after seizing
ANSWER_WAIT = 45.0           # FXO: wait for the far end to answer an outgoing call
DIGIT_TIMEOUT = 5.0          # collect_digits: first digit
INTERDIGIT_TIMEOUT = 3.0     # collect_digits: between digits
OP_SLACK = 5.0               # extra time allowed for an engine operation beyond its own length
EVENT_HISTORY = 200          # events kept per channel for diagnostics


class ChannelState(Enum):
    IDLE = "idle"
    ALERTING = "alerting"        # FXO: ring voltage seen, call being offered
    OFFHOOK = "offhook"          # FXS: the phone went off-hook by itself (originating)
    RINGING = "ringing"          # FXS: we are ringing the phone
    DIALING = "dialing"          # FXO: seized, dialing, waiting for answer
    UP = "up"                    # call established
    CLEARING = "clearing"        # far end gone, waiting for local release
    DOWN = "down"                # line down (cable cut, link lost)


@dataclass(frozen=True, slots=True)
class PlayResult:
    reason: PlayReason
    digit: str = ""
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RecordResult:
    reason: RecordReason
    duration_ms: int
    path: str
    error: str = ""
    digit: str = ""


Play = PlayItem   # one play item: Play.file / .tone / .cptone / .dtmf / .silence


PlaySpec = Play | str | Path


def _as_play(item: PlaySpec) -> Play:
    return item if isinstance(item, Play) else Play.file(item)


class Channel:
    """One channel of a :class:`Board`.  Created by the board, not directly."""

    def __init__(self, board: Board, index: int, kind: Kind) -> None:
        self.board = board
        self.index = index
        self.kind = kind
        self.state = ChannelState.IDLE
        self.caller_id = ""
        self.caller_name = ""
        self.cid_format: CidFormat | None = None
        self.owner: gevent.Greenlet | None = None
        self.heard = ""                       # every DTMF digit detected, in order (tests listen with it)
        self.events: deque[BoardEvent] = deque(maxlen=EVENT_HISTORY)
        self.flashes: Queue[int] = Queue()
        self.cas_rx = 0
        self.e1_alarm = 0                     # E1: VB_E1_ALARM_* mask the engine reports
        self.line_up = False                  # set by the engine's LINE events once the cable is up
        self.tones_on: set[int] = set()       # tones (Tone ids or Hz) detected on the line right now
        self._digits: Queue[str] = Queue()
        self._waiters: dict[int, AsyncResult] = {}
        self._play_errors: dict[int, list[str]] = {}
        self._hook_waiter: AsyncResult | None = None
        self._tone_waiters: dict[int, AsyncResult] = {}
        self._answered_polarity = 0
        self._polarity = 0
        self._hangup_sent: Hangup | None = None
        self._ring_watch: gevent.Greenlet | None = None
        self._offered = False
        self._rings = 0
        self._last_ring_ms = 0
        self.prefix = f"[{board.name}:{index}:{kind.name}]"

    # ------------------------------------------------------------------ state
    def __repr__(self) -> str:
        return f"<Channel {self.prefix} {self.state.value}>"

    def _set_state(self, new: ChannelState, why: str = "") -> None:
        old = self.state
        if old is new:
            return
        self.state = new
        log.info("%s %s -> %s %s", self.prefix, old.value, new.value, why)
        self.board.emit("channel.state", self, old=old, new=new, why=why)

    @property
    def busy(self) -> bool:
        return self.state not in (ChannelState.IDLE, ChannelState.DOWN)

    def _require(self, *kinds: Kind) -> None:
        if self.kind not in kinds:
            names = "/".join(k.name for k in kinds)
            raise ValueError(f"{self.prefix} operation needs a {names} channel")

    def _b(self) -> Any:
        return self.board.handle

    def _tag(self) -> tuple[int, AsyncResult]:
        tag = self.board.next_tag()
        result: AsyncResult = AsyncResult()
        self._waiters[tag] = result
        return tag, result

    def _wait(self, tag: int, result: AsyncResult, timeout: float | None) -> Any:
        try:
            self._raise_if_gone()
            return result.get(timeout=timeout)
        finally:
            self._waiters.pop(tag, None)

    def _raise_if_gone(self) -> None:
        if self.state in (ChannelState.CLEARING, ChannelState.DOWN) and self._hangup_sent is not None:
            raise self._hangup_sent

    # --------------------------------------------------------------- call API
    def answer(self) -> None:
        """Take the call: FXO goes off-hook; FXS signals answer by polarity reversal."""
        if self.kind is Kind.FXO:
            check(lib.vb_hook(self._b(), self.index, 1))
        elif self.kind is Kind.FXS:
            check(lib.vb_polarity(self._b(), self.index, 1))
            self._polarity = 1
        else:
            raise NotImplementedError(f"{self.prefix} E1 calls are answered through R2 signalling")
        self._answered_polarity = self._polarity
        self._drain_digits()        # caller-ID DTMF heard while on-hook is not caller input
        if self.kind is Kind.FXO:
            self._enable_disconnect_detect(True)
        self._set_state(ChannelState.UP, "answered")

    def hangup(self) -> None:
        """End the call from our side and release every resource of the channel."""
        self.release(reason="local hangup")

    def release(self, reason: str = "release") -> None:
        """Stop play/record, leave bridges and conferences, put the line back to idle."""
        b = self._b()
        lib.vb_chan_reset(b, self.index)
        lib.vb_disconnect(b, self.index)
        lib.vb_conf_leave(b, self.index)
        if self.kind is Kind.FXO:
            lib.vb_hook(b, self.index, 0)
            self._enable_disconnect_detect(False)
        elif self.kind is Kind.FXS:
            lib.vb_ring_stop(b, self.index)
            if self._polarity:
                lib.vb_polarity(b, self.index, 0)
                self._polarity = 0
            if self.line_up and self.state in (ChannelState.UP, ChannelState.OFFHOOK):
                # China: the station hears busy tone until it hangs up.
                self._play_items([Play.cptone(Tone.BUSY)], 0, tag=0)
        self._fail_waiters(None)
        if self._ring_watch is not None:
            self._ring_watch.kill(block=False)
            self._ring_watch = None
        self.owner = None
        self._hangup_sent = None
        self._offered = False
        self.caller_id = self.caller_name = ""
        self.cid_format = None
        self._drain_digits()
        if self.state is not ChannelState.DOWN:
            phone_still_up = self.kind is Kind.FXS and self.state in (ChannelState.UP, ChannelState.OFFHOOK)
            self._set_state(ChannelState.CLEARING if phone_still_up else ChannelState.IDLE, reason)

    def play(self, prompts: Iterable[PlaySpec], barge_in: bool = True,
             timeout: float | None = None) -> PlayResult:
        """Play prompts in order; returns when done or barged in by a digit."""
        items = [_as_play(p) for p in prompts]
        if not items:
            return PlayResult(PlayReason.END)
        tag, result = self._tag()
        self._play_errors[tag] = []
        try:
            self._play_items(items, lib.VB_PLAY_BARGE_IN if barge_in else 0, tag)
            reason, digit = self._wait(tag, result, timeout)
            return PlayResult(PlayReason(reason), digit, tuple(self._play_errors.get(tag, ())))
        finally:
            self._play_errors.pop(tag, None)

    def start_play(self, prompts: Iterable[PlaySpec], barge_in: bool = False) -> int:
        """Start prompts (music on hold, tones) without waiting; returns the tag."""
        items = [_as_play(p) for p in prompts]
        tag = self.board.next_tag()
        self._play_items(items, lib.VB_PLAY_BARGE_IN if barge_in else 0, tag)
        return tag

    def stop_play(self) -> None:
        check(lib.vb_play_stop(self._b(), self.index))

    def _play_items(self, items: Sequence[Play], flags: int, tag: int) -> None:
        if len(items) > lib.VB_PLAY_MAX_ITEMS:
            raise ValueError(f"{self.prefix} at most {lib.VB_PLAY_MAX_ITEMS} items per play")
        arr, _keep = play_items(items)
        check(lib.vb_play(self._b(), self.index, tag, arr, len(items), flags))

    def send_dtmf(self, digits: str, on_ms: int = 80, off_ms: int = 80) -> None:
        """Send DTMF digits down the line and wait until they are out."""
        tag, result = self._tag()
        check(lib.vb_send_dtmf(self._b(), self.index, tag, digits.encode(), on_ms, off_ms))
        self._wait(tag, result, len(digits) * (on_ms + off_ms) / 1000 + OP_SLACK)

    def collect_digits(self, max_digits: int, timeout: float = DIGIT_TIMEOUT,
                       interdigit: float = INTERDIGIT_TIMEOUT, terminators: str = "#") -> str:
        """Collect up to ``max_digits`` digits (digits typed during a prompt count)."""
        got = ""
        wait = timeout
        while len(got) < max_digits:
            self._raise_if_gone()
            try:
                digit = self._digits.get(timeout=wait)
            except Empty:
                break
            if isinstance(digit, Hangup):
                raise digit
            if digit in terminators:
                break
            got += digit
            wait = interdigit
        return got

    def flush_digits(self) -> str:
        return self._drain_digits()

    def _drain_digits(self) -> str:
        got = ""
        while True:
            try:
                d = self._digits.get_nowait()
            except Empty:
                return got
            if isinstance(d, str):
                got += d

    def record(self, path: str | Path, max_s: float = 60.0, silence_s: float = 5.0, beep: bool = True,
               stop_on_dtmf: bool = True, rx_only: bool = False) -> RecordResult:
        """Record the call (both directions mixed) to an A-law WAV; returns when it ends."""
        if beep:
            self.play([Play.cptone(Tone.BEEP)], barge_in=False)
        flags = (lib.VB_REC_STOP_ON_DTMF if stop_on_dtmf else 0) | (lib.VB_REC_RX_ONLY if rx_only else 0)
        tag, result = self._tag()
        check(lib.vb_record_start(self._b(), self.index, tag, str(path).encode(), int(max_s * 1000),
                                  int(silence_s * 1000), flags))
        reason, duration, text, digit = self._wait(tag, result, max_s + OP_SLACK)
        rr = RecordReason(reason)
        return RecordResult(rr, duration, str(path), text if rr is RecordReason.ERROR else "", digit)

    def start_record(self, path: str | Path, max_s: float = 4 * 3600.0, rx_only: bool = False) -> int:
        """Start recording the call without waiting (call recording); returns the tag."""
        tag = self.board.next_tag()
        check(lib.vb_record_start(self._b(), self.index, tag, str(path).encode(), int(max_s * 1000), 0,
                                  lib.VB_REC_RX_ONLY if rx_only else 0))
        return tag

    def stop_record(self) -> None:
        check(lib.vb_record_stop(self._b(), self.index))

    # --------------------------------------------------------- trunks: dial
    def dial(self, number: str, wait_answer: bool = True, timeout: float = ANSWER_WAIT) -> None:
        """Place a call on an analog trunk: seize, wait dial tone, send DTMF, wait answer."""
        self._require(Kind.FXO)
        if self.busy:
            raise ChannelBusy(f"{self.prefix} is {self.state.value}")
        if not number or any(c not in "0123456789*#" for c in number):
            raise ValueError(f"{self.prefix} invalid number {number!r}")
        self.seize(DIAL_TONE_WAIT, why=f"dial {number}")
        self.send_dtmf(number)
        if wait_answer:
            self.wait_answer(timeout)

    def seize(self, timeout: float = DIAL_TONE_WAIT, why: str = "seize") -> None:
        """FXO: go off-hook and wait for the exchange's dial tone (NoDialTone if none)."""
        self._require(Kind.FXO)
        if self.busy:
            raise ChannelBusy(f"{self.prefix} is {self.state.value}")
        self._set_state(ChannelState.DIALING, why)
        lib.vb_detect_cptones(self._b(), self.index, 1)
        check(lib.vb_hook(self._b(), self.index, 1))
        if not self.wait_tone(Tone.DIAL, timeout=timeout):
            self.release("no dial tone")
            raise NoDialTone(f"{self.prefix} no dial tone")

    def wait_answer(self, timeout: float = ANSWER_WAIT) -> None:
        """FXO outgoing: answered = polarity reversal; busy tone = Busy; else NoAnswer."""
        start_pol = self._polarity
        deadline = gevent.get_hub().loop.now() + timeout
        while True:
            self._raise_if_gone()
            remaining = deadline - gevent.get_hub().loop.now()
            if remaining <= 0:
                self.release("no answer")
                raise NoAnswer(f"{self.prefix} no answer")
            waiter = AsyncResult()
            self._tone_waiters[-1] = waiter
            try:
                what = waiter.get(timeout=min(remaining, 0.5))
            except gevent.Timeout:
                what = None
            finally:
                self._tone_waiters.pop(-1, None)
            if self._polarity != start_pol or what == "polarity":
                self._answered_polarity = self._polarity
                self._set_state(ChannelState.UP, "far end answered")
                return
            if what in (int(Tone.BUSY), int(Tone.CONGESTION)):
                self.release("busy")
                raise Busy(f"{self.prefix} busy")

    # ------------------------------------------------------ stations: ring
    def ring(self, caller_id: str = "", name: str = "", cid_format: CidFormat = CidFormat.FSK,
             timeout: float = RING_TIMEOUT, cadence: tuple[int, int] = (1000, 4000)) -> None:
        """Ring the phone on an FXS port (with caller ID) until it goes off-hook.

        Raises NoAnswer after ``timeout`` and Hangup if the line goes down.
        """
        self._require(Kind.FXS)
        if self.busy:
            raise ChannelBusy(f"{self.prefix} is {self.state.value}")
        if caller_id and any(c not in "0123456789*#" for c in caller_id):
            raise ValueError(f"{self.prefix} invalid caller id {caller_id!r}")
        waiter: AsyncResult = AsyncResult()
        self._hook_waiter = waiter
        check(lib.vb_ring(self._b(), self.index, cadence[0], cadence[1], caller_id.encode(),
                          name.encode(), int(cid_format)))
        self._set_state(ChannelState.RINGING, f"cid={caller_id or '-'}")
        try:
            waiter.get(timeout=timeout)
        except gevent.Timeout:
            lib.vb_ring_stop(self._b(), self.index)
            self._set_state(ChannelState.IDLE, "no answer")
            self.owner = None
            raise NoAnswer(f"{self.prefix} no answer after {timeout:.0f} s") from None
        finally:
            self._hook_waiter = None
        self._set_state(ChannelState.UP, "phone answered")

    # ----------------------------------------------------------- switching
    def bridge(self, other: Channel) -> None:
        """Connect this channel and ``other`` full duplex (both on the same board)."""
        if other.board is not self.board:
            raise ValueError("bridge needs two channels of the same board")
        check(lib.vb_connect(self._b(), self.index, other.index))

    def unbridge(self) -> None:
        check(lib.vb_disconnect(self._b(), self.index))

    def listen_to(self, target: Channel) -> None:
        """Hear both sides of ``target``'s call (silent monitoring)."""
        check(lib.vb_listen(self._b(), self.index, target.index))

    # ------------------------------------------------------------ detection
    def detect_tone(self, freq_hz: int, slot: int = 0, min_ms: int = 60) -> None:
        check(lib.vb_detect_tone(self._b(), self.index, slot, freq_hz, min_ms))

    def wait_tone(self, tone: Tone | int, timeout: float) -> bool:
        """Wait until a call-progress tone (Tone) or a detected custom frequency (Hz) is on."""
        key = int(tone)
        if key in self.tones_on:
            return True
        waiter: AsyncResult = AsyncResult()
        self._tone_waiters[key] = waiter
        try:
            waiter.get(timeout=timeout)
            return True
        except gevent.Timeout:
            return False
        finally:
            self._tone_waiters.pop(key, None)

    def wait_hangup(self, timeout: float | None = None) -> None:
        """Block until the far end hangs up (raises Hangup) or ``timeout`` passes (returns)."""
        tag, result = self._tag()
        try:
            self._wait(tag, result, timeout)
        except gevent.Timeout:
            return

    def claim(self) -> None:
        """Make the current greenlet the owner of this channel's call (it receives Hangup)."""
        self.owner = gevent.getcurrent()

    def status(self) -> dict[str, int]:
        st = ffi.new("vb_chan_status_t *")
        check(lib.vb_chan_status(self._b(), self.index, st))
        return {name: int(getattr(st, name)) for name in (
            "kind", "linked", "line_up", "hook", "ringing", "polarity", "cas_tx", "cas_rx", "playing",
            "recording", "connected_to", "listening_to", "conf", "alarm")}

    # -------------------------------------------------------------- signalling
    def hook(self, offhook: bool) -> None:
        self._require(Kind.FXO)
        check(lib.vb_hook(self._b(), self.index, 1 if offhook else 0))

    def flash(self, ms: int = 300) -> None:
        self._require(Kind.FXO)
        check(lib.vb_flash(self._b(), self.index, ms))

    def set_polarity(self, reversed_: bool) -> None:
        self._require(Kind.FXS)
        check(lib.vb_polarity(self._b(), self.index, 1 if reversed_ else 0))
        self._polarity = 1 if reversed_ else 0

    def cas_tx(self, abcd: int) -> None:
        self._require(Kind.E1)
        check(lib.vb_cas_tx(self._b(), self.index, abcd))

    def cut(self, cut: bool = True) -> None:
        """Cut (or mend) this line's cable at our end (fault injection)."""
        check(lib.vb_link_cut(self._b(), self.index, 1 if cut else 0))

    def inject_e1_fault(self, los: bool = False, ais: bool = False, rai: bool = False) -> None:
        """E1 fault injection at this end's transmitter: the far end sees red, blue or yellow alarm."""
        self._require(Kind.E1)
        flags = ((lib.VB_E1_INJECT_LOS if los else 0) | (lib.VB_E1_INJECT_AIS if ais else 0)
                 | (lib.VB_E1_INJECT_RAI if rai else 0))
        check(lib.vb_e1_inject(self._b(), self.index, flags))

    def _enable_disconnect_detect(self, on: bool) -> None:
        lib.vb_detect_cptones(self._b(), self.index, 1 if on else 0)

    # ------------------------------------------------------------- far hangup
    def _far_hangup(self, cause: str) -> None:
        if self._hangup_sent is not None:
            return
        exc = Hangup(cause)
        self._hangup_sent = exc
        if self.state is not ChannelState.DOWN:
            self._set_state(ChannelState.CLEARING, cause)
        self._fail_waiters(exc)
        owner = self.owner
        if (isinstance(owner, gevent.Greenlet) and not owner.dead and owner is not gevent.getcurrent()):
            if not self._owner_waiting_on_channel():
                owner.kill(exc, block=False)

    def _owner_waiting_on_channel(self) -> bool:
        return bool(self._waiters) or self._hook_waiter is not None or bool(self._tone_waiters)

    def _fail_waiters(self, exc: Hangup | None) -> None:
        for result in list(self._waiters.values()):
            if not result.ready():
                result.set_exception(exc or Hangup("released"))
        self._waiters.clear()
        if self._hook_waiter is not None and not self._hook_waiter.ready():
            self._hook_waiter.set_exception(exc or Hangup("released"))
        for waiter in list(self._tone_waiters.values()):
            if not waiter.ready():
                waiter.set_exception(exc or Hangup("released"))
        if exc is not None:
            self._digits.put(exc)

    # ------------------------------------------------------------ event entry
    def dispatch(self, ev: BoardEvent) -> None:
        self.events.append(ev)
        handler: Callable[[BoardEvent], None] | None = getattr(self, f"on_{ev.type.name.lower()}", None)
        if handler is not None:
            handler(ev)

    def on_dtmf(self, ev: BoardEvent) -> None:
        digit = chr(ev.arg)
        self.heard += digit
        self._digits.put(digit)

    def on_play_done(self, ev: BoardEvent) -> None:
        waiter = self._waiters.get(ev.tag)
        if waiter is not None and not waiter.ready():
            waiter.set((ev.arg, chr(ev.arg2) if ev.arg2 > 0 else ""))

    def on_play_error(self, ev: BoardEvent) -> None:
        log.warning("%s play item %d: %s", self.prefix, ev.arg, ev.text)
        self._play_errors.setdefault(ev.tag, []).append(ev.text)
        self.board.emit("channel.play_error", self, text=ev.text)

    def on_record_done(self, ev: BoardEvent) -> None:
        if ev.arg == RecordReason.ERROR:
            log.error("%s recording failed: %s", self.prefix, ev.text)
            self.board.emit("channel.record_error", self, text=ev.text)
        waiter = self._waiters.get(ev.tag)
        if waiter is not None and not waiter.ready():
            waiter.set((ev.arg, ev.arg2, ev.text, ""))
        self.board.emit("channel.record_done", self, tag=ev.tag, reason=ev.arg, duration_ms=ev.arg2)

    def on_digits_sent(self, ev: BoardEvent) -> None:
        waiter = self._waiters.get(ev.tag)
        if waiter is not None and not waiter.ready():
            waiter.set(True)

    def on_cmd_error(self, ev: BoardEvent) -> None:
        log.error("%s command %d failed (%d): %s", self.prefix, ev.tag, ev.arg, ev.text)
        waiter = self._waiters.get(ev.tag)
        if waiter is not None and not waiter.ready():
            waiter.set_exception(RuntimeError(f"{self.prefix} {ev.text}"))

    def on_hook(self, ev: BoardEvent) -> None:
        offhook = ev.arg == 1
        if offhook:
            if self._hook_waiter is not None and not self._hook_waiter.ready():
                self._hook_waiter.set(True)
            elif self.state is ChannelState.IDLE:
                self._set_state(ChannelState.OFFHOOK, "phone off-hook")
                self.board.offer(self)
        else:
            if self.state is ChannelState.CLEARING and self._hangup_sent is None:
                lib.vb_chan_reset(self._b(), self.index)   # stop the busy tone
                self._set_state(ChannelState.IDLE, "phone on-hook")
            elif self.state in (ChannelState.UP, ChannelState.OFFHOOK):
                self._far_hangup("on-hook")

    def on_flash(self, ev: BoardEvent) -> None:
        self.flashes.put(ev.time_ms)
        self.board.emit("channel.flash", self)

    def on_ring(self, ev: BoardEvent) -> None:
        if self.kind is not Kind.FXO:
            return
        self._last_ring_ms = self.board.now_ms()
        if ev.arg != 1:
            return
        if self.state is ChannelState.IDLE:
            self._set_state(ChannelState.ALERTING, "ring")
            self._offered = False
            self._rings = 0
            self._ring_watch = self.board.spawn(self._watch_ringing)
        if self.state is ChannelState.ALERTING:
            self._rings += 1
            if self.cid_format is CidFormat.DTMF or self._rings >= 2:
                self._offer()

    def _watch_ringing(self) -> None:
        """Offer the call without CID if none came; drop it if the ringing stops."""
        waited = 0.0
        while self.state is ChannelState.ALERTING:
            gevent.sleep(0.25)
            waited += 0.25
            if waited >= OFFER_AFTER_RING:
                self._offer()
            ring_gone = self.board.now_ms() - self._last_ring_ms > RING_GONE * 1000
            if ring_gone and self.state is ChannelState.ALERTING:
                if self._offered:
                    self._far_hangup("caller abandoned while ringing")
                    self.release("abandoned")
                else:
                    self._set_state(ChannelState.IDLE, "ringing stopped")
                return

    def _offer(self) -> None:
        if not self._offered:
            self._offered = True
            self.board.offer(self)

    def on_callerid(self, ev: BoardEvent) -> None:
        self._last_ring_ms = self.board.now_ms()
        number, _, name = ev.text.partition("\t")
        self.caller_id, self.caller_name = number, name
        self.cid_format = CidFormat(ev.arg)
        log.info("%s caller id %s %s (%s)", self.prefix, number, name, self.cid_format.name)
        if self.state is ChannelState.IDLE and self.kind is Kind.FXO:
            self._set_state(ChannelState.ALERTING, "caller id before ring")
            self._offered = False
            self._rings = 0
            self._ring_watch = self.board.spawn(self._watch_ringing)
        if self.state is ChannelState.ALERTING and self.cid_format is CidFormat.FSK:
            self._offer()

    def on_polarity(self, ev: BoardEvent) -> None:
        self._polarity = ev.arg
        waiter = self._tone_waiters.get(-1)
        if waiter is not None and not waiter.ready():
            waiter.set("polarity")
            return
        if self.state is ChannelState.UP and self.kind is Kind.FXO and ev.arg != self._answered_polarity:
            self._far_hangup("polarity reversal")

    def on_tone(self, ev: BoardEvent) -> None:
        if ev.arg2 != 1:
            self.tones_on.discard(ev.arg)
            return
        self.tones_on.add(ev.arg)
        for key in (ev.arg, -1):
            waiter = self._tone_waiters.get(key)
            if waiter is not None and not waiter.ready():
                waiter.set(ev.arg)
        if (self.kind is Kind.FXO and self.state is ChannelState.UP
                and ev.arg in (int(Tone.BUSY), int(Tone.CONGESTION)) and -1 not in self._tone_waiters):
            self._far_hangup("busy tone")

    def on_line(self, ev: BoardEvent) -> None:
        up = ev.arg == 1
        self.line_up = up
        self.board.emit("channel.line", self, up=up)
        if not up:
            was_busy = self.busy
            self._set_state(ChannelState.DOWN, "line down")
            if was_busy or self.owner is not None:
                self._far_hangup("line down")
        elif self.state is ChannelState.DOWN:
            self._hangup_sent = None
            self._set_state(ChannelState.IDLE, "line up")

    def on_cas(self, ev: BoardEvent) -> None:
        self.cas_rx = ev.arg

    def on_alarm(self, ev: BoardEvent) -> None:
        self.e1_alarm = ev.arg
        self.board.emit("channel.alarm", self, alarm=ev.arg)

    def on_log(self, ev: BoardEvent) -> None:
        level = (logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG)[max(0, min(ev.arg, 3))]
        log.log(level, "%s %s", self.prefix, ev.text)
