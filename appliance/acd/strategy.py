"""Routing strategies: which available agents a queued call is offered to.

A pure function of the agents' statistics, so the distribution can be tested over many calls
without audio. The caller (the ACD's dispatcher) passes only agents that may take the call now
(ready, member of the queue, station free).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .model import Strategy


@dataclass(frozen=True, slots=True)
class AgentStats:
    id: str
    idle_since: float       # monotonic time the agent became free (end of wrap-up, ready, login)
    calls: int = 0          # calls answered since login
    level: int = 0          # skill level in the queue's skill (skills strategy)
    order: int = 0          # position in the queue's member list (round robin)


def choose(strategy: Strategy, candidates: Sequence[AgentStats], last_order: int = -1) -> list[AgentStats]:
    """The agents to offer the call to: every candidate for ring-all, else the single best one.

    - ring_all: all of them ring at once; the first to answer gets the call;
    - round_robin: the next member after the one offered last (``last_order``), wrapping round;
    - longest_idle: the one free the longest (earliest ``idle_since``);
    - fewest_calls: the fewest calls answered, ties to the longest idle;
    - skills: the highest level in the skill, ties to the longest idle.
    """
    if not candidates:
        return []
    if strategy is Strategy.RING_ALL:
        return sorted(candidates, key=lambda a: (a.idle_since, a.order))
    if strategy is Strategy.ROUND_ROBIN:
        ordered = sorted(candidates, key=lambda a: a.order)
        after = [a for a in ordered if a.order > last_order]
        return [(after or ordered)[0]]
    if strategy is Strategy.LONGEST_IDLE:
        return [min(candidates, key=lambda a: (a.idle_since, a.order))]
    if strategy is Strategy.FEWEST_CALLS:
        return [min(candidates, key=lambda a: (a.calls, a.idle_since, a.order))]
    if strategy is Strategy.SKILLS:
        return [min(candidates, key=lambda a: (-a.level, a.idle_since, a.order))]
    raise ValueError(f"unknown strategy {strategy!r}")
