"""Erlang load on the simulated board: Poisson callers on E1 spans, auto-answer agents, real ACD.

``E1Site(spans, stations)`` is our board with ``spans`` E1 spans under R2 (30 trunks each) and
``stations`` FXS ports, cabled to a far board whose E1 channels are the exchange's China forward
side (``ScriptedExchange``) and whose FXO ports are the agents' headsets. ``ErlangLoad`` places
calls at Poisson instants on free exchange channels and clears each one forward (the caller hangs
up) so that the agent it reached is held for an exponential time: the caller aims his hang-up at
``offer + hold - clearing`` (the ``acd.call.offered`` event marks when an agent was seized;
``clearing``, the mean time from his clear-forward to his agent's ``ready``, is measured as the load
runs), or hangs up as soon as he is connected if that moment has passed during the beep. The
agent's holding time is then about ``max(hold, beep)``: within 3 % of an exponential's spread at a
2 s mean, where an
exponential talk time after a constant beep would make the queue M/G/n with waits ~10 % shorter
than Erlang C's M/M/n. Nobody abandons: a caller waits as long as it takes (``patience``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import Event

from appliance.voiceboard.r2 import ExchangeState, R2Span, ScriptedExchange, start_r2_spans
from appliance.voiceboard.sim import SimulatedSite

if TYPE_CHECKING:
    from .service import ACD

log = logging.getLogger(__name__)

DNIS = "9556"
DNIS_LEN = len(DNIS)
CLEAR_WAIT = 10.0            # seconds for an exchange channel to come back idle after clearing


class E1Site:
    """Our board (``spans`` x 30 E1 trunks under R2, then ``stations`` FXS ports) and its far side."""

    def __init__(self, spans: int, stations: int, name: str = "erlang") -> None:
        self.trunks = 30 * spans
        self.stations = list(range(self.trunks, self.trunks + stations))
        self.site = SimulatedSite(f"e1:{self.trunks},fxs:{stations}", name=name)
        self.board = self.site.board
        self.far = self.site.far
        self.spans: list[R2Span] = []
        self.exchanges: list[ScriptedExchange] = []

    def start(self, timeout: float = 10.0) -> None:
        self.site.start()
        self.spans = start_r2_spans(self.board, DNIS_LEN)
        self.exchanges = [ScriptedExchange(self.far, i) for i in range(self.trunks)]
        # a fresh E1 channel's start-up alarm clears a little after the cable is up (tests/r2)
        with gevent.Timeout(timeout, RuntimeError("the E1 trunks did not come idle")):
            while not all(getattr(self.board.channels[i], "available", False) for i in range(self.trunks)):
                gevent.sleep(0.05)

    def headsets_on(self) -> None:
        """Every agent's headset off-hook (an auto-answer agent keeps it on all shift)."""
        for port in self.stations:
            self.far.channels[port].hook(True)

    def stop(self) -> None:
        for x in self.exchanges:
            x.close()
        for span in self.spans:
            span.stop()
        self.site.stop()


@dataclass
class Caller:
    n: int
    ani: str
    at: float                   # seconds after the load started: when the exchange seizes a trunk
    hold: float                 # the agent's holding time aimed at (seconds)
    seized: float = 0.0         # monotonic times (the ACD's clock)
    offered: float = 0.0
    connected: float = 0.0
    cleared: float = 0.0
    freed: float = 0.0          # the agent ready again
    agent: str = ""
    failed: str = ""
    _offer: Event = field(default_factory=Event, repr=False)
    _connect: Event = field(default_factory=Event, repr=False)


class ErlangLoad:
    """Callers at ``rate`` per second for ``seconds``, each holding an agent Exp(``aht``) seconds."""

    def __init__(self, acd: ACD, exchanges: list[ScriptedExchange], rate: float, aht: float,
                 seconds: float, seed: int, patience: float = 300.0,
                 clock: Callable[[], float] = time.monotonic,
                 schedule: Sequence[tuple[float, float]] | None = None, first: int = 0) -> None:
        """``schedule``: (seconds after start, holding seconds) of each call instead of the Poisson
        ones; callers are numbered from ``first`` (their ANI is ``8`` and five digits of it)."""
        rng = random.Random(seed)
        self.acd = acd
        self.clock = clock
        self.patience = patience
        if schedule is None:
            calls: list[tuple[float, float]] = []
            t = rng.expovariate(rate)
            while t < seconds:
                calls.append((t, rng.expovariate(1.0 / aht)))
                t += rng.expovariate(rate)
            schedule = calls
        self.callers = [Caller(first + k, f"8{first + k:05d}", at, hold)
                        for k, (at, hold) in enumerate(schedule)]
        self._by_ani = {c.ani: c for c in self.callers}
        self._free = list(range(len(exchanges)))
        self._exchanges = exchanges
        self.blocked = 0            # arrivals that found every trunk busy
        self.clearing = 0.0         # mean seconds from a caller's clear-forward to his agent's ready
        self._cleared = 0
        self._talking: dict[str, Caller] = {}
        self.peak_trunks = 0

    def _event(self, name: str, **data: Any) -> None:
        c = self._by_ani.get(str(data.get("caller", "")))
        if c is None:
            self._agent_event(name, **data)
            return
        if name == "acd.call.offered" and not c._offer.is_set():
            c.offered = self.clock()
            c._offer.set()
        elif name == "acd.call.connected":
            c.connected = self.clock()
            c.agent = str(data.get("agent", ""))
            self._talking[c.agent] = c
            c._connect.set()

    def _agent_event(self, name: str, **data: Any) -> None:
        if name != "acd.agent.state" or data.get("new") != "ready":
            return
        c = self._talking.pop(str(data.get("agent", "")), None)
        if c is not None and c.cleared:
            c.freed = self.clock()
            self._cleared += 1
            self.clearing += (c.freed - c.cleared - self.clearing) / self._cleared
    def run(self) -> list[Caller]:
        """Place every call at its time and wait until all are over; the callers, in order."""
        self.acd.events.subscribe(self._event)
        start = self.clock()
        calls: list[gevent.Greenlet] = []
        try:
            for c in self.callers:
                delay = start + c.at - self.clock()
                if delay > 0:
                    gevent.sleep(delay)
                if not self._free:
                    self.blocked += 1
                    c.failed = "all trunks busy"
                    continue
                calls.append(gevent.spawn(self._call, c, self._free.pop(0)))
                self.peak_trunks = max(self.peak_trunks, len(self._exchanges) - len(self._free))
            gevent.joinall(calls)
        finally:
            self.acd.events.unsubscribe(self._event)
        return self.callers

    def _call(self, c: Caller, i: int) -> None:
        x = self._exchanges[i]
        try:
            c.seized = self.clock()
            x.call(c.ani, DNIS)
            if not c._offer.wait(self.patience):
                c.failed = "never offered"
                return
            gevent.sleep(max(0.0, c.offered + c.hold - self.clearing - self.clock()))
            if not c._connect.wait(30.0):
                c.failed = "offered, never connected"
                return
            c.cleared = self.clock()
        finally:
            x.clear()
            if x.wait_state(ExchangeState.IDLE, timeout=CLEAR_WAIT) is not ExchangeState.IDLE:
                log.warning("exchange channel %d did not come back idle", i)
            self._free.append(i)
