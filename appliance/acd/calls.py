"""One queued call, from the trunk answering to clear-down, in the greenlet that owns the trunk.

The caller waits hearing the hold prompt, position announcements and music on hold; the ACD's
dispatcher picks agents (``call.offer_to``) and stops the current prompt to wake the call. The call
then rings the agents' stations (or beeps an auto-answer headset), bridges the first to answer,
and waits until either side hangs up. The wait limit sends the call to its queue's overflow target.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import gevent
from gevent.event import AsyncResult

from appliance.ivr.saynum import say_integer
from appliance.voiceboard.channel import Channel, Play
from appliance.voiceboard.errors import CallError, Hangup, NoAnswer
from appliance.voiceboard.events import CidFormat, Tone

from .errors import AcdError
from .model import CALLBACK, VOICEMAIL, Disposition, PhoneMode, RecordMode
from .queue import CallState, Queue, QueuedCall
from .talk import GONE, Party, Talk, TalkEnd

UNSERVED = (Disposition.OVERFLOW, Disposition.FULL)   # no agent took the call (it may go back to the IVR)

if TYPE_CHECKING:
    from .agent import Agent
    from .service import ACD

log = logging.getLogger(__name__)

OVERFLOW_HOPS = 3            # queue -> queue overflows one call may take
BEEP_MS = 300                # the auto-answer beep (China BEEP tone)
SURVEY_TIMEOUT = 6.0         # seconds for the caller's rating key
SURVEY_TRIES = 2


class CallFlow:
    def __init__(self, acd: ACD, call: QueuedCall) -> None:
        self.acd = acd
        self.call = call
        self.trunk = call.trunk
        self.outcomes: dict[str, str] = {}
        self._answered_on: dict[str, Channel] = {}   # forwarded offers: the trunk the mobile answered on
        self._offering: tuple[AsyncResult, list[int], list[gevent.Greenlet]] | None = None

    # ------------------------------------------------------------------ main
    def run(self) -> Disposition:
        acd, call = self.acd, self.call
        self.disposition: Disposition | None = None
        self.ended_by = "caller"
        try:
            self._route()
        except Hangup as exc:
            log.info("%s ended: %s", call.prefix, exc.cause)
        except CallError as exc:
            log.warning("%s failed: %s", call.prefix, exc)
        finally:
            disposition = self.disposition or Disposition.ABANDONED
            if acd.stopping:
                disposition, self.ended_by = Disposition.INTERRUPTED, "shutdown"
            acd.recorder.call_over(call)
            if call.handed_over and disposition in UNSERVED:
                self.ended_by = "ivr"   # the IVR goes on with the caller (its on_fail exit)
            else:
                self.trunk.release("call ended")
            acd.call_ended(call, disposition, self.ended_by)
        return disposition

    def _route(self) -> None:
        """Queue, offer, overflow, talk; sets ``disposition`` and ``ended_by`` as it goes."""
        acd, call = self.acd, self.call
        queue = acd.queues[call.wanted_queue or acd.cfg.default_queue]
        hops = 0
        if call.handed_over and not acd.staffed(queue):
            acd.qlog_no_agent(call, queue)      # nobody signed in: the IVR's fallback, at once
            self.disposition, self.ended_by = Disposition.OVERFLOW, "acd"
            return
        while True:
            if not acd.enqueue(call, queue):
                target = self._overflow_target(queue, hops)
                if target is None:
                    self.disposition = self._final_overflow(queue, Disposition.FULL)
                    self.ended_by = "acd"
                    return
                queue, hops = target, hops + 1
                continue
            requeue = ""
            while self._wait():
                agent = self._offer()
                if agent is None:
                    acd.offer_failed(call, self.outcomes)
                    self.outcomes = {}
                    continue
                self.disposition = Disposition.ANSWERED
                end = self._talk(agent)
                self.ended_by = end.ended_by
                if not end.requeue or self.trunk.state in GONE:
                    return
                requeue = end.requeue
                break
            if requeue:                         # blind transfer to a queue, unanswered transfer, park
                queue = acd.queues.get(requeue, queue)
                acd.requeued(call)
                continue
            target = self._overflow_target(queue, hops)
            acd.leave_queue(call, "OVERFLOW", target=target.name if target else queue.cfg.overflow)
            if target is None:
                self.disposition = self._final_overflow(queue, Disposition.OVERFLOW)
                self.ended_by = "acd"
                return
            queue, hops = target, hops + 1

    # ------------------------------------------------------------------ waiting
    def _prompts(self, *names: str) -> list[Play | str]:
        items: list[Play | str] = []
        for name in names:
            path = self.acd.prompts.path(name) if self.acd.prompts is not None else None
            if path is not None:
                items.append(path)
        return items

    def _position(self) -> list[str]:
        q = self.call.queue
        ahead = q.ahead_of(self.call) if q is not None else 0
        if ahead <= 0 or q is None:
            return ["hold"]
        names = ["queue_position", *say_integer(ahead), "queue_callers"]
        minutes = self.acd.estimated_wait(q, ahead) / 60.0
        if q.cfg.announce_wait and minutes >= 1.0:
            names += ["queue_wait", *say_integer(math.ceil(minutes)), "wait_minutes"]
        return names

    def _wait(self) -> bool:
        """Hold until the dispatcher offers the call (True) or the wait limit passes (False)."""
        call, trunk, acd = self.call, self.trunk, self.acd
        first = True
        next_announce = 0.0
        notice = acd.recorder.mode(call, None) is RecordMode.ALWAYS and not call.noticed
        while True:
            if call.offer_to:
                if notice and first:            # an agent was free at once: the notice still comes first
                    call.noticed = True
                    trunk.play(self._prompts("record_notice"), barge_in=False)
                return True
            q = call.queue
            assert q is not None
            now = acd.clock()
            remaining = q.cfg.max_wait - (now - call.entered)
            if remaining <= 0:
                return False
            if first:
                pos = self._position()
                names = pos if pos == ["hold"] else ["hold", *pos]
                if notice:
                    call.noticed = True
                    names = ["record_notice", *names]   # the caller is told before anyone answers
                first = False
                next_announce = now + q.cfg.announce_every
            elif now >= next_announce:
                names = self._position()
                next_announce = now + q.cfg.announce_every
            else:
                names = ["music_on_hold"]
            items = self._prompts(*names) or [Play.silence(1000)]
            try:
                trunk.play(items, barge_in=False, timeout=remaining)
            except gevent.Timeout:
                trunk.stop_play()

    # ------------------------------------------------------------------ offering
    def _offer(self) -> Agent | None:
        call, trunk = self.call, self.trunk
        agents = list(call.offer_to)
        call._set_state(CallState.OFFERED, ",".join(a.id for a in agents))
        trunk.stop_play()
        trunk.start_play([Play.cptone(Tone.RINGBACK)])
        winner: AsyncResult = AsyncResult()
        left = [len(agents)]
        ringers = [gevent.spawn(self._ring, a, winner, left) for a in agents]
        self._offering = (winner, left, ringers)
        try:
            agent: Agent | None = winner.get()
            return agent
        finally:
            self._offering = None
            gevent.killall([g for g in ringers if not g.dead], block=True)
            for a in agents:
                self.outcomes.setdefault(a.id, "withdrawn")

    def _ring(self, agent: Agent, winner: AsyncResult, left: list[int]) -> None:
        station = agent.station
        call = self.call
        won = claimed = False
        try:
            if agent.forward:
                station = self._ring_forward(agent)
                claimed = True
            elif station is None:
                self.outcomes[agent.id] = "failed"
                return
            elif agent.mode is PhoneMode.AUTO_ANSWER and agent.headset_up:
                station.play([Play.cptone(Tone.BEEP, BEEP_MS)], barge_in=False)
            else:
                if station.busy:
                    self.outcomes[agent.id] = "failed"
                    return
                station.claim()
                claimed = True
                caller = call.caller if call.caller.isdigit() else ""
                station.ring(caller, cid_format=self.trunk.cid_format or CidFormat.FSK,
                             timeout=self.acd.ring_timeout(call))
            if winner.ready():
                self.outcomes[agent.id] = "withdrawn"
            else:
                won = True
                self.outcomes[agent.id] = "answered"
                winner.set(agent)
        except NoAnswer:
            self.outcomes[agent.id] = "missed"
        except (Hangup, CallError) as exc:
            log.info("%s offer to %s failed: %s", call.prefix, agent.id, exc)
            self.outcomes[agent.id] = "failed"
        finally:
            if not won:
                self._answered_on.pop(agent.id, None)
            if claimed and not won and station is not None and station.owner is gevent.getcurrent():
                station.release("offer over")
            left[0] -= 1
            if left[0] <= 0 and not winner.ready():
                winner.set(None)

    # ------------------------------------------------------------------ talking
    def add_ringer(self, agent: Agent) -> None:
        """Pickup: ring ``agent`` too for the offer in progress; the first to answer takes it."""
        ctx = self._offering
        if ctx is None:
            return              # the ringing has not started yet: the picker is in call.offer_to
        if ctx[0].ready():
            raise AcdError("这通电话已被接起")
        winner, left, ringers = ctx
        left[0] += 1
        ringers.append(gevent.spawn(self._ring, agent, winner, left))

    def _ring_forward(self, agent: Agent) -> Channel:
        """The agent forwards to his mobile: dial it on a free trunk; answered = he took the call."""
        out = self.acd.free_trunk()
        if out is None:
            raise NoAnswer(f"no free trunk to forward to {agent.forward}")
        out.claim()
        try:
            out.dial(agent.forward, timeout=self.acd.ring_timeout(self.call))
        except BaseException:
            if out.owner is gevent.getcurrent():
                out.release("forward not answered")
            raise
        self._answered_on[agent.id] = out
        return out

    def _talk(self, agent: Agent) -> TalkEnd:
        """Caller and agent talk (with hold, transfers, conference... see talk.py) until it ends;
        then the post-call survey if the agent hung up first and the queue asks for one."""
        call, trunk, acd = self.call, self.trunk, self.acd
        forwarded = self._answered_on.pop(agent.id, None)
        station = forwarded or agent.station
        assert station is not None
        auto = forwarded is None and agent.mode is PhoneMode.AUTO_ANSWER and agent.headset_up
        if not auto:
            station.claim()
        trunk.stop_play()
        acd.call_connected(call, agent, self.outcomes)
        if acd.recorder.mode(call, agent) is RecordMode.ALWAYS and not acd.recorder.active(call):
            try:
                acd.recorder.start(call, "", notice=False)   # the notice was the first hold prompt
            except AcdError as exc:
                log.error("%s %s", call.prefix, exc)
        talk = Talk(acd, call, agent, Party(station, agent, agent.id, release=not auto))
        call.talk = talk
        try:
            end = talk.run()
        finally:
            call.talk = None
            acd.record_talk(call, talk)
        log.info("%s talk over: %s%s", call.prefix, end.ended_by,
                 f", back to queue {end.requeue}" if end.requeue else "")
        if end.ended_by == "agent" and not end.requeue and trunk.state not in GONE:
            q = acd.queues.get(call.last_queue)
            if q is not None and q.cfg.survey:
                self._survey(talk.transfers[-1] if talk.transfers else agent.id)
        return end

    def _survey(self, agent_id: str) -> None:
        """满意度调查: the caller rates the agent with one key (acd.survey_keys)."""
        call, trunk, acd = self.call, self.trunk, self.acd
        keys = acd.cfg.survey_keys
        for attempt in range(SURVEY_TRIES):
            trunk.play(self._prompts("survey"), barge_in=True)
            key = trunk.collect_digits(1, timeout=SURVEY_TIMEOUT, terminators="")
            if key and key in keys:
                acd.survey_rated(call, agent_id, int(key))
                trunk.play(self._prompts("thanks", "goodbye"), barge_in=False)
                return
            if attempt + 1 < SURVEY_TRIES:
                trunk.play(self._prompts("invalid" if key else "timeout"), barge_in=False)
        trunk.play(self._prompts("goodbye"), barge_in=False)

    # ------------------------------------------------------------------ overflow
    def _overflow_target(self, queue: Queue, hops: int) -> Queue | None:
        name = queue.cfg.overflow
        if name in ("", VOICEMAIL, CALLBACK) or hops >= OVERFLOW_HOPS:
            return None
        self.call.overflow_to = name
        return self.acd.queues[name]

    def _final_overflow(self, queue: Queue, why: Disposition) -> Disposition:
        target = queue.cfg.overflow
        trunk = self.trunk
        trunk.stop_play()
        if self.call.handed_over:
            return why                  # the IVR has its own way on (on_fail): no overflow prompts
        if target == VOICEMAIL:
            self.call.overflow_to = VOICEMAIL
            trunk.play(self._prompts("leave_message"), barge_in=False)
            return Disposition.VOICEMAIL
        if target == CALLBACK:
            self.call.overflow_to = CALLBACK
            trunk.play(self._prompts("callback_accepted", "goodbye"), barge_in=False)
            return Disposition.CALLBACK
        trunk.play(self._prompts("queue_full", "goodbye"), barge_in=False)
        return why

