"""Board: a voice board (simulated, DAHDI or ALSA backend) seen from the gevent hub.

The C media engine runs the 20 ms tick on its own thread; the Board waits on
the engine's event fd with the gevent loop (the hub never polls) and hands
each event to its channel.  Calls arriving on a line are offered to the
``call_handler`` in a greenlet owned by the board's group.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import gevent
from gevent.pool import Group

from appliance.drivers._binding import check, ffi, lib

from .channel import Channel
from .events import BoardEvent, EventType, Kind

log = logging.getLogger(__name__)

EVENT_BATCH = 256
STOP_GRACE = 2.0            # seconds for call greenlets to finish on stop before they are killed

_SPEC_RE = re.compile(r"^\s*(fxo|fxs|e1)\s*:\s*(\d+)\s*$", re.IGNORECASE)
_OPPOSITE = {Kind.FXO: Kind.FXS, Kind.FXS: Kind.FXO, Kind.E1: Kind.E1}

CallHandler = Callable[[Channel], None]
Listener = Callable[..., None]


@dataclass(frozen=True, slots=True)
class PortGroup:
    kind: Kind
    first: int
    count: int


def parse_spec(spec: str) -> list[tuple[Kind, int]]:
    """Parse a board spec such as ``"fxo:4,fxs:8,e1:30"``."""
    groups: list[tuple[Kind, int]] = []
    for part in spec.split(","):
        if not part.strip():
            continue
        m = _SPEC_RE.match(part)
        if not m:
            raise ValueError(f"bad board spec part {part!r} (expected e.g. fxo:4,fxs:8,e1:30)")
        count = int(m.group(2))
        if not 0 < count <= 256:
            raise ValueError(f"bad port count in {part!r}")
        groups.append((Kind[m.group(1).upper()], count))
    if not groups:
        raise ValueError("empty board spec")
    return groups


def opposite_spec(spec: str) -> str:
    """The far side's spec: FXO lines end on exchange (FXS) ports, stations on phones (FXO)."""
    return ",".join(f"{_OPPOSITE[k].name.lower()}:{n}" for k, n in parse_spec(spec))


class Board:
    """A board and its channels.  ``start()`` runs it; ``stop()`` releases it."""

    def __init__(self, name: str, spec: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.spec = spec
        self.clock = clock
        self.handle: Any = lib.vb_board_init(name.encode())
        if self.handle == ffi.NULL:
            raise MemoryError("vb_board_init failed")
        self.channels: list[Channel] = []
        self.groups: list[PortGroup] = []
        for kind, count in parse_spec(spec):
            first = check(lib.vb_board_add_channels(self.handle, int(kind), count))
            self.groups.append(PortGroup(kind, first, count))
            self.channels.extend(Channel(self, first + i, kind) for i in range(count))
        self.call_handler: CallHandler | None = None
        self._listeners: list[Listener] = []
        self._group = Group()
        self._calls = Group()
        self._tag = 0
        self._running = False
        self._events = ffi.new("vb_event_t[]", EVENT_BATCH)
        self._confs: dict[int, Conference] = {}
        self.overflows = 0

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._running:
            return
        check(lib.vb_board_start(self.handle))
        self._running = True
        self.spawn(self._event_loop)
        log.info("board %s started: %s", self.name, self.spec)

    def stop(self) -> None:
        """Graceful then forced: release calls, stop the engine, free the board."""
        if self.handle is None:
            return
        if self._running:
            for ch in self.channels:
                if ch.busy:
                    ch.release("board stopping")
            self._calls.join(timeout=STOP_GRACE)
            self._calls.kill(block=True, timeout=STOP_GRACE)
            self._running = False
            self._group.kill(block=True, timeout=STOP_GRACE)
            lib.vb_board_stop(self.handle)
        lib.vb_board_free(self.handle)
        self.handle = None
        log.info("board %s stopped", self.name)

    def __enter__(self) -> Board:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def spawn(self, fn: Callable[..., Any], *args: Any) -> gevent.Greenlet:
        g: gevent.Greenlet = self._group.spawn(fn, *args)
        g.link_exception(self._greenlet_failed)
        return g

    def _greenlet_failed(self, g: gevent.Greenlet) -> None:
        log.error("board %s: greenlet %s died: %r", self.name, g, g.exception)

    # ------------------------------------------------------------------ events
    def _event_loop(self) -> None:
        fd = lib.vb_board_event_fd(self.handle)
        hub = gevent.get_hub()
        watcher = hub.loop.io(fd, 1)
        try:
            while self._running:
                n = lib.vb_board_get_events(self.handle, self._events, EVENT_BATCH)
                for i in range(n):
                    self._dispatch(self._events[i])
                if n < EVENT_BATCH:
                    hub.wait(watcher)
        finally:
            watcher.close()

    def _dispatch(self, raw: Any) -> None:
        try:
            etype = EventType(raw.type)
        except ValueError:
            log.error("board %s: unknown event type %d", self.name, raw.type)
            return
        ev = BoardEvent(etype, raw.chan, raw.tag, raw.arg, raw.arg2, raw.time_ms,
                        ffi.string(raw.text).decode("utf-8", "replace"))
        if ev.chan < 0 or ev.chan >= len(self.channels):
            if etype is EventType.OVERFLOW:
                self.overflows += ev.arg
                log.error("board %s lost %d events (ring full)", self.name, ev.arg)
            elif etype is EventType.LOG:
                log.info("board %s: %s", self.name, ev.text)
            return
        ch = self.channels[ev.chan]
        try:
            ch.dispatch(ev)
        except Exception:  # one bad event must not stop the board
            log.exception("%s error handling %s", ch.prefix, ev.describe())

    # ------------------------------------------------------------------ calls
    def offer(self, channel: Channel) -> None:
        """A call arrived on ``channel``: run the call handler in its own greenlet."""
        self.emit("call.offered", channel)
        if self.call_handler is None:
            return
        g = self._calls.spawn(self._run_call, channel)
        channel.owner = g

    def _run_call(self, channel: Channel) -> None:
        assert self.call_handler is not None
        try:
            self.call_handler(channel)
        except Exception as exc:  # Hangup included: the call is over either way
            if type(exc).__name__ != "Hangup":
                log.exception("%s call handler failed", channel.prefix)
        finally:
            if channel.owner is gevent.getcurrent():
                channel.release("call ended")

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def emit(self, name: str, channel: Channel, **data: Any) -> None:
        for listener in list(self._listeners):
            try:
                listener(name, channel, **data)
            except Exception:
                log.exception("board %s listener failed on %s", self.name, name)

    # ------------------------------------------------------------------ links
    def link_pair(self, other: Board, first: int = 0, other_first: int = 0, n: int | None = None) -> None:
        """Cable ``n`` ports of this board to ``other`` in this process."""
        count = len(self.channels) - first if n is None else n
        check(lib.vb_link_pair(self.handle, first, other.handle, other_first, count))

    def link_listen(self, path: str | os.PathLike[str], first: int = 0, n: int | None = None) -> int:
        count = len(self.channels) - first if n is None else n
        return check(lib.vb_link_listen(self.handle, first, count, os.fsencode(path)))

    def link_connect(self, path: str | os.PathLike[str], first: int = 0, n: int | None = None) -> int:
        count = len(self.channels) - first if n is None else n
        return check(lib.vb_link_connect(self.handle, first, count, os.fsencode(path)))

    # ----------------------------------------------------------------- helpers
    def next_tag(self) -> int:
        self._tag = (self._tag % 0x7FFFFFFF) + 1
        return self._tag

    def now_ms(self) -> int:
        return int(time.monotonic() * 1000)

    def of_kind(self, kind: Kind) -> list[Channel]:
        return [c for c in self.channels if c.kind is kind]

    def idle(self, kind: Kind) -> Iterator[Channel]:
        return (c for c in self.channels if c.kind is kind and not c.busy and c.line_up)

    def conference(self) -> Conference:
        """Allocate a conference on the switch matrix."""
        for conf_id in range(lib.VB_MAX_CONFS):
            if conf_id not in self._confs:
                conf = Conference(self, conf_id)
                self._confs[conf_id] = conf
                return conf
        raise RuntimeError(f"board {self.name}: all {lib.VB_MAX_CONFS} conferences in use")

    def stats(self) -> dict[str, int]:
        st = ffi.new("vb_board_stats_t *")
        check(lib.vb_board_stats(self.handle, st))
        fields = ("ticks", "missed_ticks", "cpu_ns", "tick_ns_max", "tick_ns_total", "events_lost",
                  "link_underruns", "link_overruns", "rec_bytes_dropped", "active_plays", "active_records",
                  "open_files", "connections", "conf_members", "channels")
        return {f: int(getattr(st, f)) for f in fields}


class Conference:
    """A conference on a board's switch matrix: members with speak/listen/whisper."""

    def __init__(self, board: Board, conf_id: int) -> None:
        self.board = board
        self.id = conf_id
        self.members: set[int] = set()

    def join(self, channel: Channel, speak: bool = True, listen: bool = True,
             whisper_to: Channel | None = None) -> None:
        flags = (lib.VB_CONF_SPEAK if speak else 0) | (lib.VB_CONF_LISTEN if listen else 0)
        target = whisper_to.index if whisper_to is not None else -1
        check(lib.vb_conf_join(self.board.handle, self.id, channel.index, flags, target))
        self.members.add(channel.index)

    def leave(self, channel: Channel) -> None:
        check(lib.vb_conf_leave(self.board.handle, channel.index))
        self.members.discard(channel.index)

    def close(self) -> None:
        for idx in list(self.members):
            lib.vb_conf_leave(self.board.handle, idx)
        self.members.clear()
        self.board._confs.pop(self.id, None)
