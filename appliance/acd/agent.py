"""Agents: one person at one station (FXS port), with one state machine.

::

    LOGGED_OUT --login--> NOT_READY / READY
    READY --offer--> OFFERED --answer--> TALKING --call end--> WRAP_UP --wrap-up over--> READY
    OFFERED --missed--> READY (or NOT_READY "no answer" after N misses in a row)
    any but TALKING/OFFERED --logout--> LOGGED_OUT

Only READY agents are offered calls, so no call reaches an agent in WRAP_UP. State changes go
through ``_set_state`` (logged ``old -> new``, emitted as ``acd.agent.state``); the ACD calls the
``on_<event>`` handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING

import gevent

from .model import NO_ANSWER_REASON, AgentConfig, PhoneMode

if TYPE_CHECKING:
    from appliance.voiceboard.channel import Channel

    from .service import ACD

log = logging.getLogger(__name__)


class AgentState(Enum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    OFFERED = "offered"          # a call is ringing (or beeping) at the agent's station
    TALKING = "talking"
    WRAP_UP = "wrap_up"          # after-call work: no call is offered


IN_CALL = (AgentState.OFFERED, AgentState.TALKING)


class Agent:
    def __init__(self, acd: ACD, cfg: AgentConfig) -> None:
        self.acd = acd
        self.cfg = cfg
        self.id = cfg.id
        self.state = AgentState.LOGGED_OUT
        self.reason = ""
        self.station: Channel | None = None
        self.mode = cfg.mode
        self.idle_since = 0.0
        self.calls = 0              # answered since login
        self.missed = 0             # offers missed in a row
        self.call_id = ""           # the call offered to / talking with the agent
        self.wrapup_for = 0.0       # seconds of the current wrap-up
        self.wrapup_started = 0.0
        self.not_ready_after: str | None = None   # not_ready asked during a call: reason to take after
        self.headset_up = False     # auto-answer: the station is off-hook and held by the ACD
        self.forward = ""           # calls offered to the agent ring this outside number (his mobile)
        self.logout_after = False   # a team leader forced a logout during a call: at its end
        self.resume_reason = ""     # rung outside the queue (consult, monitor) while not ready: why
        self._wrapup_timer: gevent.Greenlet | None = None
        self._wrapup_done: Callable[[float], None] | None = None
        self.prefix = f"[agent {self.id}]"

    def __repr__(self) -> str:
        return f"<Agent {self.id} {self.state.value}>"

    @property
    def station_port(self) -> int | None:
        return self.station.index if self.station is not None else None

    @property
    def logged_in(self) -> bool:
        return self.state is not AgentState.LOGGED_OUT

    @property
    def can_take_call(self) -> bool:
        """Ready, and the station can be rung (idle) or connected at once (headset up)."""
        if self.forward:
            return self.state is AgentState.READY and self.acd.free_trunk() is not None
        if self.state is not AgentState.READY or self.station is None or not self.station.line_up:
            return False
        if self.mode is PhoneMode.AUTO_ANSWER and self.headset_up:
            return True
        return not self.station.busy

    def _set_state(self, new: AgentState, reason: str = "") -> None:
        old, old_reason = self.state, self.reason
        self.reason = reason if new is AgentState.NOT_READY else ""
        if old is new and old_reason == self.reason:
            return
        self.state = new
        if new is AgentState.READY:
            self.idle_since = self.acd.clock()
        log.info("%s %s -> %s %s", self.prefix, old.value, new.value, reason)
        self.acd.on_agent_state(self, old, new, reason)

    # ------------------------------------------------------------------ commands
    def on_login(self, station: Channel, mode: PhoneMode, ready: bool) -> None:
        self.station = station
        self.mode = mode
        self.calls = self.missed = 0
        self.headset_up = False
        self.not_ready_after = None
        self._set_state(AgentState.READY if ready else AgentState.NOT_READY, "" if ready else "login")

    def on_logout(self) -> None:
        self._cancel_wrapup()
        self.headset_up = False
        self._set_state(AgentState.LOGGED_OUT, "logout")
        self.station = None

    def on_ready(self) -> None:
        self.not_ready_after = None
        if self.state in IN_CALL:
            return
        self._cancel_wrapup()
        self.missed = 0
        self._set_state(AgentState.READY)

    def on_not_ready(self, reason: str) -> None:
        if self.state is AgentState.TALKING:
            self.not_ready_after = reason       # taken when the call and its wrap-up are over
            return
        self._cancel_wrapup()
        self._set_state(AgentState.NOT_READY, reason)

    # ------------------------------------------------------------------ calls
    def on_offer(self, call_id: str) -> None:
        self.call_id = call_id
        self._set_state(AgentState.OFFERED, call_id)

    def on_offer_missed(self, limit: int) -> None:
        """The agent did not answer an offer (ring timeout)."""
        self.call_id = ""
        self.missed += 1
        if self.missed >= limit:
            self._set_state(AgentState.NOT_READY, NO_ANSWER_REASON)
        elif self.state is AgentState.OFFERED:
            self._set_state(AgentState.READY, "missed offer")

    def on_offer_withdrawn(self) -> None:
        """Another agent answered first (ring-all), or the caller hung up while it rang."""
        self.call_id = ""
        if self.state is AgentState.OFFERED:
            self._set_state(AgentState.READY, "offer withdrawn")

    def on_answer(self, call_id: str) -> None:
        self.call_id = call_id
        self.missed = 0
        self.calls += 1
        self._set_state(AgentState.TALKING, call_id)

    def on_call_end(self, wrapup: float, on_done: Callable[[float], None]) -> None:
        """The call is over: wrap-up for ``wrapup`` seconds, then ready (or the pending not-ready)."""
        if self.state is not AgentState.TALKING:
            return
        self._start_wrapup(wrapup, on_done)

    def on_restored_in_call(self, wrapup: float) -> None:
        """Restored after a restart that cut the agent's call: wrap-up (for the notes), then ready."""
        self._start_wrapup(wrapup, None)

    def _start_wrapup(self, wrapup: float, on_done: Callable[[float], None] | None) -> None:
        self.wrapup_for = wrapup
        self.wrapup_started = self.acd.clock()
        self._set_state(AgentState.WRAP_UP, self.call_id)

        def over() -> None:
            self._wrapup_timer = None
            if self.state is AgentState.WRAP_UP:
                self.on_wrapup_end()
        self._wrapup_done = on_done
        self._wrapup_timer = gevent.spawn_later(wrapup, over)

    def on_wrapup_end(self) -> None:
        """Wrap-up over (timer or the agent's end_wrapup): ready, or the not-ready asked meanwhile."""
        if self.state is not AgentState.WRAP_UP:
            return
        self._cancel_wrapup()
        done = self._wrapup_done
        self._wrapup_done = None
        if done is not None:
            done(self.acd.clock() - self.wrapup_started)
        self.call_id = ""
        pending, self.not_ready_after = self.not_ready_after, None
        if pending is not None:
            self._set_state(AgentState.NOT_READY, pending)
        else:
            self._set_state(AgentState.READY, "wrap-up over")

    def _cancel_wrapup(self) -> None:
        if self._wrapup_timer is not None:
            self._wrapup_timer.kill(block=False)
            self._wrapup_timer = None
        if self.state is AgentState.WRAP_UP:
            done = self._wrapup_done
            self._wrapup_done = None
            if done is not None:
                done(self.acd.clock() - self.wrapup_started)

    def info(self) -> dict[str, object]:
        return {"id": self.id, "name": self.cfg.name, "state": self.state.value, "reason": self.reason,
                "station": self.station_port, "mode": self.mode.value, "calls": self.calls,
                "missed": self.missed, "call_id": self.call_id, "forward": self.forward}
