"""MFC-R2 (China No.1) signalling on E1 channels, through Debian's libopenr2 1.3.3.

openr2 drives each E1 channel through a DAHDI-like fd (on the simulated board, the
emulation in ``drivers/csrc/dahdisim.c``; see ``docs/r2.md``).  One greenlet per
channel waits on that fd with the gevent loop, or for openr2's next timer, and calls
``openr2_chan_process_event`` (never blocks).  openr2's callbacks only queue events in
C; they are drained here after each call and mapped onto the :class:`Channel` state
machine, so ``answer``/``play``/``hangup`` work on an E1 channel as on any other.

Also here: :class:`ScriptedExchange`, the far board's China forward side (``r2x.c``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import AsyncResult, Event

from appliance.drivers._binding import check, ffi, lib

from .channel import Channel, ChannelState
from .errors import Busy, CallError, CallFailed, ChannelBusy, Congestion, Hangup, NoAnswer, NoFreeChannel
from .events import BoardEvent, Kind

if TYPE_CHECKING:
    from .board import Board

log = logging.getLogger(__name__)

ACCEPT_WAIT = 5.0        # answer(): wait for openr2 to finish the group B exchange
ALARM_NAME_WAIT = 0.5    # seconds a span alarm may wait for the engine to name it (LOS/AIS/RAI)
SETUP_TIMEOUT = 20.0     # outgoing: seize to group B accept (a missing backward signal ends it)
ANSWER_WAIT = 60.0       # outgoing: accept to answer before NoAnswer
EVENT_BATCH = 16


class R2Event(IntEnum):
    INIT = 1
    OFFERED = 2
    ACCEPTED = 3
    ANSWERED = 4
    DISCONNECT = 5
    END = 6
    IDLE = 7
    BLOCKED = 8
    PROTOCOL_ERROR = 9
    ALARM = 10
    OS_ERROR = 11


class ExchangeState(IntEnum):
    IDLE = 0
    SEIZED = 1
    MF = 2
    ACCEPTED = 3
    REJECTED = 4
    ANSWERED = 5
    CLEARED_BACK = 6
    CLEARING = 7
    FAILED = 8
    INCOMING = 9        # backward role: we seized it, MF in progress
    RINGING = 10        # backward role: B1 sent, the called party is rung


class ExchangeAnswer(IntEnum):
    """What the exchange does with a call we place (group B signal)."""

    ANSWER = 0
    NO_ANSWER = 1
    BUSY = 2
    CONGESTION = 3
    UNALLOCATED = 4


ALARM_NAMES = {1: "LOS/red", 2: "AIS/blue", 4: "RAI/yellow"}


def alarm_names(mask: int) -> list[str]:
    return [name for bit, name in ALARM_NAMES.items() if mask & bit]


class R2Channel(Channel):
    """An E1 channel whose calls are signalled with R2 by its :class:`R2Span`."""

    def __init__(self, board: Board, index: int, span: R2Span, slot: int) -> None:
        super().__init__(board, index, Kind.E1)
        self.span = span
        self.slot = slot                 # index of the channel in the openr2 context
        self.dnis = ""
        self.category = -1
        self.category_name = ""
        self.in_call = False             # openr2 has a call on this channel (until END)
        self.outgoing = False
        self.blocked = False             # blocked by us (maintenance)
        self.alarm_seen = 0              # E1 alarm masks seen since the span went into alarm
        self.remote_blocked = False      # the exchange sends BLOCKED
        self.in_alarm = False            # openr2 saw a DAHDI alarm on the channel
        self.seized_at = 0.0             # monotonic time of the last seizure
        self.setup_s = 0.0               # seizure -> call offered (ANI, DNIS complete)
        self._accepted: AsyncResult | None = None
        self._progress = Event()
        self._out_accepted = self._out_answered = False
        self._out_error: CallError | None = None
        self._disconnect_sent = False

    @property
    def available(self) -> bool:
        """Free for an outgoing call: idle, up, unblocked, no alarm, no call in openr2."""
        return (self.state is ChannelState.IDLE and self.line_up and not self.in_call and not self.blocked
                and not self.remote_blocked and not self.in_alarm)

    def answer(self) -> None:
        """Answer the offered call (the call was accepted with charge when offered)."""
        if not self.in_call:
            raise Hangup("no call to answer")
        if self._accepted is not None:
            try:
                self._accepted.get(timeout=ACCEPT_WAIT)
            finally:
                self._accepted = None
        self._raise_if_gone()
        check(lib.vb_r2_answer(self.span.handle, self.slot))
        self._drain_digits()
        self._set_state(ChannelState.UP, "answered")

    def place(self, dnis: str, ani: str, category: int, timeout: float) -> None:
        """Outgoing call on this (reserved) channel: seize, MF, wait for answer; raises on failure."""
        self._progress = Event()
        self._out_accepted = self._out_answered = False
        self._out_error = None
        self.claim()
        self.in_call = self.outgoing = True
        self._disconnect_sent = False
        self.dnis, self.caller_id = dnis, ani
        try:
            check(lib.vb_r2_make_call(self.span.handle, self.slot, ani.encode(), dnis.encode(), category))
        except Exception:
            self.in_call = self.outgoing = False
            self.owner = None
            self._set_state(ChannelState.IDLE, "seize refused")
            raise
        self.span.kick(self.slot)
        try:
            self._wait_progress(lambda: self._out_accepted, SETUP_TIMEOUT,
                                CallFailed(f"{self.prefix} no backward signal (set-up timeout)"))
            self._wait_progress(lambda: self._out_answered, timeout, NoAnswer(f"{self.prefix} no answer"))
        except CallError as exc:
            self.release(str(exc))
            raise
        self._set_state(ChannelState.UP, "far end answered")

    def _wait_progress(self, done: Callable[[], bool], timeout: float, on_timeout: CallError) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if self._out_error is not None:
                raise self._out_error
            left = deadline - time.monotonic()
            if left <= 0:
                raise on_timeout
            self._progress.clear()
            self._progress.wait(left)

    def _fail_outcome(self, exc: CallError) -> bool:
        """An outgoing call failed in set-up: hand the error to the dialling greenlet."""
        if self.outgoing and not self._out_answered and self._out_error is None:
            self._out_error = exc
            self._progress.set()
            return True
        return False

    def release(self, reason: str = "release") -> None:
        if self.in_call and not self._disconnect_sent and self.span.handle is not None:
            self._disconnect_sent = True
            lib.vb_r2_disconnect(self.span.handle, self.slot, lib.VB_R2_CAUSE_NORMAL)
            self.span.kick(self.slot)
        self.dnis = ""
        self.category = -1
        super().release(reason)

    # -------------------------------------------------------------- R2 events
    def _call_gone(self, cause: str) -> None:
        """openr2 dropped the call: the owner gets Hangup; with no owner the channel goes idle."""
        if self.owner is not None:
            self._far_hangup(cause)
        elif self.state not in (ChannelState.IDLE, ChannelState.DOWN):
            super().release(cause)

    def on_r2(self, kind: R2Event, ev: Any) -> None:
        handler = getattr(self, f"on_r2_{kind.name.lower()}", None)
        if handler is not None:
            handler(ev)

    def on_r2_init(self, ev: Any) -> None:
        self.in_call = True
        self._disconnect_sent = False
        self.seized_at = time.monotonic()
        self.setup_s = 0.0

    def on_r2_offered(self, ev: Any) -> None:
        self.caller_id = ffi.string(ev.ani).decode()
        self.dnis = ffi.string(ev.dnis).decode()
        self.category = ev.arg
        self.category_name = ffi.string(ev.text).decode()
        self.setup_s = time.monotonic() - self.seized_at
        self._accepted = AsyncResult()
        check(lib.vb_r2_accept(self.span.handle, self.slot, 1))
        self._set_state(ChannelState.ALERTING, f"R2 call {self.caller_id} -> {self.dnis}")
        self.board.offer(self)

    def on_r2_accepted(self, ev: Any) -> None:
        if self._accepted is not None:
            self._accepted.set(True)
        if self.outgoing:
            self._out_accepted = True
            self._progress.set()

    def on_r2_answered(self, ev: Any) -> None:
        if self.outgoing:
            self._out_accepted = self._out_answered = True
            self._progress.set()

    def on_r2_disconnect(self, ev: Any) -> None:
        text = ffi.string(ev.text).decode()
        # Acknowledge the clear-forward / clear-back / group B.  Also when we had disconnected
        # first: a call released before answer got our clear-back, but openr2 still reports the
        # clear-forward and waits for a disconnect to end the call (else the channel sticks in
        # CLEARING).  In CLEAR_FWD_RXD openr2's disconnect only reports the call end.
        if self._disconnect_sent:
            log.debug("%s openr2 reports the far clear after ours: acknowledging", self.prefix)
        self._disconnect_sent = True
        lib.vb_r2_disconnect(self.span.handle, self.slot, lib.VB_R2_CAUSE_NORMAL)
        cause = R2Cause(ev.arg)
        exc: CallError = {R2Cause.BUSY: Busy, R2Cause.CONGESTION: Congestion}.get(cause, CallFailed)(
            f"{self.prefix} {text}")
        if not self._fail_outcome(exc):
            self._far_hangup(f"clear {'back' if self.outgoing else 'forward'} ({text})")

    def on_r2_protocol_error(self, ev: Any) -> None:
        text = ffi.string(ev.text).decode()
        log.warning("%s R2 protocol error: %s", self.prefix, text)
        was = self.in_call
        failed = self._fail_outcome(CallFailed(f"{self.prefix} R2 protocol error: {text}"))
        self.in_call = self.outgoing = False       # openr2 has set the channel idle (no call end)
        self._disconnect_sent = False
        if not failed and was:
            self._call_gone("R2 protocol error")

    def on_r2_end(self, ev: Any) -> None:
        self.in_call = self.outgoing = False
        self._disconnect_sent = False
        if self._accepted is not None and not self._accepted.ready():
            self._accepted.set_exception(Hangup("call ended"))
        self._fail_outcome(CallFailed(f"{self.prefix} call ended in set-up"))
        if self.owner is None and self.state not in (ChannelState.IDLE, ChannelState.DOWN):
            super().release("R2 call end")

    def on_r2_blocked(self, ev: Any) -> None:
        self.remote_blocked = True
        log.info("%s the exchange blocked the channel", self.prefix)

    def on_r2_idle(self, ev: Any) -> None:
        if self.remote_blocked:
            log.info("%s the exchange unblocked the channel", self.prefix)
        self.remote_blocked = False

    def on_alarm(self, ev: BoardEvent) -> None:
        super().on_alarm(ev)
        self.alarm_seen |= ev.arg

    def on_r2_alarm(self, ev: Any) -> None:
        if ev.arg:
            self.on_span_alarm()
        else:
            self.on_span_recovered()

    def on_span_alarm(self) -> None:
        """The span is in alarm: drop the call, block the channel until it clears."""
        was = self.in_call
        self.in_alarm = True
        # openr2 can see the alarm before the engine's ALARM event is dispatched (or a flapping
        # yellow has just cleared): remember every mask seen, so the span event names the alarm.
        self.alarm_seen |= self.status()["alarm"] | self.e1_alarm
        self.in_call = self.outgoing = False
        self._disconnect_sent = False
        lib.vb_r2_block(self.span.handle, self.slot)     # resets openr2's call state too
        if was:
            log.warning("%s call released by E1 alarm (%s -> %s)", self.prefix, self.caller_id or "-",
                        self.dnis or "-")
            if not self._fail_outcome(CallFailed(f"{self.prefix} E1 alarm")):
                self._call_gone("E1 alarm")
        self.span.on_channel_alarm(self)

    def on_span_recovered(self) -> None:
        self.in_alarm = False
        if self.blocked:
            lib.vb_r2_block(self.span.handle, self.slot)
        else:
            lib.vb_r2_set_idle(self.span.handle, self.slot)
        self.span.on_channel_alarm(self)


class R2Cause(IntEnum):
    NORMAL = 0
    BUSY = 1
    CONGESTION = 2
    UNALLOCATED = 3
    OUT_OF_ORDER = 4
    NO_ANSWER = 5
    OTHER = 6


class R2Span:
    """The R2 signalling of some E1 channels of a board (one openr2 context)."""

    def __init__(self, board: Board, channels: Iterable[int], dnis_len: int, name: str = "e1",
                 max_ani: int = 20, max_dnis: int = 10, mf_back_timeout_ms: int = 0) -> None:
        self.board = board
        self.name = name
        self.indexes = list(channels)
        if len(self.indexes) > lib.VB_R2_MAX_CHANS:
            raise ValueError(f"an R2 span has at most {lib.VB_R2_MAX_CHANS} channels")
        self.dnis_len = dnis_len
        self.max_ani = max_ani
        self.max_dnis = max_dnis
        self.mf_back_timeout_ms = mf_back_timeout_ms
        self.handle: Any = None
        self.channels: list[R2Channel] = []
        self.in_alarm = False            # some channel of the span is in alarm (reported)
        self.alarm_since: float | None = None
        self._announcer: gevent.Greenlet | None = None
        self._fds: list[int] = []
        self._watchers: list[Any] = []
        self._greenlets: list[gevent.Greenlet] = []
        self._events = ffi.new("vb_r2_event_t[]", EVENT_BATCH)

    def start(self) -> None:
        """Bind the channels (the board must exist; its channels become R2Channels)."""
        check(lib.vb_dahdi_install())
        self.handle = lib.vb_r2_new(self.max_ani, self.max_dnis, self.dnis_len)
        if self.handle == ffi.NULL:
            raise RuntimeError("openr2_context_new failed")
        if self.mf_back_timeout_ms:
            lib.vb_r2_set_mf_back_timeout(self.handle, self.mf_back_timeout_ms)
        hub = gevent.get_hub()
        for idx in self.indexes:
            old = self.board.channels[idx]
            if old.kind is not Kind.E1:
                raise ValueError(f"{old.prefix} is not an E1 channel")
            fd = check(lib.vb_dahdi_open(self.board.handle, idx))
            self._fds.append(fd)
            slot = check(lib.vb_r2_add_chan(self.handle, fd))
            ch = R2Channel(self.board, idx, self, slot)
            ch.line_up = old.line_up
            ch.e1_alarm = old.e1_alarm
            self.board.channels[idx] = ch
            self.channels.append(ch)
            self._watchers.append(hub.loop.io(fd, 1))
        self._drain()
        for slot in range(len(self.channels)):
            self._greenlets.append(self.board.spawn(self._run, slot))
        log.info("E1 span %s: %d channels, MFC-R2 China, DNIS %d digits", self.name, len(self.channels),
                 self.dnis_len)

    def stop(self) -> None:
        gevent.killall(self._greenlets, block=True)
        self._greenlets.clear()
        for w in self._watchers:
            w.close()
        self._watchers.clear()
        if self.handle is not None:
            lib.vb_r2_free(self.handle)       # deletes the context and its channels
            self.handle = None
        for fd in self._fds:
            lib.vb_dahdi_close(fd)
        self._fds.clear()

    # ------------------------------------------------------------ outgoing
    def dial(self, dnis: str, ani: str = "", category: int = 1, timeout: float = ANSWER_WAIT,
             channel: R2Channel | None = None) -> R2Channel:
        """Place an outgoing call on a free channel (or on ``channel``, for line tests); returns it
        answered (state UP).

        Raises Busy, Congestion, NoAnswer, CallFailed, or NoFreeChannel; the channel is idle
        again whenever an exception is raised.
        """
        if not dnis.isdigit() or len(dnis) >= lib.VB_R2_NUM_MAX or (ani and not ani.isdigit()):
            raise ValueError(f"span {self.name}: invalid number dnis={dnis!r} ani={ani!r}")
        if not 1 <= category <= 9:
            raise ValueError(f"span {self.name}: invalid category {category}")
        ch = self._reserve(channel)
        ch.place(dnis, ani, category, timeout)
        return ch

    def _reserve(self, only: R2Channel | None = None) -> R2Channel:
        # Highest channel first (the exchange hunts from the lowest): less glare.  No yield
        # between the test and the state change, so a channel is never seized twice.
        if only is not None and only not in self.channels:
            raise ValueError(f"{only.prefix} is not a channel of span {self.name}")
        for ch in reversed(self.channels) if only is None else [only]:
            if ch.available:
                ch._set_state(ChannelState.DIALING, "reserved for an outgoing call")
                return ch
        raise NoFreeChannel(f"span {self.name}: no free channel")

    # ------------------------------------------------------------ maintenance
    def block(self, ch: R2Channel) -> None:
        """Block a channel for maintenance (the exchange sees BLOCKED and will not seize it)."""
        if ch.in_call or ch.busy:
            raise ChannelBusy(f"{ch.prefix} is in a call")
        ch.blocked = True
        check(lib.vb_r2_block(self.handle, ch.slot))
        self.kick(ch.slot)
        log.info("%s blocked", ch.prefix)

    def unblock(self, ch: R2Channel) -> None:
        ch.blocked = False
        if not ch.in_alarm:
            check(lib.vb_r2_set_idle(self.handle, ch.slot))
            self.kick(ch.slot)
        log.info("%s unblocked", ch.prefix)

    def _alarm_mask(self) -> int:
        mask = 0
        for c in self.channels:
            mask |= c.e1_alarm
        return mask

    def _seen_mask(self) -> int:
        mask = self._alarm_mask()
        for c in self.channels:
            mask |= c.alarm_seen
        return mask

    def on_channel_alarm(self, ch: R2Channel) -> None:
        """A channel entered or left alarm: report the span's transitions."""
        was, self.in_alarm = self.in_alarm, any(c.in_alarm for c in self.channels)
        if self.in_alarm and not was:
            self.alarm_since = time.monotonic()
            if alarm_names(self._seen_mask()):
                self._announce_alarm(ch)
            else:       # the engine's alarm event is still on its way: name it when it comes
                self._announcer = self.board.spawn(self._announce_when_named, ch)
        elif was and not self.in_alarm:
            if self._announcer is not None:
                self._announcer.kill(block=False)
                self._announce_alarm(ch)        # never "recovered" before "alarm"
            took = time.monotonic() - (self.alarm_since or time.monotonic())
            log.info("E1 span %s recovered after %.1f s", self.name, took)
            self.alarm_since = None
            for c in self.channels:
                c.alarm_seen = 0
            self.board.emit("span.recovered", ch, span=self.name)

    def _announce_when_named(self, ch: R2Channel) -> None:
        deadline = time.monotonic() + ALARM_NAME_WAIT
        while not alarm_names(self._seen_mask()) and time.monotonic() < deadline:
            gevent.sleep(0.02)
        self._announce_alarm(ch)

    def _announce_alarm(self, ch: R2Channel) -> None:
        self._announcer = None
        names = alarm_names(self._seen_mask()) or ["alarm"]
        log.warning("E1 span %s in alarm (%s): channels blocked, calls released", self.name,
                    ", ".join(names))
        self.board.emit("span.alarm", ch, span=self.name, alarms=names)

    def status(self) -> dict[str, Any]:
        return {
            "span": self.name,
            "channels": len(self.channels),
            "alarms": alarm_names(self._alarm_mask()),
            "in_alarm": self.in_alarm,
            "in_call": sum(1 for c in self.channels if c.in_call),
            "blocked": sum(1 for c in self.channels if c.blocked),
            "remote_blocked": sum(1 for c in self.channels if c.remote_blocked),
            "idle": sum(1 for c in self.channels if c.available),
        }

    # ------------------------------------------------------------ driving openr2
    def kick(self, slot: int) -> None:
        """Run openr2 on ``slot`` now (after a command), without waiting for the fd."""
        lib.vb_r2_process(self.handle, slot)
        self._drain()

    def _run(self, slot: int) -> None:
        hub = gevent.get_hub()
        watcher = self._watchers[slot]
        fd = self._fds[slot]
        while True:
            ms = lib.vb_r2_time_to_next(self.handle, slot)
            with gevent.Timeout(None if ms < 0 else ms / 1000.0, False):
                hub.wait(watcher)
            try:
                os.read(fd, 8)                # drain the eventfd (a plain read: not openr2's)
            except BlockingIOError:
                pass
            lib.vb_r2_process(self.handle, slot)
            self._drain()

    def _drain(self) -> None:
        while True:
            n = lib.vb_r2_get_events(self.handle, self._events, EVENT_BATCH)
            for i in range(n):
                ev = self._events[i]
                ch = self.channels[ev.chan]
                try:
                    ch.on_r2(R2Event(ev.type), ev)
                except Exception:
                    log.exception("%s R2 event %d failed", ch.prefix, ev.type)
            if n < EVENT_BATCH:
                return


def start_r2_spans(board: Board, dnis_len: int) -> list[R2Span]:
    """Put every E1 channel of ``board`` under R2 signalling, 30 timeslots to a span."""
    e1 = [c.index for c in board.channels if c.kind is Kind.E1]
    spans = []
    for n, first in enumerate(range(0, len(e1), 30)):
        span = R2Span(board, e1[first:first + 30], dnis_len=dnis_len, name=f"e1-{n}")
        span.start()
        spans.append(span)
    return spans


class ScriptedExchange:
    """The telco's China forward side on one E1 channel of the far board (simulator only)."""

    def __init__(self, board: Board, index: int) -> None:
        self.board = board
        self.index = index
        self.handle: Any = lib.vb_r2x_new(board.handle, index)
        if self.handle == ffi.NULL:
            raise ValueError(f"channel {index} of {board.name} is not an E1 channel")

    def call(self, ani: str, dnis: str, category: int = 1) -> None:
        check(lib.vb_r2x_call(self.handle, ani.encode(), dnis.encode(), category))

    def clear(self) -> None:
        """Clear forward (it called us) or clear back (we called it)."""
        check(lib.vb_r2x_clear(self.handle))

    def configure(self, dnis_len: int = 8, ani_after: int = 0, answer: ExchangeAnswer = ExchangeAnswer.ANSWER,
                  answer_ms: int = 1000, no_seize_ack: bool = False, mf_silent_after: int = 0) -> None:
        """How it treats calls from us (DNIS length, when it asks for ANI, group B answer) and faults."""
        cfg = ffi.new("vb_r2x_config_t *", {
            "dnis_len": dnis_len, "ani_after": ani_after, "answer": int(answer), "answer_ms": answer_ms,
            "no_seize_ack": int(no_seize_ack), "mf_silent_after": mf_silent_after})
        check(lib.vb_r2x_configure(self.handle, cfg))

    def garbage(self, ms: int) -> None:
        """Send random CAS bits for ``ms`` (fault injection), then resume."""
        check(lib.vb_r2x_garbage(self.handle, ms))

    def received(self) -> tuple[str, str, int]:
        """(ANI, DNIS, category) of the last call we placed to it."""
        ani = ffi.new("char[]", lib.VB_R2_NUM_MAX)
        dnis = ffi.new("char[]", lib.VB_R2_NUM_MAX)
        cat = ffi.new("int *")
        check(lib.vb_r2x_received(self.handle, ani, dnis, cat))
        return ffi.string(ani).decode(), ffi.string(dnis).decode(), int(cat[0])

    @property
    def state(self) -> ExchangeState:
        return ExchangeState(lib.vb_r2x_state(self.handle, ffi.NULL))

    def wait_state(self, *states: ExchangeState, timeout: float) -> ExchangeState:
        with gevent.Timeout(timeout, False):
            while self.state not in states:
                gevent.sleep(0.02)
        return self.state

    def close(self) -> None:
        if self.handle is not None:
            lib.vb_r2x_free(self.handle)
            self.handle = None
