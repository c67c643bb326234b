"""The ACD: queues, agents, the dispatcher, and the service API the web layer calls.

``ACD(board, prompts, cfg)`` is the board's call handler for trunk calls (FXO, E1 under R2) and
for the stations of auto-answer agents (a headset going off-hook is held by the ACD). Agent
commands: ``login``, ``logout``, ``ready``, ``not_ready(reason)``, ``end_wrapup``. Stats:
``queue_stats``, ``agent_info``. Events on ``acd.events`` (an EventBus):

- ``acd.call.offered`` (call_id, caller, queue, agents, priority)
- ``acd.call.connected`` / ``acd.call.ended`` (call_id, agent, disposition)
- ``acd.agent.state`` (agent, old, new, reason)
- ``acd.queue.stats`` (queue, waiting, longest_wait, agents)

Every state change is written to the database (appliance/crm/cdr.py) by one writer greenlet in
order, so the hub never waits on SQLite and the dispatcher never yields in the middle of a
decision. ``start()`` restores agents' states and ends CDRs a crash left open as interrupted.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import Event
from gevent.queue import Queue as GQueue

from appliance.crm import callrec, cdr
from appliance.voiceboard.board import Board
from appliance.voiceboard.channel import Channel, ChannelState
from appliance.voiceboard.errors import Hangup
from appliance.voiceboard.events import Kind
from appliance.voiceboard.prompts import PromptSet

from .agent import IN_CALL, Agent, AgentState
from .calls import CallFlow
from .control import CallControl
from .errors import AcdError
from .model import DEFAULT_AHT, AcdConfig, Disposition, EventBus, PhoneMode, Priority
from .queue import CallState, Queue, QueuedCall
from .recording import Recorder
from .strategy import AgentStats, choose

log = logging.getLogger(__name__)

FLUSH_TIMEOUT = 10.0         # stop(): seconds to let the writer drain
RESTORED_IN_CALL = AgentState.WRAP_UP   # an agent in a call at the crash comes back in wrap-up

CallHandler = Callable[[Channel], None]


class _Writer:
    """Database writes in order, from one greenlet (each call runs on crm's database thread)."""

    def __init__(self) -> None:
        self._q: GQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = GQueue()
        self._idle = Event()
        self._idle.set()
        self._pending = 0
        self._g: gevent.Greenlet | None = None

    def start(self) -> None:
        if self._g is None:
            self._g = gevent.spawn(self._run)

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._pending += 1
        self._idle.clear()
        self._q.put((fn, args))

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:
                log.exception("ACD database write %s failed", getattr(fn, "__name__", fn))
            finally:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        return bool(self._idle.wait(timeout))

    def stop(self) -> None:
        self.flush()
        if self._g is not None:
            self._q.put(None)
            self._g.join(timeout=FLUSH_TIMEOUT)
            self._g = None


class ACD(CallControl):
    def __init__(self, board: Board, prompts: PromptSet | None, cfg: AcdConfig,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 fallback: CallHandler | None = None) -> None:
        self.board = board
        self.prompts = prompts
        self.cfg = cfg
        self.clock = clock
        self.wall = wall
        self.fallback = fallback
        self.events = EventBus()
        self.queues: dict[str, Queue] = {q.name: Queue(q) for q in cfg.queues}
        self.agents: dict[str, Agent] = {a.id: Agent(self, a) for a in cfg.agents}
        self.calls: dict[str, QueuedCall] = {}
        self.stopping = False
        self._by_station: dict[int, Agent] = {}
        self._writer = _Writer()
        self._seq = 0
        self._dispatching = False
        self._again = False
        self._flows: dict[str, gevent.Greenlet] = {}
        self._headsets: dict[str, gevent.Greenlet] = {}
        self._started = False
        self.recorder = Recorder(self)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Close CDRs a crash left open, restore agents (or log in the configured stations)."""
        self._writer.start()
        closed = cdr.close_open_calls(self.wall())
        if closed:
            log.warning("ACD: %d call(s) cut by the last stop recorded as interrupted: %s",
                        len(closed), ", ".join(closed))
        cut = callrec.close_open_recordings(self.wall())
        if cut:
            log.warning("ACD: %d recording(s) cut by the last stop closed (their files are kept)", cut)
        saved = {r.agent_id: r for r in cdr.load_agent_states()}
        for agent in self.agents.values():
            row = saved.get(agent.id)
            if row is not None:
                self._restore(agent, row)
            elif agent.cfg.station is not None:
                self._login(agent, agent.cfg.station, agent.cfg.mode, ready=True)
        self.board.subscribe(self._board_event)
        self._started = True
        self.dispatch()

    def _restore(self, agent: Agent, row: cdr.AgentRecord) -> None:
        try:
            state = AgentState(row.state)
        except ValueError:
            state = AgentState.LOGGED_OUT
        if state is AgentState.LOGGED_OUT or row.station is None:
            return
        try:
            mode = PhoneMode(row.mode)
        except ValueError:
            mode = agent.cfg.mode
        try:
            self._login(agent, row.station, mode, ready=state is AgentState.READY)
        except AcdError as exc:
            log.warning("%s not restored: %s", agent.prefix, exc)
            return
        if state is AgentState.NOT_READY:
            agent.on_not_ready(row.reason)
        elif state in (*IN_CALL, AgentState.WRAP_UP):
            agent.on_restored_in_call(self._wrapup_of(agent, None))
        log.info("%s restored: %s on station %s", agent.prefix, agent.state.value, row.station)

    def stop(self) -> None:
        """Stop taking calls; calls still up end as interrupted; wait for the database writes."""
        self.stopping = True
        for g in list(self._flows.values()) + list(self._headsets.values()):
            g.kill(Hangup("service stopping"), block=True, timeout=FLUSH_TIMEOUT)
        for agent in self.agents.values():
            agent._cancel_wrapup()
        self._writer.stop()

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """Wait until every database write made so far is done (tests, reports)."""
        return self._writer.flush(timeout)

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """A database write, in order with the ACD's others (runs on crm's database thread)."""
        self._writer.submit(fn, *args)

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # ------------------------------------------------------------------ board side
    def handle(self, channel: Channel) -> None:
        """The board's call handler: trunk calls queue; auto-answer headsets are held."""
        if channel.kind in (Kind.FXO, Kind.E1):
            self._trunk_call(channel)
            return
        agent = self._by_station.get(channel.index)
        if agent is not None and agent.mode is PhoneMode.AUTO_ANSWER:
            self._headset(agent, channel)
        elif self.fallback is not None:
            self.fallback(channel)
        else:
            channel.claim()
            channel.wait_hangup(60)

    def _trunk_call(self, trunk: Channel) -> None:
        if self.stopping:
            trunk.release("stopping")
            return
        trunk.claim()
        trunk.answer()
        self.queue_call(trunk)

    def queue_call(self, trunk: Channel, queue: str | None = None, *, handed_over: bool = False,
                   emergency: bool = False) -> Disposition:
        """Queue an answered trunk call (``queue`` or the default) until an agent takes it or it
        overflows; returns how it ended. ``handed_over`` (from the IVR): when no agent takes the call
        it comes back unreleased, without the overflow prompts, for the IVR's own fallback."""
        caller = trunk.caller_id
        dnis = str(getattr(trunk, "dnis", ""))
        call_id = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(self.wall()))}-{trunk.index}-" \
                  f"{uuid.uuid4().hex[:6]}"
        priority = Priority.EMERGENCY if emergency else self.cfg.priority_of(caller, dnis)
        call = QueuedCall(call_id, trunk, caller, dnis, priority, self.next_seq(), self.clock())
        call.wanted_queue = queue if queue in self.queues else self.cfg.default_queue
        call.handed_over = handed_over
        self.calls[call_id] = call
        self._flows[call_id] = gevent.getcurrent()
        self._writer.submit(cdr.open_call, call_id, caller, dnis, self.cfg.default_queue,
                            int(call.priority), self.wall())
        try:
            flow = CallFlow(self, call)
            call.flow = flow
            return flow.run()
        finally:
            self._flows.pop(call_id, None)
            self.calls.pop(call_id, None)

    def _headset(self, agent: Agent, station: Channel) -> None:
        """An auto-answer agent's headset is off-hook: hold it; calls are connected after a beep."""
        station.claim()
        agent.headset_up = True
        self._headsets[agent.id] = gevent.getcurrent()
        log.info("%s headset off-hook on station %d", agent.prefix, station.index)
        self.dispatch()
        try:
            while True:
                station.wait_hangup(3600)
        except Hangup:
            pass
        finally:
            agent.headset_up = False
            self._headsets.pop(agent.id, None)
            log.info("%s headset on-hook", agent.prefix)
            flow = self._flows.get(agent.call_id)
            call = self.calls.get(agent.call_id)
            talking = call is not None and call.talk is not None   # the Talk sees the line go down
            if flow is not None and agent.state is AgentState.TALKING and not talking:
                flow.kill(Hangup("agent on-hook"), block=False)

    def _board_event(self, name: str, channel: Channel, **data: Any) -> None:
        if (name == "channel.state" and channel.kind is Kind.FXS and data.get("new") is ChannelState.IDLE
                and channel.index in self._by_station):
            gevent.spawn(self.dispatch)     # a station came free (the phone hung up after busy tone)

    # ------------------------------------------------------------------ agent commands
    def _agent(self, agent_id: str) -> Agent:
        try:
            return self.agents[agent_id]
        except KeyError:
            raise AcdError(f"unknown agent {agent_id!r}") from None

    def _login(self, agent: Agent, port: int, mode: PhoneMode, ready: bool) -> None:
        if not 0 <= port < len(self.board.channels) or self.board.channels[port].kind is not Kind.FXS:
            raise AcdError(f"port {port} is not a station (FXS) port")
        other = self._by_station.get(port)
        if other is not None and other is not agent:
            raise AcdError(f"station {port} is taken by agent {other.id}")
        if agent.logged_in:
            raise AcdError(f"agent {agent.id} is already logged in on station {agent.station_port}")
        self._by_station[port] = agent
        agent.on_login(self.board.channels[port], mode, ready)

    def login(self, agent_id: str, station: int, mode: PhoneMode | str | None = None,
              ready: bool = False) -> None:
        """Bind the agent to a station port; not ready (reason "login") unless ``ready``."""
        agent = self._agent(agent_id)
        m = agent.cfg.mode if mode is None else PhoneMode(mode)
        self._login(agent, station, m, ready)
        self._qlog("LOGIN", agent=agent.id, station=station, mode=m.value)

    def logout(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        if agent.state in IN_CALL:
            raise AcdError(f"agent {agent_id} is in a call")
        if not agent.logged_in:
            return
        port = agent.station_port
        headset = self._headsets.get(agent.id)
        agent.on_logout()
        agent.forward = ""
        agent.logout_after = False
        if port is not None:
            self._by_station.pop(port, None)
        if headset is not None:
            headset.kill(Hangup("agent logged out"), block=False)
        self._qlog("LOGOUT", agent=agent.id)

    def ready(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        if not agent.logged_in:
            raise AcdError(f"agent {agent_id} is not logged in")
        agent.on_ready()

    def not_ready(self, agent_id: str, reason: str = "") -> None:
        agent = self._agent(agent_id)
        if not agent.logged_in:
            raise AcdError(f"agent {agent_id} is not logged in")
        if agent.state is AgentState.OFFERED:
            raise AcdError(f"agent {agent_id} is being offered a call: answer or let it ring out")
        agent.on_not_ready(reason or "not ready")

    def end_wrapup(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        if agent.state is not AgentState.WRAP_UP:
            raise AcdError(f"agent {agent_id} is not in wrap-up")
        agent.on_wrapup_end()

    # ------------------------------------------------------------------ stats
    def staffed(self, queue: Queue) -> bool:
        """Some member agent of ``queue`` is signed in (ready, busy or in wrap-up)."""
        return any(a.logged_in for a in self.agents.values() if queue.is_member(a))

    def qlog_no_agent(self, call: QueuedCall, queue: Queue) -> None:
        self._qlog("NO_AGENT", call=call, queue=queue.name)

    def reconfigure(self, cfg: AcdConfig) -> None:
        """Take new queues and agents while running (the web's 队列与座席): no call is dropped. A
        queue still holding callers, or an agent signed in, cannot be removed (AcdError); a changed
        queue keeps its callers in their order; a changed agent keeps his state, station and call
        (a new phone mode or default station counts from his next sign-in)."""
        queues, agents = {q.name for q in cfg.queues}, {a.id for a in cfg.agents}
        for name, q in self.queues.items():
            if name not in queues and q.calls:
                raise AcdError(f"队列 {name} 还有 {len(q.calls)} 个来电在排队，不能删除")
        for aid, a in self.agents.items():
            if aid not in agents and a.logged_in:
                raise AcdError(f"座席 {aid} 已签入，请先签出再删除")
        for qc in cfg.queues:
            if qc.name in self.queues:
                self.queues[qc.name].cfg = qc
            else:
                self.queues[qc.name] = Queue(qc)
        for name in [n for n in self.queues if n not in queues]:
            del self.queues[name]
        for ac in cfg.agents:
            if ac.id in self.agents:
                self.agents[ac.id].cfg = ac
            else:
                self.agents[ac.id] = Agent(self, ac)
        for aid in [a for a in self.agents if a not in agents]:
            del self.agents[aid]
        self.cfg = cfg
        log.info("ACD: new configuration, %d queue(s), %d agent(s)", len(cfg.queues), len(cfg.agents))
        self._qlog("RECONFIGURE")
        self._emit_stats(list(self.queues.values()))
        self.dispatch()                 # new members or longer limits may serve waiting callers now

    def agent_for_user(self, username: str) -> str | None:
        """The agent id a web user works as (``user`` in [[acd.agents]]), or None."""
        for a in self.cfg.agents:
            if a.user and a.user == username:
                return a.id
        return None

    def agent_info(self, agent_id: str) -> dict[str, object]:
        return self._agent(agent_id).info()

    def queue_stats(self, name: str) -> dict[str, Any]:
        q = self.queues[name]
        members = [a for a in self.agents.values() if q.is_member(a)]
        by_state: dict[str, int] = {s.value: 0 for s in AgentState}
        for a in members:
            by_state[a.state.value] += 1
        return {"queue": name, "waiting": len(q.calls),
                "longest_wait": round(q.longest_wait(self.clock()), 1),
                "agents": by_state, "answered": q.answered, "abandoned": q.abandoned,
                "overflowed": q.overflowed}

    def _emit_stats(self, queues: list[Queue]) -> None:
        for q in queues:
            self.events.emit("acd.queue.stats", **self.queue_stats(q.name))

    # ------------------------------------------------------------------ agent events
    def on_agent_state(self, agent: Agent, old: AgentState, new: AgentState, reason: str) -> None:
        self._writer.submit(cdr.save_agent_state, agent.id, agent.station_port, agent.mode.value,
                            new.value, agent.reason, self.wall())
        if new in (AgentState.READY, AgentState.NOT_READY, AgentState.WRAP_UP, AgentState.LOGGED_OUT):
            self._qlog(new.name, agent=agent.id, reason=agent.reason)
        self.events.emit("acd.agent.state", agent=agent.id, old=old.value, new=new.value,
                         reason=agent.reason, station=agent.station_port)
        self._emit_stats([q for q in self.queues.values() if q.is_member(agent)])
        if new is AgentState.READY and self._started:
            self.dispatch()

    # ------------------------------------------------------------------ calls (from CallFlow)
    def enqueue(self, call: QueuedCall, queue: Queue) -> bool:
        """Put the call in ``queue`` (False: the queue is full) and dispatch."""
        if queue.full:
            self._qlog("FULL", call=call, queue=queue.name)
            return False
        if not call.first_queue:
            call.first_queue = queue.name
        call._set_state(CallState.WAITING, f"queue {queue.name}")
        queue.add(call, self.clock())
        self._qlog("ENTER", call=call, queue=queue.name, caller=call.caller, priority=call.priority.name,
                   position=queue.ahead_of(call) + 1)
        self._emit_stats([queue])
        self.dispatch()
        return True

    def leave_queue(self, call: QueuedCall, event: str, **data: Any) -> None:
        q = call.queue
        if q is None:
            return
        q.remove(call)
        if event == "OVERFLOW":
            q.overflowed += 1
        self._qlog(event, call=call, queue=q.name, wait=round(self.clock() - call.entered, 2), **data)
        self._emit_stats([q])

    def ring_timeout(self, call: QueuedCall) -> float:
        return call.queue.cfg.ring_timeout if call.queue is not None else 15.0

    def offer_failed(self, call: QueuedCall, outcomes: dict[str, str]) -> None:
        """Nobody answered the offer: the agents who let it ring out count a miss; the call waits again."""
        call.ring_s += self.clock() - call.offered_at
        for agent_id, outcome in outcomes.items():
            agent = self.agents[agent_id]
            if outcome == "missed":
                self._qlog("NOANSWER", call=call, agent=agent_id)
                agent.on_offer_missed(self.cfg.no_answer_limit)
            else:
                agent.on_offer_withdrawn()
        call.offer_to = []
        call._set_state(CallState.WAITING, "offer not answered")
        self.dispatch()

    def call_connected(self, call: QueuedCall, agent: Agent, outcomes: dict[str, str]) -> None:
        now = self.clock()
        for agent_id, outcome in outcomes.items():
            if agent_id != agent.id:
                other = self.agents[agent_id]
                if outcome == "missed":
                    other.on_offer_missed(self.cfg.no_answer_limit)
                else:
                    other.on_offer_withdrawn()
        q = call.queue
        wait = now - call.created
        call.ring_s += now - call.offered_at
        if not call.talked:
            call.answered_at = now
        call.talked = True
        call.agent = agent
        call.offer_to = []
        if q is not None:
            q.answered += 1
            self.leave_queue(call, "CONNECT", agent=agent.id, ring=round(call.ring_s, 2))
        call._set_state(CallState.CONNECTED, f"agent {agent.id}")
        agent.on_answer(call.id)
        self._writer.submit(cdr.update_call, call.id, {
            "answered_at": self.wall(), "agent": agent.id, "wait_s": round(wait, 3),
            "ring_s": round(call.ring_s, 3), "final_queue": q.name if q else ""})
        self.events.emit("acd.call.connected", call_id=call.id, agent=agent.id, caller=call.caller)
        self.dispatch()

    def call_ended(self, call: QueuedCall, disposition: Disposition, ended_by: str) -> None:
        now = self.clock()
        q = call.queue
        if q is not None:
            if disposition is Disposition.ABANDONED:
                q.abandoned += 1
            self.leave_queue(call, "ABANDON" if disposition is Disposition.ABANDONED else disposition.name,
                             ended_by=ended_by)
        if call.state is CallState.OFFERED:
            call.ring_s += now - call.offered_at      # the caller gave up while an agent was rung
        for a in call.offer_to:
            a.on_offer_withdrawn()
        call.offer_to = []
        was_connected = call.state is CallState.CONNECTED
        call._set_state(CallState.ENDED, disposition.value)
        fields: dict[str, Any] = {"ended_at": self.wall(), "disposition": disposition.value,
                                  "ended_by": ended_by, "overflow_to": call.overflow_to,
                                  "offers": call.offers}
        agent = call.agent
        if was_connected and agent is not None:
            fields["talk_s"] = round(now - call.answered_at, 3)
            handled_in = self.queues.get(call.last_queue)
            if handled_in is not None:
                handled_in.handled.append(now - call.answered_at + self._wrapup_of(agent, handled_in))
            self._qlog("COMPLETE", call=call, agent=agent.id, ended_by=ended_by,
                       talk=round(now - call.answered_at, 2))

            def wrapped(seconds: float, call_id: str = call.id) -> None:
                self._writer.submit(cdr.update_call, call_id, {"wrapup_s": round(seconds, 3)})
            agent.on_call_end(self._wrapup_of(agent, q), wrapped)
            if agent.logout_after:
                self.logout(agent.id)
        elif not call.talked:
            fields["wait_s"] = round(now - call.created, 3)
            fields["ring_s"] = round(call.ring_s, 3)
            fields["final_queue"] = call.first_queue if q is None else q.name
        self._writer.submit(cdr.update_call, call.id, fields)
        self.events.emit("acd.call.ended", call_id=call.id, disposition=disposition.value,
                         agent=agent.id if agent else "", ended_by=ended_by)
        self.dispatch()

    def estimated_wait(self, queue: Queue, ahead: int) -> float:
        """Seconds a caller with ``ahead`` callers before him may wait: (ahead + 1) x AHT / staff."""
        staff = sum(1 for a in self.agents.values() if a.logged_in and queue.is_member(a))
        return (ahead + 1) * queue.aht(DEFAULT_AHT) / max(1, staff)

    def requeued(self, call: QueuedCall) -> None:
        """The call goes back to a queue after an agent had it (transfer to a queue, park timeout)."""
        call.offer_to = []
        call.talk = None
        self._qlog("REQUEUE", call=call)

    def record_talk(self, call: QueuedCall, talk: Any) -> None:
        """What the Talk adds to the CDR: hold time and the transfer chain (summed over talks)."""
        call.hold_s += talk.hold_s
        call.transfers = [*call.transfers, *[t for t in talk.transfers if not call.transfers
                                              or t != call.transfers[-1]]]
        self._writer.submit(cdr.update_call, call.id, {"hold_s": round(call.hold_s, 3),
                                                       "transfers": ">".join(call.transfers)})

    def survey_rated(self, call: QueuedCall, agent_id: str, rating: int) -> None:
        self._qlog("SURVEY", call=call, agent=agent_id, rating=rating)
        self._writer.submit(cdr.update_call, call.id, {"survey": rating})
        self.events.emit("acd.call.survey", call_id=call.id, agent=agent_id, rating=rating)

    def _wrapup_of(self, agent: Agent, queue: Queue | None) -> float:
        if queue is not None and queue.cfg.wrapup is not None:
            return queue.cfg.wrapup
        return agent.cfg.wrapup if agent.cfg.wrapup is not None else self.cfg.wrapup

    # ------------------------------------------------------------------ the dispatcher
    def dispatch(self) -> None:
        """Offer waiting calls to free agents: highest priority first, then the oldest.

        Runs without yielding, so an agent is never offered two calls and a call never two offers.
        """
        if self._dispatching or self.stopping:
            self._again = True
            return
        self._dispatching = True
        try:
            self._again = True
            while self._again:
                self._again = False
                self._dispatch_once()
        finally:
            self._dispatching = False

    def _dispatch_once(self) -> None:
        waiting = sorted((c for q in self.queues.values() for c in q.waiting() if not c.offer_to),
                         key=lambda c: c.key())
        for call in waiting:
            q = call.queue
            assert q is not None
            free = [a for a in self.agents.values() if a.can_take_call and q.is_member(a)]
            if not free:
                continue
            fresh = [a for a in free if a.id not in call.tried]
            if not fresh:
                call.tried.clear()
                fresh = free
            stats = [AgentStats(a.id, a.idle_since, a.calls, a.cfg.skills.get(q.cfg.skill, 0),
                                q.member_order(a)) for a in fresh]
            chosen = [self.agents[s.id] for s in choose(q.cfg.strategy, stats, q.last_order)]
            if not chosen:
                continue
            q.last_order = q.member_order(chosen[0])
            self._offer(call, chosen)

    def _offer(self, call: QueuedCall, agents: list[Agent]) -> None:
        call.offer_to = agents
        call.offers += 1
        call.offered_at = self.clock()
        call.tried.update(a.id for a in agents)
        for a in agents:
            a.on_offer(call.id)
        q = call.queue
        qname = q.name if q is not None else ""
        self._qlog("OFFER", call=call, queue=qname, agent=",".join(a.id for a in agents))
        if call.offers == 1:
            self._writer.submit(cdr.update_call, call.id, {"offered_at": self.wall()})
        self._writer.submit(cdr.update_call, call.id, {"agent": agents[0].id, "offers": call.offers})
        self.events.emit("acd.call.offered", call_id=call.id, caller=call.caller, queue=qname,
                         agents=[a.id for a in agents], priority=call.priority.name)
        try:
            call.trunk.stop_play()      # wakes the call's greenlet out of its hold prompt
        except Exception:
            log.debug("%s stop_play failed", call.prefix, exc_info=True)

    # ------------------------------------------------------------------ queue log
    def _qlog(self, event: str, call: QueuedCall | None = None, queue: str = "", agent: str = "",
              **data: Any) -> None:
        if call is not None and not queue and call.queue is not None:
            queue = call.queue.name
        self._writer.submit(cdr.log_queue_event, self.wall(), event, call.id if call else "", queue, agent,
                            {k: (v if isinstance(v, (int, float, str)) else str(v)) for k, v in data.items()})


__all__ = ["ACD", "AcdError", "Priority"]
