"""Erlang C: how long callers wait for N agents at a given load (docs: reliability-anchors B.2).

Offered traffic ``a = rate * aht`` (Erlangs). For ``n`` agents and callers who never give up:

- ``wait_probability(n, a)``: P_w, the share of calls that wait at all (Erlang C);
- ``service_level(n, a, aht, t)``: the share answered within ``t`` seconds,
  ``1 - P_w * exp(-(n - a) * t / aht)``;
- ``asa(n, a, aht)``: the average speed of answer, ``P_w * aht / (n - a)``;
- ``agents_for(rate, aht, t, target)``: the fewest agents that reach a service level.

P_w is computed from Erlang B by its recurrence ``B(k) = a B(k-1) / (k + a B(k-1))`` and
``C = n B / (n - a (1 - B))``: no factorial or power is formed, so it is exact to rounding for
hundreds of agents and thousands of Erlangs. With ``n <= a`` the queue grows without bound:
every call waits (P_w = 1) and the ASA is infinite.

``fifo_waits`` is the reference queue the ACD is checked against: Poisson arrivals, exponential
handling, ``n`` agents, first come first served, no abandons (the M/M/n queue Erlang C solves).
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass


def _check(n: int, a: float) -> None:
    if n < 1:
        raise ValueError(f"agents must be >= 1, not {n}")
    if not a >= 0 or math.isinf(a):
        raise ValueError(f"traffic must be a finite number of Erlangs >= 0, not {a}")


def erlang_b(n: int, a: float) -> float:
    """Blocking probability of ``n`` servers offered ``a`` Erlangs with no queue (Erlang B)."""
    _check(n, a)
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def wait_probability(n: int, a: float) -> float:
    """Erlang C: the probability that a call waits for an agent (1.0 when ``n <= a``)."""
    _check(n, a)
    if n <= a:
        return 1.0
    b = erlang_b(n, a)
    return n * b / (n - a * (1.0 - b))


def service_level(n: int, a: float, aht: float, t: float) -> float:
    """The share of calls answered within ``t`` seconds (0.0 when ``n <= a``)."""
    if aht <= 0 or t < 0:
        raise ValueError("aht must be > 0 and t >= 0")
    if n <= a:
        return 0.0
    return 1.0 - wait_probability(n, a) * math.exp(-(n - a) * t / aht)


def asa(n: int, a: float, aht: float) -> float:
    """Average speed of answer in seconds, over all calls (those answered at once count 0)."""
    if aht <= 0:
        raise ValueError("aht must be > 0")
    if n <= a:
        return math.inf
    return wait_probability(n, a) * aht / (n - a)


def agents_for(rate: float, aht: float, t: float, target: float, limit: int = 1000) -> int:
    """The fewest agents answering ``target`` (0..1) of calls within ``t`` s at ``rate`` calls/s."""
    if not 0 < target < 1:
        raise ValueError("target must be between 0 and 1")
    a = rate * aht
    n = max(1, math.floor(a) + 1)
    while service_level(n, a, aht, t) < target:
        n += 1
        if n > limit:
            raise ValueError(f"more than {limit} agents needed")
    return n


@dataclass(frozen=True)
class Sample:
    """What a run of the queue shows: arrivals, mean handling time, waits (seconds)."""

    calls: int
    window: float           # seconds over which the counted calls arrived
    aht: float              # mean handling time of the counted calls
    waits: tuple[float, ...]

    @property
    def rate(self) -> float:
        return self.calls / self.window

    @property
    def traffic(self) -> float:
        return self.rate * self.aht

    def service_level(self, t: float) -> float:
        return sum(1 for w in self.waits if w <= t) / len(self.waits)

    @property
    def asa(self) -> float:
        return sum(self.waits) / len(self.waits)

    def predicted_service_level(self, n: int, t: float) -> float:
        """Erlang C for the arrival rate and handling time this sample measured."""
        return service_level(n, self.traffic, self.aht, t)

    def predicted_asa(self, n: int) -> float:
        return asa(n, self.traffic, self.aht)


def sample_of(arrivals: Sequence[float], handling: Sequence[float], waits: Sequence[float],
              start: float, end: float) -> Sample:
    """The calls that arrived in ``[start, end)`` (arrival times, handling and wait seconds in step)."""
    keep = [i for i, t in enumerate(arrivals) if start <= t < end]
    if not keep:
        raise ValueError("no call arrived in the window")
    return Sample(len(keep), end - start, sum(handling[i] for i in keep) / len(keep),
                  tuple(waits[i] for i in keep))


def fifo_waits(n: int, arrivals: Sequence[float], handling: Sequence[float]) -> list[float]:
    """Waits of calls served first come first served by ``n`` agents (arrivals in order)."""
    free = [0.0] * n                  # when each agent is next free (a heap)
    waits: list[float] = []
    for t, s in zip(arrivals, handling, strict=True):
        start = max(t, free[0])
        heapq.heapreplace(free, start + s)
        waits.append(start - t)
    return waits


def poisson_calls(rate: float, aht: float, seconds: float,
                  rng: random.Random) -> tuple[list[float], list[float]]:
    """Arrival times over ``seconds`` at ``rate`` calls/s and exponential handling times (mean ``aht``)."""
    arrivals: list[float] = []
    t = rng.expovariate(rate)
    while t < seconds:
        arrivals.append(t)
        t += rng.expovariate(rate)
    return arrivals, [rng.expovariate(1.0 / aht) for _ in arrivals]


def simulate(n: int, rate: float, aht: float, seconds: float, warmup: float, rng: random.Random) -> Sample:
    """One run of the reference M/M/n queue, started empty; calls of the first ``warmup`` s not counted."""
    arrivals, handling = poisson_calls(rate, aht, seconds, rng)
    return sample_of(arrivals, handling, fifo_waits(n, arrivals, handling), warmup, seconds)
