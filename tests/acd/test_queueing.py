"""Queue behaviour a caller and an agent notice, end to end on the simulated board."""

from __future__ import annotations

from collections.abc import Callable

import gevent

from appliance.acd.model import NO_ANSWER_REASON
from appliance.crm import cdr
from appliance.voiceboard.channel import ChannelState, Play
from appliance.voiceboard.events import EventType
from appliance.voiceboard.sim import SimulatedSite, exchange_hangup

from .conftest import Harness, config, wait_for
from .phones import Phones, call_in, heard


def _state(h: Harness, agent: str) -> object:
    return h.acd.agent_info(agent)["state"]


def test_wrapup_is_never_violated(site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    """Two callers, one agent with 2.5 s wrap-up: the second call rings only after the wrap-up."""
    wrapup = 2.5
    phones = Phones(site, {3: 0.3})
    h = make_acd(config(agents=1, wrapup=wrapup))
    h.acd.login("1001", 3, ready=True)
    call_in(site, 0, "13800000001").get(timeout=20)
    wait_for(lambda: _state(h, "1001") == "talking", 15, "the first call answered")
    call_in(site, 1, "13800000002").get(timeout=20)
    wait_for(lambda: "hold" in heard(h.exchange(1)), 10, "the second caller hears the hold prompt")
    gevent.sleep(1.0)
    exchange_hangup(h.exchange(0), "busy")
    wait_for(lambda: _state(h, "1001") == "wrap_up", 5, "wrap-up")
    ended = gevent.get_hub().loop.now()
    # while in wrap-up the agent's phone must not ring, whoever is waiting
    wait_for(lambda: len(phones.rang) == 2, 15, "the second call to reach the agent")
    assert phones.rang[1][2] == "13800000002"
    assert phones.rang[1][1] - ended >= wrapup - 0.1, "the phone rang during wrap-up"
    h.acd.flush()
    first = next(r for r in cdr.recent_calls(5) if r.caller == "13800000001")
    assert first.wrapup_s >= wrapup - 0.1
    exchange_hangup(h.exchange(1), "busy")


def test_end_wrapup_makes_the_agent_ready_at_once(site: SimulatedSite,
                                                  make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {3: 0.3})
    h = make_acd(config(agents=1, wrapup=60.0))
    h.acd.login("1001", 3, ready=True)
    call_in(site, 0, "13800000001").get(timeout=20)
    wait_for(lambda: _state(h, "1001") == "talking", 15, "answered")
    call_in(site, 1, "13800000002").get(timeout=20)
    exchange_hangup(h.exchange(0), "busy")
    wait_for(lambda: _state(h, "1001") == "wrap_up", 5, "wrap-up")
    wait_for(lambda: h.phone(3).state is ChannelState.IDLE, 10, "phone on-hook")
    gevent.sleep(1.0)
    assert len(phones.rang) == 1, "offered during a 60 s wrap-up"
    h.acd.end_wrapup("1001")
    wait_for(lambda: len(phones.rang) == 2, 10, "the waiting call offered after end_wrapup")
    exchange_hangup(h.exchange(1), "busy")


def test_vip_jumps_ahead_and_callers_hear_their_position(site: SimulatedSite,
                                                         make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {3: 0.3})
    h = make_acd(config(agents=1, vip_callers=["13900009999"]))
    h.acd.login("1001", 3)                      # logged in, not ready
    call_in(site, 0, "13800000001").get(timeout=20)
    wait_for(lambda: h.acd.queue_stats("service")["waiting"] == 1, 5, "first caller queued")
    call_in(site, 1, "13800000002").get(timeout=20)
    wait_for(lambda: h.acd.queue_stats("service")["waiting"] == 2, 5, "second caller queued")
    call_in(site, 2, "13900009999").get(timeout=20)
    wait_for(lambda: h.acd.queue_stats("service")["waiting"] == 3, 5, "VIP queued")
    # one caller ahead, one agent signed in, no call measured yet: (1 + 1) x 180 s = about 6 minutes
    announced = ["record_notice", "hold", "queue_position", "digit_1", "queue_callers",
                 "queue_wait", "digit_6", "wait_minutes", "music_on_hold"]
    wait_for(lambda: heard(h.exchange(1))[:9] == announced, 10, "position 2 and the estimated wait announced")
    wait_for(lambda: len(heard(h.exchange(2))) >= 3, 10, "the VIP's announcement")
    assert heard(h.exchange(2))[:3] == ["record_notice", "hold", "music_on_hold"], \
        "the VIP is told the call is recorded, then has nobody ahead"
    h.acd.ready("1001")
    wait_for(lambda: len(phones.rang) == 1, 10, "the first offer")
    assert phones.rang[0][2] == "13900009999", "the VIP caller must be served first"
    exchange_hangup(h.exchange(2), "busy")
    wait_for(lambda: len(phones.rang) == 2, 15, "the next offer")
    assert phones.rang[1][2] == "13800000001", "then FIFO among normal callers"
    for t in (0, 1):
        exchange_hangup(h.exchange(t), "busy")


def test_wait_limit_overflows_to_voicemail(site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    Phones(site, {})
    h = make_acd(config({"max_wait": 2.5, "overflow": "voicemail"}, agents=1))
    h.acd.login("1001", 3)                      # not ready: nobody takes the call
    t0 = call_in(site, 0, "13800000003").get(timeout=20)
    exch = h.exchange(0)
    wait_for(lambda: "leave_message" in heard(exch), 10, "the caller sent to voicemail")
    assert gevent.get_hub().loop.now() - t0 >= 2.4
    assert heard(exch)[:2] == ["record_notice", "hold"] and "music_on_hold" in heard(exch)
    wait_for(lambda: site.board.channels[0].state is ChannelState.IDLE, 10, "the call ended")
    h.acd.flush()
    rec = cdr.recent_calls(1)[0]
    assert (rec.disposition, rec.overflow_to, rec.agent) == ("voicemail", "voicemail", "")
    assert rec.wait_s >= 2.4
    assert "OVERFLOW" in [e.event for e in cdr.queue_log(rec.call_id)]


def test_wait_limit_overflows_to_another_queue(site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {4: 0.3})
    backup = {"name": "backup", "strategy": "longest_idle", "agents": ["1002"], "ring_timeout": 4.0}
    h = make_acd(config({"agents": ["1001"], "max_wait": 2.0, "overflow": "backup"}, agents=2,
                        extra_queues=[backup]))
    h.acd.login("1001", 3)                      # the first queue's agent is not ready
    h.acd.login("1002", 4, ready=True)
    call_in(site, 0, "13800000004").get(timeout=20)
    gevent.sleep(1.0)
    assert phones.rang == [], "the backup queue's agent is rung only after the wait limit"
    wait_for(lambda: _state(h, "1002") == "talking", 10, "the backup agent takes the call")
    assert phones.ports_rung() == [4]
    exchange_hangup(h.exchange(0), "busy")
    wait_for(lambda: _state(h, "1002") != "talking", 5, "call over")
    h.acd.flush()
    rec = cdr.recent_calls(1)[0]
    assert (rec.queue, rec.final_queue, rec.overflow_to, rec.disposition, rec.agent) == (
        "service", "backup", "backup", "answered", "1002")


def test_full_queue_turns_callers_away(site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    Phones(site, {})
    h = make_acd(config({"max_length": 1}, agents=1))
    call_in(site, 0, "13800000005").get(timeout=20)
    wait_for(lambda: h.acd.queue_stats("service")["waiting"] == 1, 5, "first caller waits")
    call_in(site, 1, "13800000006").get(timeout=20)
    wait_for(lambda: heard(h.exchange(1))[:2] == ["queue_full", "goodbye"], 10, "the second is told")
    wait_for(lambda: site.board.channels[1].state is ChannelState.IDLE, 10, "the second call ended")
    assert h.acd.queue_stats("service")["waiting"] == 1
    h.acd.flush()
    assert [r.disposition for r in cdr.recent_calls(1)] == ["full"]
    exchange_hangup(h.exchange(0), "busy")


def test_no_answer_policy_makes_the_agent_not_ready(site: SimulatedSite,
                                                    make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {})                    # the agent's phone rings but nobody picks up
    h = make_acd(config({"ring_timeout": 1.5}, agents=1, no_answer_limit=2))
    h.acd.login("1001", 3, ready=True)
    call_in(site, 0, "13800000007").get(timeout=20)
    wait_for(lambda: _state(h, "1001") == "not_ready", 15, "not ready after two missed offers")
    info = h.acd.agent_info("1001")
    assert info["reason"] == NO_ANSWER_REASON
    phone = h.phone(3)

    def bursts() -> int:
        return sum(1 for e in phone.events if e.type is EventType.RING and e.arg == 1)
    assert phones.ports_rung()[0] == 3 and bursts() == 2, "rung twice, then no more"
    changes = [d for n, d in h.events if n == "acd.agent.state" and d["new"] == "not_ready"]
    assert changes and changes[-1]["reason"] == NO_ANSWER_REASON
    gevent.sleep(2.0)
    assert bursts() == 2
    assert h.acd.queue_stats("service")["waiting"] == 1, "the caller keeps waiting"
    h.acd.flush()
    log = [e.event for e in cdr.queue_log()]
    assert log.count("NOANSWER") == 2
    exchange_hangup(h.exchange(0), "busy")
    wait_for(lambda: h.acd.queue_stats("service")["waiting"] == 0, 10, "abandoned")
    h.acd.flush()
    assert cdr.recent_calls(1)[0].disposition == "abandoned"


def test_ring_all_rings_every_ready_agent_first_answer_wins(site: SimulatedSite,
                                                            make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {4: 1.0})              # only the phone at station 4 is picked up
    h = make_acd(config({"strategy": "ring_all"}, agents=3))
    for agent, port in (("1001", 3), ("1002", 4), ("1003", 5)):
        h.acd.login(agent, port, ready=True)
    call_in(site, 0, "13800000008").get(timeout=20)
    wait_for(lambda: _state(h, "1002") == "talking", 15, "station 4 answers")
    assert sorted(phones.ports_rung()) == [3, 4, 5]
    wait_for(lambda: h.phone(3).state is ChannelState.IDLE and h.phone(5).state is ChannelState.IDLE, 8,
             "the others stop ringing")
    assert _state(h, "1001") == "ready" and _state(h, "1003") == "ready"
    assert h.acd.agent_info("1001")["missed"] == 0, "losing a ring-all race is no missed call"
    exchange_hangup(h.exchange(0), "busy")


def test_round_robin_end_to_end(site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {3: 0.2, 4: 0.2})
    h = make_acd(config({"strategy": "round_robin"}, agents=2, wrapup=0.0))
    h.acd.login("1001", 3, ready=True)
    h.acd.login("1002", 4, ready=True)
    for i in range(4):
        call_in(site, 0, f"1380000010{i}").get(timeout=20)
        wait_for(lambda: len(phones.hung_up) == 0 and any(
            h.acd.agent_info(a)["state"] == "talking" for a in ("1001", "1002")), 15, "answered")
        exchange_hangup(h.exchange(0), "busy")
        wait_for(lambda: all(h.acd.agent_info(a)["state"] == "ready" for a in ("1001", "1002"))
                 and site.board.channels[0].state is ChannelState.IDLE
                 and h.exchange(0).state is ChannelState.IDLE
                 and h.phone(3).state is ChannelState.IDLE and h.phone(4).state is ChannelState.IDLE,
                 10, "both free")
        phones.hung_up.clear()
    assert phones.ports_rung() == [3, 4, 3, 4]


def test_auto_answer_headset_beeps_then_connects(site: SimulatedSite,
                                                 make_acd: Callable[..., Harness]) -> None:
    Phones(site, {})
    h = make_acd(config(agents=1))
    h.acd.login("1001", 3, mode="auto_answer", ready=True)
    headset = h.phone(3)
    headset.hook(True)                           # the headset stays off-hook all shift
    wait_for(lambda: h.acd.agents["1001"].headset_up, 5, "the ACD holds the headset")
    headset.detect_tone(1000, slot=0)            # the beep
    headset.detect_tone(700, slot=1)             # the caller's voice
    exch = h.exchange(0)
    exch.detect_tone(1800)
    call_in(site, 0, "13800000009").get(timeout=20)
    assert headset.wait_tone(1000, 10), "no beep in the headset"
    wait_for(lambda: _state(h, "1001") == "talking", 5, "connected")
    assert not any(e.type is EventType.RING for e in headset.events), "an auto-answer headset never rings"
    exch.start_play([Play.tone(700, duration_ms=800)])
    assert headset.wait_tone(700, 3), "the caller is not heard in the headset"
    headset.start_play([Play.tone(1800, duration_ms=800)])
    assert exch.wait_tone(1800, 3), "the agent is not heard by the caller"
    exchange_hangup(exch, "busy")
    wait_for(lambda: _state(h, "1001") == "ready", 8, "wrap-up over")
    assert h.acd.agents["1001"].headset_up, "the headset stays connected for the next call"
    call_in(site, 1, "13800000010").get(timeout=20)
    wait_for(lambda: _state(h, "1001") == "talking", 10, "the next call connected to the same headset")
    headset.hook(False)                          # the agent takes the headset off
    wait_for(lambda: site.board.channels[1].state is ChannelState.IDLE, 10, "the caller released")
    h.acd.flush()
    rec = cdr.recent_calls(1)[0]
    assert (rec.disposition, rec.ended_by) == ("answered", "agent")


def test_caller_hanging_up_while_the_agent_rings_is_abandoned_not_missed(
        site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {})                    # rings, nobody picks up
    h = make_acd(config({"ring_timeout": 10.0}, agents=1))
    h.acd.login("1001", 3, ready=True)
    call_in(site, 0, "13800000030").get(timeout=20)
    wait_for(lambda: _state(h, "1001") == "offered", 10, "the agent's phone rings")
    wait_for(lambda: bool(phones.rang), 10, "the phone sees the ringing")
    exchange_hangup(h.exchange(0), "busy")
    wait_for(lambda: _state(h, "1001") == "ready", 8, "the agent is free again")
    wait_for(lambda: h.phone(3).status()["ringing"] == 0 and site.board.channels[3].status()["ringing"] == 0,
             5, "the ringing stops")
    assert h.acd.agent_info("1001")["missed"] == 0
    h.acd.flush()
    rec = cdr.recent_calls(1)[0]
    assert (rec.disposition, rec.agent, rec.answered_at) == ("abandoned", "1001", None)
    assert rec.ring_s > 0, "the ring time of an abandoned offer is recorded"


def test_skills_route_to_the_highest_level_end_to_end(site: SimulatedSite,
                                                      make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {3: 0.2, 4: 0.2})
    agents = [{"id": "1001", "skills": {"gas": 1}}, {"id": "1002", "skills": {"gas": 5}},
              {"id": "1003", "skills": {"heat": 9}}]
    h = make_acd(config({"strategy": "skills", "skill": "gas", "agents": []}, agents=3, agent_list=agents))
    h.acd.login("1001", 3, ready=True)
    h.acd.login("1002", 4, ready=True)
    h.acd.login("1003", 5, ready=True)          # no gas skill: never offered this queue's calls
    call_in(site, 0, "13800000031").get(timeout=20)
    wait_for(lambda: _state(h, "1002") == "talking", 10, "the gas expert answers")
    call_in(site, 1, "13800000032").get(timeout=20)
    wait_for(lambda: _state(h, "1001") == "talking", 10, "the next gas agent takes the second call")
    assert phones.ports_rung() == [4, 3]
    assert h.acd.queue_stats("service")["agents"]["ready"] == 0, "the heat-only agent is no member"
    for t in (0, 1):
        exchange_hangup(h.exchange(t), "busy")


def test_wait_limit_overflows_to_callback(site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    Phones(site, {})
    h = make_acd(config({"max_wait": 1.5, "overflow": "callback"}, agents=1))
    call_in(site, 0, "13800000040").get(timeout=20)
    exch = h.exchange(0)
    wait_for(lambda: heard(exch)[-2:] == ["callback_accepted", "goodbye"], 10, "the callback promise")
    wait_for(lambda: site.board.channels[0].state is ChannelState.IDLE, 10, "the call ended")
    h.acd.flush()
    rec = cdr.recent_calls(1)[0]
    assert (rec.caller, rec.disposition, rec.overflow_to, rec.ended_by) == (
        "13800000040", "callback", "callback", "acd")


def test_longest_idle_end_to_end(site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {3: 0.2, 4: 0.2})
    h = make_acd(config(agents=2, wrapup=0.3))
    h.acd.login("1002", 4, ready=True)           # free first
    gevent.sleep(0.3)
    h.acd.login("1001", 3, ready=True)
    for caller in ("13800000051", "13800000052"):
        call_in(site, 0, caller).get(timeout=20)
        wait_for(lambda: "talking" in (_state(h, "1001"), _state(h, "1002")), 15, "answered")
        exchange_hangup(h.exchange(0), "busy")
        wait_for(lambda: _state(h, "1001") == _state(h, "1002") == "ready"
                 and h.exchange(0).state is ChannelState.IDLE
                 and h.phone(3).state is ChannelState.IDLE and h.phone(4).state is ChannelState.IDLE,
                 10, "both free")
    assert phones.ports_rung() == [4, 3], "the agent free the longest gets the call"
