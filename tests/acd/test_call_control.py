"""Agent call control on the simulated board, every audio path checked by a tone sent one way and
detected at the other end (and, where it must not arrive, not detected)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import gevent
import pytest

from appliance.acd.errors import AcdError
from appliance.crm import callrec, cdr
from appliance.voiceboard.channel import Channel, ChannelState, Play
from appliance.voiceboard.sim import SimulatedSite, exchange_hangup
from appliance.voiceboard.wavscan import read_wav, tone_blocks

from .conftest import Harness, config, wait_for
from .phones import Phones, call_in, heard

SLOTS = {1000: 0, 2000: 1, 2400: 2, 600: 3}
A, B, LEAD = 3, 4, 5            # stations of agents 1001, 1002 and team leader 1003
ALLOWED = "0571886600XX"


@pytest.fixture
def site() -> Iterator[SimulatedSite]:
    s = SimulatedSite("fxo:3,fxs:4", name="ctl")
    s.start()
    try:
        yield s
    finally:
        s.stop()


def hears(src: Channel, dst: Channel, freq: int, timeout: float = 2.5) -> bool:
    """``src`` sends a tone; does ``dst`` hear it?"""
    dst.detect_tone(freq, slot=SLOTS[freq])
    src.start_play([Play.tone(freq, duration_ms=int(timeout * 1000) + 500)])
    try:
        return dst.wait_tone(freq, timeout)
    finally:
        src.stop_play()
        gevent.sleep(0.3)              # the tone ends at the detector before the next check


def silent(src: Channel, dst: Channel, freq: int) -> bool:
    return not hears(src, dst, freq, timeout=1.2)


def agents(leader: bool = False, **queue: object) -> dict[str, object]:
    lst = [{"id": "1001", "name": "甲"}, {"id": "1002", "name": "乙"},
           {"id": "1003", "name": "班长", "leader": leader}]
    return {"agent_list": lst, "queue": {"agents": ["1001", "1002", "1003"], **queue}}


def connected(site: SimulatedSite, make_acd: Callable[..., Harness], answer: dict[int, float] | None = None,
              exchange: bool = False, extra_queues: list[dict[str, object]] | None = None,
              **kw: object) -> tuple[Harness, Phones, Channel]:
    """A caller on trunk 0 talking to agent 1001 (1002 and the leader signed in, not ready)."""
    phones = Phones(site, answer if answer is not None else {A: 0.3, B: 0.3, LEAD: 0.3},
                    exchange_answer=0.5 if exchange else None)
    spec = agents(leader=True, **kw.pop("queue", {}))  # type: ignore[arg-type]
    h = make_acd(config(queue=spec["queue"], agents=3, agent_list=spec["agent_list"], wrapup=1.0,  # type: ignore[arg-type]
                        dial_allow=[ALLOWED], extra_queues=extra_queues, **kw))
    h.acd.login("1001", A, ready=True)
    h.acd.login("1002", B)
    h.acd.login("1003", LEAD)
    call_in(site, 0, "13800138000").get(timeout=20)
    wait_for(lambda: h.acd.agent_info("1001")["state"] == "talking", 15, "agent 1001 to take the call")
    return h, phones, h.exchange(0)


def state(h: Harness, agent: str) -> object:
    return h.acd.agent_info(agent)["state"]


def talk_state(h: Harness, agent: str = "1001") -> object:
    return h.acd.call_info(agent).get("state")


def test_hold_plays_music_and_cuts_both_ways_unhold_restores(
        site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    h, _, caller = connected(site, make_acd)
    agent = h.phone(A)
    assert hears(caller, agent, 1000) and hears(agent, caller, 2000)
    h.acd.hold("1001")
    assert talk_state(h) == "hold"
    wait_for(lambda: "music_on_hold" in heard(caller), 8, "music on hold for the caller")
    assert silent(agent, caller, 2400), "the caller on hold hears the agent"
    assert silent(caller, agent, 600), "the agent hears the caller on hold"
    with pytest.raises(AcdError, match="保持"):
        h.acd.hold("1001")
    h.acd.unhold("1001")
    assert hears(caller, agent, 1000) and hears(agent, caller, 2000)
    exchange_hangup(caller, "busy")
    wait_for(lambda: state(h, "1001") in ("wrap_up", "ready"), 8, "the call over")
    h.acd.flush()
    rec = cdr.recent_calls(1)[0]
    assert rec.hold_s > 1.0 and rec.disposition == "answered"


def test_consult_then_conference_then_attended_transfer(
        site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    h, phones, caller = connected(site, make_acd)
    a, b = h.phone(A), h.phone(B)
    h.acd.consult("1001", "1002")
    wait_for(lambda: h.acd.call_info("1001").get("third") == "1002", 10, "1002 to answer the consult")
    assert B in phones.ports_rung()
    assert state(h, "1002") == "talking"
    assert hears(a, b, 1000) and hears(b, a, 2000), "agent and colleague talk"
    assert silent(a, caller, 2400) and silent(b, caller, 600), "the caller on hold hears the consult"
    h.acd.conference("1001")
    assert talk_state(h) == "conference"
    assert hears(caller, b, 1000) and hears(b, caller, 2000) and hears(a, caller, 2400)
    h.acd.complete_transfer("1001")
    wait_for(lambda: state(h, "1001") == "wrap_up", 5, "1001 to leave for wrap-up")
    wait_for(lambda: a.state is not ChannelState.UP, 8, "1001's phone released")
    assert state(h, "1002") == "talking"
    assert hears(caller, b, 2400) and hears(b, caller, 600), "the caller now talks with 1002"
    exchange_hangup(caller, "busy")
    wait_for(lambda: state(h, "1002") in ("wrap_up", "ready", "not_ready"), 8, "1002's call over")
    h.acd.flush()
    rec = cdr.recent_calls(1)[0]
    assert rec.agent == "1002" and rec.transfers == "1001>1002"
    assert [e.event for e in cdr.queue_log(rec.call_id)].count("TRANSFER") == 1


def test_consult_cancelled_and_blind_transfer_to_a_queue(
        site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    h, _, caller = connected(site, make_acd, extra_queues=[{"name": "billing", "agents": ["1002"]}])
    a, b = h.phone(A), h.phone(B)
    h.acd.consult("1001", "1002")
    wait_for(lambda: h.acd.call_info("1001").get("third") == "1002", 10, "1002 to answer")
    h.acd.cancel_consult("1001")
    assert talk_state(h) == "talking"
    wait_for(lambda: b.state is not ChannelState.UP, 8, "1002's phone released")
    assert hears(caller, a, 1000), "back with the caller"
    wait_for(lambda: state(h, "1002") == "not_ready", 5, "1002 back to not ready as he was")
    h.acd.ready("1002")
    wait_for(lambda: b.state is ChannelState.IDLE, 10, "1002's phone on-hook")
    h.acd.transfer("1001", "billing")
    wait_for(lambda: state(h, "1002") == "talking", 20, "the billing queue's agent to take the caller")
    assert state(h, "1001") in ("wrap_up", "ready")
    assert hears(caller, b, 2000) and hears(b, caller, 2400)
    exchange_hangup(caller, "busy")
    wait_for(lambda: state(h, "1002") in ("wrap_up", "ready"), 8, "the call over")
    h.acd.flush()
    rec = cdr.recent_calls(1)[0]
    assert rec.agent == "1002" and "queue:billing" in rec.transfers


def test_leader_listens_whispers_and_barges(site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    h, _, caller = connected(site, make_acd)
    a, lead = h.phone(A), h.phone(LEAD)
    with pytest.raises(AcdError, match="班长"):
        h.acd.monitor("1002", "1001", "listen")
    h.acd.monitor("1003", "1001", "listen")
    wait_for(lambda: h.acd.call_info("1001").get("leader") == "1003", 10, "the leader's phone to answer")
    assert hears(caller, lead, 1000) and hears(a, lead, 2000), "listening: the leader hears both"
    assert silent(lead, a, 2400) and silent(lead, caller, 600), "listening: nobody hears the leader"
    h.acd.monitor("1003", "1001", "whisper")
    assert hears(lead, a, 2400), "whisper: the agent hears the leader"
    assert silent(lead, caller, 600), "whisper: the caller must not hear the leader"
    assert hears(caller, a, 1000), "whisper: caller and agent still talk"
    h.acd.monitor("1003", "1001", "barge")
    assert hears(lead, caller, 2000) and hears(lead, a, 600), "barge: everybody hears the leader"
    h.acd.stop_monitor("1003", "1001")
    wait_for(lambda: lead.state is not ChannelState.UP, 8, "the leader's phone released")
    assert hears(caller, a, 2400)
    assert h.acd.force_logout("1003", "1001") == "after_call", "强制签出 waits for the call to end"
    assert state(h, "1001") == "talking"
    exchange_hangup(caller, "busy")
    wait_for(lambda: state(h, "1001") == "logged_out", 8, "1001 signed out once the call is over")


def test_transfer_and_dial_out_only_to_allowed_numbers(
        site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    h, phones, caller = connected(site, make_acd, exchange=True)
    with pytest.raises(AcdError, match="防盗打"):
        h.acd.transfer("1001", "0085212345678")
    with pytest.raises(AcdError, match="防盗打"):
        h.acd.dial("1002", "95001")
    assert talk_state(h) == "talking" and phones.dialled == []
    h.acd.transfer("1001", "057188660012")
    wait_for(lambda: phones.dialled == [(1, "057188660012")], 15, "the number dialled on a free trunk")
    wait_for(lambda: state(h, "1001") in ("wrap_up", "ready"), 5, "1001 free after the blind transfer")
    outside = site.far.channels[1]
    wait_for(lambda: outside.state is ChannelState.UP, 10, "the outside party to answer")
    gevent.sleep(0.3)
    assert hears(caller, outside, 1000) and hears(outside, caller, 2000), "caller and outside party talk"
    exchange_hangup(caller, "busy")
    wait_for(lambda: site.board.channels[1].state is ChannelState.IDLE, 10, "the outgoing trunk released")
    h.acd.flush()
    assert cdr.recent_calls(1)[0].transfers == "1001>057188660012"


def test_click_to_dial_rings_the_agent_then_the_number(
        site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {A: 0.3}, exchange_answer=0.5)
    h = make_acd(config(agents=1, dial_allow=[ALLOWED], wrapup=0.5))
    h.acd.login("1001", A, ready=True)
    call_id = h.acd.dial("1001", "057188660099")
    wait_for(lambda: state(h, "1001") == "talking", 20, "the dialled party to answer")
    assert phones.rang[0][0] == A and phones.dialled[0][1] == "057188660099"
    outside = next(c for c in site.far.channels[:3] if c.state is ChannelState.UP)
    assert hears(h.phone(A), outside, 1000) and hears(outside, h.phone(A), 2000)
    assert h.acd.call_info("1001")["direction"] == "out"
    h.acd.hangup_call("1001")
    wait_for(lambda: state(h, "1001") in ("wrap_up", "ready"), 8, "the call over")
    h.acd.flush()
    rec = cdr.get_call(call_id)
    assert rec is not None and rec.direction == "out" and rec.agent == "1001" and rec.talk_s > 0.5


def test_recording_always_holds_both_sides_with_the_notice_first(
        site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    h, _, caller = connected(site, make_acd)
    assert heard(caller)[0] == "record_notice", "the caller is told before anyone answers"
    agent = h.phone(A)
    caller.play([Play.tone(1000, duration_ms=1000)], barge_in=False)     # the caller speaks 1 s,
    agent.play([Play.tone(2000, duration_ms=1000)], barge_in=False)      # then the agent 1 s
    exchange_hangup(caller, "busy")
    wait_for(lambda: state(h, "1001") in ("wrap_up", "ready"), 8, "the call over")
    h.acd.flush()
    rec = cdr.recent_calls(1)[0]
    files = callrec.recordings_of(rec.call_id)
    assert len(files) == 1 and files[0].ended_at is not None and files[0].duration_s > 1.9
    path = callrec.recording_file(files[0].id)
    assert path is not None and path.is_file()
    samples = gevent.get_hub().threadpool.apply(read_wav, (path,))
    assert sum(tone_blocks(samples, 1000)) >= 35, "the caller's side is in the recording"
    assert sum(tone_blocks(samples, 2000)) >= 35, "the agent's side is in the recording"


def test_recording_on_demand_and_post_call_survey(
        site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    h, _, caller = connected(site, make_acd, queue={"record": "on_demand", "survey": True})
    assert "record_notice" not in heard(caller)
    with pytest.raises(AcdError, match="没有在录音"):
        h.acd.record("1001", False)
    h.acd.record("1001", True)
    wait_for(lambda: "record_notice" in heard(caller), 5, "the notice as recording starts")
    assert h.acd.call_info("1001")["recording"] is True
    gevent.sleep(1.0)
    h.acd.record("1001", False)
    h.acd.hangup_call("1001")                    # the agent ends: the caller is asked to rate
    wait_for(lambda: "survey" in heard(caller), 8, "the survey question")
    caller.send_dtmf("1")
    wait_for(lambda: "thanks" in heard(caller), 8, "thanks for rating")
    wait_for(lambda: site.board.channels[0].state is ChannelState.IDLE, 10, "the caller released")
    h.acd.flush()
    rec = cdr.recent_calls(1)[0]
    assert rec.survey == 1 and rec.ended_by == "agent"
    files = callrec.recordings_of(rec.call_id)
    assert len(files) == 1 and files[0].started_by == "1001" and 0.5 < files[0].duration_s < 5


def test_pickup_and_park_retrieve(site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {B: 0.3})               # 1001's phone rings but nobody lifts it
    spec = agents()
    h = make_acd(config(queue={**spec["queue"], "ring_timeout": 15.0}, agents=3,  # type: ignore[dict-item]
                        agent_list=spec["agent_list"], wrapup=0.5))
    h.acd.login("1001", A, ready=True)
    h.acd.login("1002", B)
    call_in(site, 0, "13800138000").get(timeout=20)
    wait_for(lambda: state(h, "1001") == "offered", 15, "1001's phone to ring")
    h.acd.pickup("1002", "1001")
    wait_for(lambda: state(h, "1002") == "talking", 10, "1002 to take the call")
    assert A in phones.ports_rung() and B in phones.ports_rung()
    wait_for(lambda: state(h, "1001") == "ready", 5, "1001's offer withdrawn")
    caller, b = h.exchange(0), h.phone(B)
    assert hears(caller, b, 1000)
    slot = h.acd.park("1002")
    assert [(p["slot"], p["caller"]) for p in h.acd.parked()] == [(slot, "13800138000")]
    wait_for(lambda: "music_on_hold" in heard(caller), 8, "music for the parked caller")
    wait_for(lambda: state(h, "1002") in ("wrap_up", "ready"), 5, "1002 free")
    h.acd.not_ready("1001", "break")
    wait_for(lambda: h.phone(A).state is ChannelState.IDLE, 12, "1001's phone to stop ringing")
    phones.answer[A] = 0.3
    h.acd.retrieve("1001", slot)
    wait_for(lambda: state(h, "1001") == "talking", 10, "1001 to retrieve the call")
    assert hears(caller, h.phone(A), 2000) and hears(h.phone(A), caller, 2400)
    exchange_hangup(caller, "busy")


def test_forward_to_mobile_rings_the_number_and_connects(
        site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {}, exchange_answer=0.5)
    h = make_acd(config(agents=1, dial_allow=[ALLOWED], wrapup=0.5))
    h.acd.login("1001", A, ready=True)
    with pytest.raises(AcdError, match="防盗打"):
        h.acd.set_forward("1001", "13900000000")
    h.acd.set_forward("1001", "057188660077")
    call_in(site, 0, "13800138000").get(timeout=20)
    wait_for(lambda: state(h, "1001") == "talking", 25, "the mobile to answer the forwarded call")
    assert phones.dialled[0][1] == "057188660077" and phones.rang == [], "the desk phone does not ring"
    mobile = site.far.channels[phones.dialled[0][0]]
    caller = h.exchange(0)
    assert hears(caller, mobile, 1000) and hears(mobile, caller, 2000)
    exchange_hangup(caller, "busy")
    wait_for(lambda: state(h, "1001") in ("wrap_up", "ready"), 8, "the call over")


def test_blind_transfer_nobody_answers_caller_back_in_the_queue(
        site: SimulatedSite, make_acd: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch) -> None:
    from appliance.acd import talk
    monkeypatch.setattr(talk, "CONSULT_RING_TIMEOUT", 3.0)
    h, phones, caller = connected(site, make_acd, answer={A: 0.3})     # 1002 never lifts his phone
    h.acd.transfer("1001", "1002")
    assert talk_state(h) == "transferring"
    wait_for(lambda: B in phones.ports_rung(), 8, "1002's phone to ring")
    wait_for(lambda: state(h, "1001") == "ready", 8, "1001 through wrap-up")
    wait_for(lambda: state(h, "1001") == "talking", 20, "the caller back in the queue, offered to 1001 again")
    assert state(h, "1002") == "not_ready", "1002 goes back to not ready as he was"
    assert hears(caller, h.phone(A), 1000)
    h.acd.flush()
    events = [e.event for e in cdr.queue_log(cdr.recent_calls(1)[0].call_id)]
    assert "TRANSFER" in events and "REQUEUE" in events and events.count("CONNECT") == 2
    exchange_hangup(caller, "busy")
