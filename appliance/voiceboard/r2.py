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
from collections.abc import Iterable
from enum import IntEnum
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import AsyncResult

from appliance.drivers._binding import check, ffi, lib

from .channel import Channel, ChannelState
from .errors import Hangup
from .events import Kind

if TYPE_CHECKING:
    from .board import Board

log = logging.getLogger(__name__)

ACCEPT_WAIT = 5.0        # answer(): wait for openr2 to finish the group B exchange
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
        self._accepted: AsyncResult | None = None
        self._disconnect_sent = False

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

    def release(self, reason: str = "release") -> None:
        if self.in_call and not self._disconnect_sent and self.span.handle is not None:
            self._disconnect_sent = True
            lib.vb_r2_disconnect(self.span.handle, self.slot, lib.VB_R2_CAUSE_NORMAL)
            self.span.kick(self.slot)
        self.dnis = ""
        self.category = -1
        super().release(reason)

    # -------------------------------------------------------------- R2 events
    def on_r2(self, kind: R2Event, ev: Any) -> None:
        if kind is R2Event.INIT:
            self.in_call = True
            self._disconnect_sent = False
        elif kind is R2Event.OFFERED:
            self.caller_id = ffi.string(ev.ani).decode()
            self.dnis = ffi.string(ev.dnis).decode()
            self.category = ev.arg
            self.category_name = ffi.string(ev.text).decode()
            self._accepted = AsyncResult()
            check(lib.vb_r2_accept(self.span.handle, self.slot, 1))
            self._set_state(ChannelState.ALERTING, f"R2 call {self.caller_id} -> {self.dnis}")
            self.board.offer(self)
        elif kind is R2Event.ACCEPTED:
            if self._accepted is not None:
                self._accepted.set(True)
        elif kind is R2Event.DISCONNECT:
            if not self._disconnect_sent:       # acknowledge the clear-forward
                self._disconnect_sent = True
                lib.vb_r2_disconnect(self.span.handle, self.slot, lib.VB_R2_CAUSE_NORMAL)
            self._far_hangup(f"clear forward ({ffi.string(ev.text).decode()})")
        elif kind is R2Event.PROTOCOL_ERROR:
            log.warning("%s R2 protocol error: %s", self.prefix, ffi.string(ev.text).decode())
            if self.in_call:
                self._far_hangup("R2 protocol error")
        elif kind is R2Event.END:
            self.in_call = False
            self._disconnect_sent = False
            if self._accepted is not None and not self._accepted.ready():
                self._accepted.set_exception(Hangup("call ended"))
            if self.owner is None and self.state is not ChannelState.IDLE:
                super().release("R2 call end")
        elif kind is R2Event.ALARM and ev.arg:
            self._far_hangup("E1 alarm")


class R2Span:
    """The R2 signalling of some E1 channels of a board (one openr2 context)."""

    def __init__(self, board: Board, channels: Iterable[int], dnis_len: int,
                 max_ani: int = 20, max_dnis: int = 10) -> None:
        self.board = board
        self.indexes = list(channels)
        if len(self.indexes) > lib.VB_R2_MAX_CHANS:
            raise ValueError(f"an R2 span has at most {lib.VB_R2_MAX_CHANS} channels")
        self.dnis_len = dnis_len
        self.max_ani = max_ani
        self.max_dnis = max_dnis
        self.handle: Any = None
        self.channels: list[R2Channel] = []
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
            self.board.channels[idx] = ch
            self.channels.append(ch)
            self._watchers.append(hub.loop.io(fd, 1))
        self._drain()
        for slot in range(len(self.channels)):
            self._greenlets.append(self.board.spawn(self._run, slot))

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
        check(lib.vb_r2x_clear(self.handle))

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
