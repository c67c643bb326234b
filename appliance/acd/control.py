"""Agent call control, the service API side: what the desk (appliance/web) asks of a call.

``CallControl`` is a part of the ACD class (service.py): every method takes agent ids (and a target:
another agent's id, a queue's name or an outside number) and either does it or raises AcdError with
a Chinese message the desk shows. The call itself is changed by its ``Talk`` (talk.py); outbound
calls from the desk (click-to-dial) start here. Outside numbers are dialled only when they match
``dial_allow`` in [acd] (toll-fraud guard: an empty list allows none).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gevent

from appliance.crm import cdr
from appliance.ivr.registry import AllowList
from appliance.voiceboard.channel import Channel, Play
from appliance.voiceboard.errors import CallError, Hangup
from appliance.voiceboard.events import Kind, Tone

from .agent import IN_CALL, Agent, AgentState
from .errors import AcdError
from .model import Disposition, PhoneMode, Priority, RecordMode
from .queue import CallState, QueuedCall
from .talk import CONSULT_RING_TIMEOUT, DIAL_ANSWER_TIMEOUT, MonitorMode, Party, Talk, TalkState

if TYPE_CHECKING:
    from appliance.voiceboard.board import Board
    from appliance.voiceboard.prompts import PromptSet

    from .model import AcdConfig, EventBus
    from .queue import Queue
    from .recording import Recorder

log = logging.getLogger(__name__)

PARK_SLOTS = range(1, 10)        # 驻留 slots 1-9


class CallControl:
    # Provided by the ACD (service.py).
    agents: dict[str, Agent]
    queues: dict[str, Queue]
    calls: dict[str, QueuedCall]
    cfg: AcdConfig
    board: Board
    events: EventBus
    recorder: Recorder
    prompts: PromptSet | None
    clock: Callable[[], float]
    wall: Callable[[], float]
    _flows: dict[str, gevent.Greenlet]

    def _agent(self, agent_id: str) -> Agent:
        raise NotImplementedError
    def _wrapup_of(self, agent: Agent, queue: Queue | None) -> float:
        raise NotImplementedError
    def _qlog(self, event: str, call: QueuedCall | None = None, queue: str = "", agent: str = "",
              **data: Any) -> None:
        raise NotImplementedError
    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        raise NotImplementedError
    def call_ended(self, call: QueuedCall, disposition: Disposition, ended_by: str) -> None:
        raise NotImplementedError
    def dispatch(self) -> None:
        raise NotImplementedError
    def next_seq(self) -> int:
        raise NotImplementedError

    # ------------------------------------------------------------------ finding the call
    def _call_of(self, agent: Agent) -> QueuedCall | None:
        return self.calls.get(agent.call_id) if agent.call_id else None

    def _talk_of(self, agent_id: str) -> Talk:
        agent = self._agent(agent_id)
        call = self._call_of(agent)
        talk = call.talk if call is not None else None
        if talk is None or talk.state is TalkState.ENDED:
            raise AcdError("您当前没有通话")
        if (talk.agent is None or talk.agent.agent is not agent) and talk.state is not TalkState.CONSULT:
            raise AcdError("这通电话已不在您这里")
        return talk

    def call_info(self, agent_id: str) -> dict[str, Any]:
        """The agent's current call for the desk: caller, state, third party, monitor, recording."""
        agent = self._agent(agent_id)
        call = self._call_of(agent)
        if call is None:
            return {}
        info: dict[str, Any] = {"call_id": call.id, "caller": call.caller,
                                "direction": "out" if call.outbound else "in"}
        if call.talk is not None:
            info.update(call.talk.info())
        return info

    def _target(self, spec: str) -> Agent | str:
        spec = str(spec).strip()
        if spec in self.agents:
            return self.agents[spec]
        if spec.isascii() and spec.isdigit():
            return spec
        raise AcdError(f"“{spec}”既不是座席工号也不是电话号码")

    # ------------------------------------------------------------------ agent commands
    def hold(self, agent_id: str) -> None:
        self._talk_of(agent_id).hold()

    def unhold(self, agent_id: str) -> None:
        self._talk_of(agent_id).unhold()

    def hangup_call(self, agent_id: str) -> None:
        self._talk_of(agent_id).hangup()

    def consult(self, agent_id: str, target: str) -> None:
        self._talk_of(agent_id).consult(self._target(target))

    def cancel_consult(self, agent_id: str) -> None:
        self._talk_of(agent_id).cancel_consult()

    def complete_transfer(self, agent_id: str) -> None:
        self._talk_of(agent_id).complete_transfer()

    def conference(self, agent_id: str) -> None:
        self._talk_of(agent_id).conference()

    def transfer(self, agent_id: str, target: str) -> None:
        """Blind transfer to an agent id, a queue name or an outside number."""
        talk = self._talk_of(agent_id)
        if target in self.queues:
            talk.transfer_to_queue(target)
            return
        talk.transfer(self._target(target))

    def park(self, agent_id: str) -> int:
        talk = self._talk_of(agent_id)
        used = {c.talk.park_slot for c in self.calls.values()
                if c.talk is not None and c.talk.state is TalkState.PARKED}
        slot = next((s for s in PARK_SLOTS if s not in used), None)
        if slot is None:
            raise AcdError("驻留位已满")
        talk.park(slot)
        return slot

    def retrieve(self, agent_id: str, slot: int) -> None:
        agent = self._agent(agent_id)
        for call in self.calls.values():
            if call.talk is not None and call.talk.state is TalkState.PARKED and call.talk.park_slot == slot:
                call.talk.retrieve(agent)
                return
        raise AcdError(f"驻留位 {slot} 没有电话")

    def parked(self) -> list[dict[str, Any]]:
        return [{"slot": c.talk.park_slot, "call_id": c.id, "caller": c.caller}
                for c in self.calls.values() if c.talk is not None and c.talk.state is TalkState.PARKED]

    def record(self, agent_id: str, on: bool) -> None:
        """Recording on demand from the desk (refused where the queue's mode is never)."""
        talk = self._talk_of(agent_id)
        call = talk.call
        agent = self._agent(agent_id)
        if self.recorder.mode(call, agent) is RecordMode.NEVER:
            raise AcdError("本队列设置为不录音")
        if on:
            self.recorder.start(call, agent.id, notice=True)
        else:
            self.recorder.stop(call, agent.id)

    def pickup(self, agent_id: str, ringing_agent: str) -> None:
        """Take a call that is ringing at a colleague's phone (代接)."""
        agent, target = self._agent(agent_id), self._agent(ringing_agent)
        call = self._call_of(target)
        if call is None or target.state is not AgentState.OFFERED or call.flow is None:
            raise AcdError(f"座席 {target.id} 没有正在振铃的电话")
        self.check_free_agent(agent)
        call.offer_to.append(agent)
        agent.on_offer(call.id)
        call.flow.add_ringer(agent)
        self._qlog("PICKUP", call=call, agent=agent.id, ringing=target.id)

    def set_forward(self, agent_id: str, number: str) -> None:
        """Forward the agent's offered calls to an outside number (his mobile); "" to stop."""
        agent = self._agent(agent_id)
        number = str(number).strip()
        if number:
            if not number.isascii() or not number.isdigit():
                raise AcdError("请输入纯数字的电话号码")
            self.check_number(number)
            if not agent.logged_in:
                raise AcdError(f"座席 {agent.id} 未签入")
        agent.forward = number
        self._qlog("FORWARD", agent=agent.id, number=number)
        self.events.emit("acd.agent.forward", agent=agent.id, number=number)
        self.dispatch()

    def free_trunk(self) -> Channel | None:
        return next(self.board.idle(Kind.FXO), None)

    # ------------------------------------------------------------------ team leader
    def _leader(self, leader_id: str) -> Agent:
        leader = self._agent(leader_id)
        if not leader.cfg.leader:
            raise AcdError("只有班长可以监听、密语或强插")
        return leader

    def monitor(self, leader_id: str, agent_id: str, mode: str) -> None:
        """Listen (监听), whisper (密语) or barge (强插) on an agent's call; again to switch."""
        leader = self._leader(leader_id)
        try:
            m = MonitorMode(mode)
        except ValueError:
            raise AcdError("监听方式只能是 listen、whisper 或 barge") from None
        agent = self._agent(agent_id)
        call = self._call_of(agent)
        if call is None or call.talk is None or agent.state is not AgentState.TALKING:
            raise AcdError(f"座席 {agent.id} 当前没有通话")
        call.talk.monitor(leader, m)
        self._qlog("MONITOR", call=call, agent=agent.id, leader=leader.id, mode=m.value)

    def force_logout(self, leader_id: str, agent_id: str) -> str:
        """A team leader signs an agent out (强制签出); in a call: as soon as the call is over."""
        self._leader(leader_id)
        agent = self._agent(agent_id)
        if not agent.logged_in:
            raise AcdError(f"座席 {agent.id} 未签入")
        self._qlog("FORCE_LOGOUT", agent=agent.id, leader=leader_id)
        if agent.state in IN_CALL:
            agent.logout_after = True
            return "after_call"
        self.logout(agent.id)
        return "now"

    def logout(self, agent_id: str) -> None:
        raise NotImplementedError

    def stop_monitor(self, leader_id: str, agent_id: str) -> None:
        leader = self._leader(leader_id)
        call = self._call_of(self._agent(agent_id))
        if call is None or call.talk is None:
            raise AcdError("该座席当前没有通话")
        call.talk.stop_monitor(leader)

    # ------------------------------------------------------------------ used by Talk
    def check_number(self, number: str) -> None:
        if not AllowList(self.cfg.dial_allow).allows(number):
            log.warning("dial to %r refused: not on acd.dial_allow", number)
            raise AcdError(f"号码 {number} 不在允许外呼的范围内（防盗打限制），请联系管理员")

    def check_free_agent(self, agent: Agent) -> None:
        if not agent.logged_in or agent.station is None:
            raise AcdError(f"座席 {agent.id} 未签入")
        if agent.state in IN_CALL:
            raise AcdError(f"座席 {agent.id} 正在通话或振铃")
        if not agent.station.line_up:
            raise AcdError(f"座席 {agent.id} 的话机线路不通")
        headset = agent.mode is PhoneMode.AUTO_ANSWER and agent.headset_up
        if agent.station.busy and not headset:
            raise AcdError(f"座席 {agent.id} 的话机正在使用")

    def reserve_agent(self, agent: Agent, call: QueuedCall) -> bool:
        """Ring ``agent`` for ``call`` outside the queue (consult, transfer, monitor): OFFERED, so the
        dispatcher leaves him alone; returns whether he was ready (to go back to afterwards)."""
        self.check_free_agent(agent)
        was_ready = agent.state is AgentState.READY
        agent.resume_reason = "" if was_ready else (agent.reason or "not ready")
        agent._cancel_wrapup()
        agent.on_offer(call.id)
        return was_ready

    def consult_answered(self, call: QueuedCall, agent: Agent) -> None:
        agent.on_answer(call.id)
        self._qlog("CONSULT", call=call, agent=agent.id)

    def consult_over(self, call: QueuedCall, agent: Agent, was_ready: bool) -> None:
        """A colleague rung or consulted for ``call`` is free again (ready, or his old not-ready)."""
        reason = "" if was_ready else agent.resume_reason
        if agent.state is AgentState.TALKING:
            agent.not_ready_after = reason or None
            agent.on_call_end(0.0, lambda _s: None)
        elif agent.state is AgentState.OFFERED:
            self._back_from_offer(agent, reason)
        self.dispatch()

    @staticmethod
    def _back_from_offer(agent: Agent, reason: str) -> None:
        """Rung outside the queue and not answered: straight back to ready or to his not-ready."""
        agent.call_id = ""
        if reason:
            agent._set_state(AgentState.NOT_READY, reason)
        else:
            agent.on_offer_withdrawn()

    def agent_left_call(self, call: QueuedCall, agent: Agent, to: str) -> None:
        """The agent passed the call on (transfer, park): his wrap-up starts now."""
        self._qlog("TRANSFER", call=call, agent=agent.id, to=to)
        if call.agent is agent:
            call.agent = None
        q = self.queues.get(call.last_queue)
        agent.on_call_end(self._wrapup_of(agent, q), lambda _s: None)
        self.events.emit("acd.call.transferred", call_id=call.id, agent=agent.id, to=to)

    def took_over(self, call: QueuedCall, agent: Agent) -> None:
        """``agent`` has the call now (transfer answered, parked call retrieved)."""
        call.agent = agent
        agent.on_answer(call.id)
        self._qlog("CONNECT", call=call, agent=agent.id, transfer=1)
        self.submit(cdr.update_call, call.id, {"agent": agent.id})
        self.events.emit("acd.call.connected", call_id=call.id, agent=agent.id, caller=call.caller)

    # ------------------------------------------------------------------ click-to-dial
    def dial(self, agent_id: str, number: str) -> str:
        """Call ``number`` for the agent: his phone rings (a headset beeps), then the number is
        dialled on a free trunk. Returns the call id; progress is on ``acd.call.dial``."""
        agent = self._agent(agent_id)
        number = str(number).strip()
        if not number.isascii() or not number.isdigit():
            raise AcdError("请输入纯数字的电话号码")
        self.check_number(number)
        self.check_free_agent(agent)
        if next(self.board.idle(Kind.FXO), None) is None:
            raise AcdError("没有空闲的外线")
        call_id = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(self.wall()))}-out-{uuid.uuid4().hex[:6]}"
        was_ready = agent.state is AgentState.READY
        agent.resume_reason = "" if was_ready else (agent.reason or "not ready")
        agent._cancel_wrapup()
        agent.on_offer(call_id)
        self._flows[call_id] = gevent.spawn(self._outbound, agent, number, call_id, was_ready)
        return call_id

    def _dial_event(self, call_id: str, agent: Agent, number: str, status: str) -> None:
        self.events.emit("acd.call.dial", call_id=call_id, agent=agent.id, number=number, status=status)

    def _outbound(self, agent: Agent, number: str, call_id: str, was_ready: bool) -> None:
        station = agent.station
        out: Channel | None = None
        call: QueuedCall | None = None
        headset = agent.mode is PhoneMode.AUTO_ANSWER and agent.headset_up
        try:
            assert station is not None
            self._dial_event(call_id, agent, number, "ringing_agent")
            if headset:
                station.play([Play.cptone(Tone.BEEP, 300)], barge_in=False)
            else:
                station.claim()
                station.ring("", timeout=CONSULT_RING_TIMEOUT)
            out = next(self.board.idle(Kind.FXO), None)
            if out is None:
                raise AcdError("没有空闲的外线")
            out.claim()
            self._dial_event(call_id, agent, number, "dialling")
            out.seize()
            station.bridge(out)                 # the agent hears the exchange: ringback, busy
            out.send_dtmf(number)
            out.wait_answer(DIAL_ANSWER_TIMEOUT)
            station.unbridge()
            call = QueuedCall(call_id, out, number, "", Priority.NORMAL, self.next_seq(), self.clock())
            call.outbound = True
            call.agent = agent
            call.answered_at = self.clock()
            call._set_state(CallState.CONNECTED, f"{number} answered")
            self.calls[call_id] = call
            self.submit(cdr.open_call, call_id, number, "", "", 0, self.wall())
            self.submit(cdr.update_call, call_id, {"direction": "out", "agent": agent.id,
                                                   "answered_at": self.wall(), "offered_at": self.wall()})
            agent.on_answer(call_id)
            self._dial_event(call_id, agent, number, "answered")
            if self.recorder.mode(call, agent) is RecordMode.ALWAYS:
                self.recorder.start(call, "", notice=True)
            party = Party(station, agent, agent.id, release=not headset)
            talk = Talk(self, call, agent, party)  # type: ignore[arg-type]
            call.talk = talk
            end = talk.run()
            self.recorder.call_over(call)
            self.call_ended(call, Disposition.ANSWERED, end.ended_by)
        except (Hangup, CallError, AcdError) as exc:
            log.info("[call %s] dial %s for %s: %s", call_id, number, agent.id, exc)
            self._dial_event(call_id, agent, number, "failed")
            if call is None:
                self.consult_over_outbound(agent, was_ready)
        finally:
            self._flows.pop(call_id, None)
            self.calls.pop(call_id, None)
            if out is not None and out.owner is not None:
                out.release("outbound call over")
            if station is not None and not headset and station.owner is gevent.getcurrent():
                station.release("outbound call over")
            if call is not None:
                self.recorder.call_over(call)

    def consult_over_outbound(self, agent: Agent, was_ready: bool) -> None:
        if agent.state is AgentState.OFFERED:
            self._back_from_offer(agent, "" if was_ready else agent.resume_reason)
        agent.call_id = ""
        self.dispatch()
