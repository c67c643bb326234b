"""A connected call and what the agent does with it: hold, consult, transfer, conference, park,
a team leader's listen / whisper / barge, and recording on demand.

Every party of a connected call is a member of one conference on the board's switch matrix (the
media engine mixes it every 20 ms)::

    caller    SPEAK|LISTEN          on hold, parked or being transferred: neither; the trunk plays
                                    music on hold (or ringback) instead
    agent     SPEAK|LISTEN          the agent who has the call
    third     SPEAK|LISTEN          a consulted colleague / an outside number / a conference member
    leader    LISTEN                监听 listen: hears caller and agent, nobody hears him
              SPEAK|LISTEN, whisper_to=agent   密语 whisper: only the agent hears him
              SPEAK|LISTEN          强插 barge: everybody hears him

States (``TalkState``): TALKING, HOLD (caller hears music), CONSULT (caller on hold, the agent talks
to a third party, ringing or answered), CONFERENCE (all three), TRANSFERRING (blind transfer: the
agent has gone, the caller hears ringback while the target rings), PARKED (no agent; music until
an agent retrieves the call or PARK_TIMEOUT sends it back to its queue).

The Talk runs in the call's greenlet (``CallFlow``): it sleeps until a party's line changes state,
then settles what that means (``_settle``). Agent commands come from other greenlets (the web);
they check the state, change the conference at once (C calls that never wait) and return;
anything that rings a phone or dials out runs in the Talk's greenlet group, and its outcome is an
event (``acd.call.control``). A refused command raises AcdError with a message for the agent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import Event
from gevent.pool import Group

from appliance.voiceboard.channel import Channel, ChannelState, Play
from appliance.voiceboard.errors import CallError, Hangup
from appliance.voiceboard.events import CidFormat, Kind, Tone

from .errors import AcdError
from .model import PhoneMode

if TYPE_CHECKING:
    from appliance.voiceboard.board import Conference

    from .agent import Agent
    from .queue import QueuedCall
    from .service import ACD

log = logging.getLogger(__name__)

CONSULT_RING_TIMEOUT = 20.0   # ringing a colleague (consult, transfer, retrieve, monitor)
DIAL_ANSWER_TIMEOUT = 40.0    # an outside number (consult / transfer / click-to-dial)
PARK_TIMEOUT = 120.0          # a parked call goes back to its queue after this
MUSIC_REPEAT = 8              # music-on-hold prompts queued per play command
GONE = (ChannelState.CLEARING, ChannelState.DOWN, ChannelState.IDLE)


class TalkState(Enum):
    TALKING = "talking"
    HOLD = "hold"
    CONSULT = "consult"
    CONFERENCE = "conference"
    TRANSFERRING = "transferring"
    PARKED = "parked"
    ENDED = "ended"


class MonitorMode(Enum):
    LISTEN = "listen"     # 监听
    WHISPER = "whisper"   # 密语
    BARGE = "barge"       # 强插


@dataclass
class Party:
    channel: Channel
    agent: Agent | None          # the agent at this station; None: an outside number
    label: str                   # agent id, or the number dialled
    release: bool = True         # release the line when the party leaves (not a held headset)
    was_ready: bool = True       # consulted agent: state to go back to


@dataclass(frozen=True)
class TalkEnd:
    ended_by: str                # "caller", "agent", "third" (the transfer target), "shutdown"
    requeue: str = ""            # the queue the caller goes back to (blind transfer / park timeout)


class Talk:
    def __init__(self, acd: ACD, call: QueuedCall, agent: Agent, agent_party: Party) -> None:
        self.acd = acd
        self.call = call
        self.trunk = call.trunk
        self.agent: Party | None = agent_party
        self.third: Party | None = None
        self.leader: Party | None = None
        self.mode = MonitorMode.LISTEN
        self.state = TalkState.TALKING
        self.conf: Conference = call.trunk.board.conference()
        self.group = Group()
        self._wake = Event()
        self._pending: gevent.Greenlet | None = None   # a ring / dial for the third party
        self._music: gevent.Greenlet | None = None
        self._end: TalkEnd | None = None
        self.hold_started = 0.0
        self.hold_s = 0.0
        self.park_slot = 0
        self.greenlet: gevent.Greenlet | None = None
        self.prefix = call.prefix
        self.transfers: list[str] = [agent.id]

    # ------------------------------------------------------------------ state
    def _set_state(self, new: TalkState, why: str = "") -> None:
        old = self.state
        if old is new:
            return
        now = self.acd.clock()
        if old in (TalkState.HOLD, TalkState.CONSULT, TalkState.PARKED, TalkState.TRANSFERRING):
            self.hold_s += now - self.hold_started
        if new in (TalkState.HOLD, TalkState.CONSULT, TalkState.PARKED, TalkState.TRANSFERRING):
            self.hold_started = now
        self.state = new
        log.info("%s talk %s -> %s %s", self.prefix, old.value, new.value, why)
        self.acd.events.emit("acd.call.control", call_id=self.call.id, state=new.value, why=why,
                             agent=self.agent.label if self.agent else "",
                             third=self.third.label if self.third else "")

    def info(self) -> dict[str, Any]:
        return {"state": self.state.value, "third": self.third.label if self.third else "",
                "leader": self.leader.label if self.leader else "",
                "monitor": self.mode.value if self.leader else "", "park_slot": self.park_slot,
                "recording": self.acd.recorder.active(self.call)}

    # ------------------------------------------------------------------ the loop
    def run(self) -> TalkEnd:
        self.greenlet = gevent.getcurrent()
        board = self.trunk.board
        board.subscribe(self._board_event)
        try:
            self._join(self.trunk)
            assert self.agent is not None
            self._join(self.agent.channel)
            while True:
                try:
                    self._wake.wait()
                except Hangup:
                    pass                        # a party's line went down: settled below
                self._wake.clear()
                if self.acd.stopping:
                    return TalkEnd("shutdown")
                end = self._end or self._settle()
                if end is not None:
                    return end
        finally:
            board.unsubscribe(self._board_event)
            self._teardown()

    def _board_event(self, name: str, channel: Channel, **data: Any) -> None:
        if name == "channel.state" and data.get("new") in GONE and channel.index in self.conf.members:
            self._wake.set()

    @staticmethod
    def _gone(party: Party | None) -> bool:
        return party is not None and party.channel.state in GONE

    def _settle(self) -> TalkEnd | None:
        if self.trunk.state in GONE:
            return TalkEnd("caller")
        if self._gone(self.leader):
            self._drop_leader("hung up")
        if self._gone(self.third):
            self._third_left("hung up")
        if self._gone(self.agent):
            return self._agent_left("hung up")
        if self.agent is None and self.third is None and self.state not in (
                TalkState.PARKED, TalkState.TRANSFERRING):
            return TalkEnd("third")
        return None

    def _teardown(self) -> None:
        self._set_state(TalkState.ENDED)
        self.group.kill(block=False)
        self._stop_music()
        for party in (self.leader, self.third, self.agent):
            if party is not None:
                self._release(party, "call ended")
        self.conf.close()

    def end(self, end: TalkEnd) -> None:
        self._end = end
        self._wake.set()

    # ------------------------------------------------------------------ conference plumbing
    def _join(self, ch: Channel, speak: bool = True, listen: bool = True,
              whisper_to: Channel | None = None) -> None:
        ch.stop_play()
        self.conf.join(ch, speak=speak, listen=listen, whisper_to=whisper_to)

    def _caller_hears_conference(self, on: bool, music: bool = True) -> None:
        self.conf.join(self.trunk, speak=on, listen=on)
        if on:
            self._stop_music()
        elif music:
            self._start_music()

    def _start_music(self, tone: Tone | None = None) -> None:
        self._stop_music()
        self._music = self.group.spawn(self._music_loop, tone)

    def _music_loop(self, tone: Tone | None) -> None:
        try:
            while True:
                if tone is not None:
                    self.trunk.play([Play.cptone(tone)], barge_in=False, timeout=30)
                    continue
                path = self.acd.prompts.path("music_on_hold") if self.acd.prompts is not None else None
                items: list[Play | str] = [path] * MUSIC_REPEAT if path is not None else [Play.silence(5000)]
                self.trunk.play(items, barge_in=False)
        except (Hangup, CallError, gevent.Timeout):
            return

    def _stop_music(self) -> None:
        if self._music is not None:
            self._music.kill(block=False)
            self._music = None
            try:
                self.trunk.stop_play()
            except Exception:
                log.debug("%s stop_play: the line is gone", self.prefix)

    def _release(self, party: Party, why: str) -> None:
        ch = party.channel
        if ch.index in self.conf.members:
            self.conf.leave(ch)
        if party.release and ch.state not in (ChannelState.IDLE, ChannelState.DOWN):
            ch.release(why)

    def _take(self, party: Party) -> None:
        """The Talk's greenlet owns the party's line from now on (its hang-up wakes the loop)."""
        if party.release and self.greenlet is not None:
            party.channel.owner = self.greenlet

    # ------------------------------------------------------------------ parties leaving
    def _agent_left(self, why: str) -> TalkEnd | None:
        agent, third = self.agent, self.third
        assert agent is not None
        if third is not None and self._pending is None and self.state in (TalkState.CONSULT,
                                                                         TalkState.CONFERENCE):
            self._hand_over(third, f"agent {why} ({self.state.value})")   # attended transfer
            return None
        if self.state in (TalkState.CONSULT,) and self._pending is not None:
            self._cancel_pending()
        self._release(agent, why)
        self.agent = None
        return TalkEnd("agent")

    def _third_left(self, why: str) -> None:
        third = self.third
        assert third is not None
        self._release(third, why)
        self.third = None
        if third.agent is not None:
            self.acd.consult_over(self.call, third.agent, third.was_ready)
        if self.state in (TalkState.CONSULT, TalkState.CONFERENCE) and self.agent is not None:
            self._caller_hears_conference(True)
            self._set_state(TalkState.TALKING, f"{third.label} left ({why})")

    def _hand_over(self, third: Party, why: str) -> None:
        """The third party takes the call; the agent who had it leaves for wrap-up."""
        old = self.agent
        if old is not None:
            self._release(old, "transferred")
            if old.agent is not None:
                self.acd.agent_left_call(self.call, old.agent, third.label)
        self.third = None
        self.agent = third
        self.transfers.append(third.label)
        if third.agent is not None:
            self.acd.took_over(self.call, third.agent)
        self._caller_hears_conference(True)
        self._set_state(TalkState.TALKING, why)

    def _drop_leader(self, why: str) -> None:
        leader = self.leader
        if leader is None:
            return
        self._release(leader, why)
        self.leader = None
        if leader.agent is not None:
            self.acd.consult_over(self.call, leader.agent, leader.was_ready)
        self.acd.events.emit("acd.call.monitor", call_id=self.call.id, leader=leader.label, mode="",
                             agent=self.agent.label if self.agent else "")

    # ------------------------------------------------------------------ agent commands
    def _need(self, *states: TalkState) -> None:
        if self.state not in states:
            raise AcdError(f"通话当前为“{STATE_NAMES[self.state]}”，不能这样操作")

    def hold(self) -> None:
        self._need(TalkState.TALKING)
        self._caller_hears_conference(False)
        self._set_state(TalkState.HOLD, "agent")

    def unhold(self) -> None:
        self._need(TalkState.HOLD)
        self._caller_hears_conference(True)
        self._set_state(TalkState.TALKING, "agent")

    def hangup(self) -> None:
        """The agent ends his part of the call from the desk (as putting the handset down)."""
        if self.agent is None:
            raise AcdError("您已不在这通电话中")
        end = self._agent_left("hung up at the desk")
        if end is not None:
            self.end(end)

    def consult(self, target: Agent | str) -> None:
        """Put the caller on hold and ring a colleague or an outside number (咨询)."""
        self._need(TalkState.TALKING, TalkState.HOLD)
        self._check_target(target)
        self._caller_hears_conference(False)
        self._set_state(TalkState.CONSULT, f"ringing {self._label(target)}")
        assert self.agent is not None
        self.agent.channel.start_play([Play.cptone(Tone.RINGBACK)])
        self._pending = self.group.spawn(self._reach_third, target, False)

    def cancel_consult(self) -> None:
        self._need(TalkState.CONSULT)
        if self._pending is not None:
            self._cancel_pending()
        elif self.third is not None:
            self._third_left("consult cancelled")
            return
        self._caller_hears_conference(True)
        self._set_state(TalkState.TALKING, "consult cancelled")

    def complete_transfer(self) -> None:
        """Attended transfer: the consulted party takes the caller, the agent leaves."""
        self._need(TalkState.CONSULT, TalkState.CONFERENCE)
        if self.third is None:
            raise AcdError("被咨询方还未接听")
        self._hand_over(self.third, "attended transfer")

    def conference(self) -> None:
        """Three-way: the caller, the agent and the consulted party all hear each other."""
        self._need(TalkState.CONSULT)
        if self.third is None:
            raise AcdError("被咨询方还未接听")
        self._caller_hears_conference(True)
        self._set_state(TalkState.CONFERENCE, f"with {self.third.label}")

    def transfer(self, target: Agent | str) -> None:
        """Blind transfer to an agent or an outside number: the agent leaves now, the caller hears
        ringback; if nobody answers the caller goes back to his queue."""
        self._need(TalkState.TALKING, TalkState.HOLD)
        self._check_target(target)
        agent = self.agent
        assert agent is not None
        self._caller_hears_conference(False, music=False)
        self._start_music(Tone.RINGBACK)
        self._set_state(TalkState.TRANSFERRING, f"to {self._label(target)}")
        self._release(agent, "transferred")
        self.agent = None
        if agent.agent is not None:
            self.acd.agent_left_call(self.call, agent.agent, self._label(target))
        self._pending = self.group.spawn(self._reach_third, target, True)

    def transfer_to_queue(self, queue: str) -> None:
        self._need(TalkState.TALKING, TalkState.HOLD)
        agent = self.agent
        assert agent is not None
        self._release(agent, f"transferred to queue {queue}")
        self.agent = None
        if agent.agent is not None:
            self.acd.agent_left_call(self.call, agent.agent, f"queue:{queue}")
        self.transfers.append(f"queue:{queue}")
        self.end(TalkEnd("agent", requeue=queue))

    def park(self, slot: int) -> None:
        self._need(TalkState.TALKING, TalkState.HOLD)
        agent = self.agent
        assert agent is not None
        self._caller_hears_conference(False)
        self.park_slot = slot
        self._set_state(TalkState.PARKED, f"slot {slot}")
        self._release(agent, "parked")
        self.agent = None
        if agent.agent is not None:
            self.acd.agent_left_call(self.call, agent.agent, f"park:{slot}")
        self.group.spawn(self._park_timer)

    def _park_timer(self) -> None:
        gevent.sleep(PARK_TIMEOUT)
        if self.state is TalkState.PARKED and self._pending is None:
            log.info("%s parked too long: back to the queue", self.prefix)
            self.end(TalkEnd("agent", requeue=self.call.last_queue))

    def retrieve(self, agent: Agent) -> None:
        self._need(TalkState.PARKED)
        if self._pending is not None:
            raise AcdError("这通电话正在被另一位座席取回")
        self._check_target(agent)
        self._pending = self.group.spawn(self._reach_third, agent, True)

    def monitor(self, leader: Agent, mode: MonitorMode) -> None:
        """A team leader listens, whispers to the agent or barges in; again to change the mode."""
        if self.agent is None or self.state is TalkState.ENDED:
            raise AcdError("这通电话当前没有座席在通话，无法监听")
        if self.leader is not None:
            if self.leader.agent is not leader:
                raise AcdError(f"班长 {self.leader.label} 正在监听这通电话")
            self.mode = mode
            self._monitor_flags()
            return
        self._check_target(leader)
        self.mode = mode
        self.group.spawn(self._reach_leader, leader)

    def stop_monitor(self, leader: Agent) -> None:
        if self.leader is None or self.leader.agent is not leader:
            raise AcdError("您没有在监听这通电话")
        self._drop_leader("monitor stopped")

    def _monitor_flags(self) -> None:
        leader, agent = self.leader, self.agent
        if leader is None:
            return
        if self.mode is MonitorMode.LISTEN or agent is None:
            self.conf.join(leader.channel, speak=False, listen=True)
        elif self.mode is MonitorMode.WHISPER:
            self.conf.join(leader.channel, speak=True, listen=True, whisper_to=agent.channel)
        else:
            self.conf.join(leader.channel, speak=True, listen=True)
        self.acd.events.emit("acd.call.monitor", call_id=self.call.id, leader=leader.label,
                             mode=self.mode.value, agent=agent.label if agent else "")

    # ------------------------------------------------------------------ reaching a party
    def _label(self, target: Agent | str) -> str:
        return target if isinstance(target, str) else target.id

    def _check_target(self, target: Agent | str) -> None:
        if isinstance(target, str):
            self.acd.check_number(target)
            if next(self.acd.board.idle(Kind.FXO), None) is None:
                raise AcdError("没有空闲的外线")
            return
        self.acd.check_free_agent(target)
        if self.agent is not None and target is self.agent.agent:
            raise AcdError("不能转给自己")

    def _cancel_pending(self) -> None:
        g, self._pending = self._pending, None
        if g is not None:
            g.kill(block=True, timeout=2)

    def _reach_third(self, target: Agent | str, takes_call: bool) -> None:
        """Ring / dial the target; on answer it joins (consult) or takes the call (transfer)."""
        party: Party | None = None
        try:
            party = self._reach(target)
        except (Hangup, CallError, AcdError) as exc:
            log.info("%s %s did not answer: %s", self.prefix, self._label(target), exc)
        finally:
            if gevent.getcurrent() is self._pending:
                self._pending = None
        if self.state is TalkState.ENDED:
            if party is not None:
                self._release(party, "call ended")
                if party.agent is not None:
                    self.acd.consult_over(self.call, party.agent, party.was_ready)
            return
        if party is None:
            self._reach_failed(target, takes_call)
            return
        self._take(party)
        self._join(party.channel)
        if self.agent is not None:
            self.agent.channel.stop_play()
        self.acd.events.emit("acd.call.control", call_id=self.call.id, state=self.state.value,
                             why=f"{party.label} answered", agent=self.agent.label if self.agent else "",
                             third=party.label)
        if takes_call:
            self._hand_over(party, f"{party.label} answered")
        else:
            self.third = party
            if party.agent is not None:
                self.acd.consult_answered(self.call, party.agent)
        self._wake.set()

    def _reach_failed(self, target: Agent | str, takes_call: bool) -> None:
        label = self._label(target)
        self.acd.events.emit("acd.call.control", call_id=self.call.id, state=self.state.value,
                             why=f"{label} not reached", agent=self.agent.label if self.agent else "",
                             third="")
        if takes_call and self.state is TalkState.TRANSFERRING:
            self.end(TalkEnd("agent", requeue=self.call.last_queue))
        elif self.state is TalkState.CONSULT and self.agent is not None:
            self.agent.channel.stop_play()
            self._set_state(TalkState.HOLD, f"{label} not reached")   # the agent takes the caller back

    def _reach(self, target: Agent | str) -> Party:
        if isinstance(target, str):
            return self._dial(target)
        return self._ring_agent(target)

    def _dial(self, number: str) -> Party:
        out = next(self.acd.board.idle(Kind.FXO), None)
        if out is None:
            raise AcdError("没有空闲的外线")
        out.claim()
        try:
            out.dial(number, timeout=DIAL_ANSWER_TIMEOUT)
        except BaseException:
            if out.owner is gevent.getcurrent():
                out.release("not reached")
            raise
        return Party(out, None, number)

    def _ring_agent(self, agent: Agent) -> Party:
        was_ready = self.acd.reserve_agent(agent, self.call)
        station = agent.station
        try:
            if station is None:
                raise AcdError(f"座席 {agent.id} 未签入")
            if agent.mode is PhoneMode.AUTO_ANSWER and agent.headset_up:
                station.play([Play.cptone(Tone.BEEP, 300)], barge_in=False)
                return Party(station, agent, agent.id, release=False, was_ready=was_ready)
            station.claim()
            caller = self.call.caller if self.call.caller.isdigit() else ""
            station.ring(caller, cid_format=self.trunk.cid_format or CidFormat.FSK,
                         timeout=CONSULT_RING_TIMEOUT)
            return Party(station, agent, agent.id, was_ready=was_ready)
        except BaseException:
            if station is not None and station.owner is gevent.getcurrent():
                station.release("not answered")
            self.acd.consult_over(self.call, agent, was_ready)
            raise

    def _reach_leader(self, leader: Agent) -> None:
        try:
            party = self._ring_agent(leader)
        except (Hangup, CallError, AcdError) as exc:
            log.info("%s leader %s did not pick up: %s", self.prefix, leader.id, exc)
            return
        if self.state is TalkState.ENDED or self.leader is not None:
            self._release(party, "call ended")
            self.acd.consult_over(self.call, leader, party.was_ready)
            return
        self._take(party)
        self.leader = party
        self.conf.join(party.channel, speak=False, listen=False)
        self._monitor_flags()
        self._wake.set()


STATE_NAMES = {
    TalkState.TALKING: "通话中", TalkState.HOLD: "保持", TalkState.CONSULT: "咨询",
    TalkState.CONFERENCE: "三方通话", TalkState.TRANSFERRING: "转接中", TalkState.PARKED: "驻留",
    TalkState.ENDED: "已结束",
}
