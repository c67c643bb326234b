"""Queues (skill groups) and the calls waiting in them.

A queue keeps its calls in order of priority (emergency, VIP, normal), FIFO within a priority
(``seq`` is given when the call first enters any queue, so an overflowed call keeps its age).
"""

from __future__ import annotations

import bisect
import logging
from collections import deque
from enum import Enum
from typing import TYPE_CHECKING

from .model import Priority, QueueConfig

if TYPE_CHECKING:
    from appliance.voiceboard.channel import Channel

    from .agent import Agent
    from .calls import CallFlow
    from .talk import Talk

log = logging.getLogger(__name__)

AHT_SAMPLES = 50             # calls in the running average handling time (estimated wait)


class CallState(Enum):
    WAITING = "waiting"          # in a queue, hearing music on hold / announcements
    OFFERED = "offered"          # ringing one agent (or all, ring-all)
    CONNECTED = "connected"      # bridged to an agent
    ENDED = "ended"


class QueuedCall:
    def __init__(self, call_id: str, trunk: Channel, caller: str, dnis: str, priority: Priority,
                 seq: int, now: float) -> None:
        self.id = call_id
        self.trunk = trunk
        self.caller = caller
        self.dnis = dnis
        self.priority = priority
        self.seq = seq
        self.state = CallState.WAITING
        self.queue: Queue | None = None
        self.first_queue = ""
        self.created = now           # monotonic: first entry into a queue
        self.entered = now           # monotonic: entry into the current queue
        self.offer_to: list[Agent] = []
        self.tried: set[str] = set()
        self.agent: Agent | None = None
        self.offers = 0
        self.offered_at = 0.0
        self.answered_at = 0.0
        self.ring_s = 0.0
        self.overflow_to = ""
        self.last_queue = ""         # the queue it was in last (kept while an agent has the call)
        self.wanted_queue = ""       # the queue asked for (the IVR's queue node); "" the default
        self.handed_over = False     # from the IVR: an unserved call goes back to it unreleased
        self.hold_s = 0.0
        self.transfers: list[str] = []
        self.noticed = False         # the caller has heard the recording notice
        self.talked = False          # an agent has had the call (it may be back in a queue now)
        self.outbound = False        # click-to-dial from the desk (no queue)
        self.flow: CallFlow | None = None   # the greenlet's flow (pickup adds a ringer to its offer)
        self.talk: Talk | None = None       # connected: hold, transfer, conference... (talk.py)
        self.prefix = f"[call {call_id}]"

    def key(self) -> tuple[int, int]:
        return (-int(self.priority), self.seq)

    def __repr__(self) -> str:
        return f"<QueuedCall {self.id} {self.caller} p={self.priority.name} {self.state.value}>"

    def _set_state(self, new: CallState, why: str = "") -> None:
        old = self.state
        if old is new:
            return
        self.state = new
        log.info("%s %s -> %s %s", self.prefix, old.value, new.value, why)


class Queue:
    def __init__(self, cfg: QueueConfig) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.calls: list[QueuedCall] = []      # sorted by QueuedCall.key()
        self.last_order = -1                   # round robin: member order of the agent offered last
        self.answered = 0
        self.abandoned = 0
        self.overflowed = 0
        self.handled: deque[float] = deque(maxlen=AHT_SAMPLES)   # talk + wrap-up of recent calls (s)

    def __repr__(self) -> str:
        return f"<Queue {self.name} {len(self.calls)} waiting>"

    def aht(self, default: float) -> float:
        """Average handling time (talk + wrap-up) of the last calls of this queue, in seconds."""
        return sum(self.handled) / len(self.handled) if self.handled else default

    @property
    def full(self) -> bool:
        return len(self.calls) >= self.cfg.max_length

    def add(self, call: QueuedCall, now: float) -> None:
        keys = [c.key() for c in self.calls]
        self.calls.insert(bisect.bisect_right(keys, call.key()), call)
        call.queue = self
        call.last_queue = self.name
        call.entered = now

    def remove(self, call: QueuedCall) -> None:
        if call in self.calls:
            self.calls.remove(call)
        if call.queue is self:
            call.queue = None

    def ahead_of(self, call: QueuedCall) -> int:
        """How many callers are before ``call`` in this queue."""
        return self.calls.index(call) if call in self.calls else 0

    def waiting(self) -> list[QueuedCall]:
        return [c for c in self.calls if c.state is CallState.WAITING]

    def longest_wait(self, now: float) -> float:
        return max((now - c.entered for c in self.calls), default=0.0)

    def is_member(self, agent: Agent) -> bool:
        if agent.id in self.cfg.agents:
            return True
        return bool(self.cfg.skill) and agent.cfg.skills.get(self.cfg.skill, 0) >= self.cfg.min_level

    def member_order(self, agent: Agent) -> int:
        return self.cfg.agents.index(agent.id) if agent.id in self.cfg.agents else len(self.cfg.agents)
