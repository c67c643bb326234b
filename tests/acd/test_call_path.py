"""End to end through the simulated board: a caller queues, an agent's phone rings, they talk."""

from __future__ import annotations

from collections.abc import Callable

from appliance.acd.agent import AgentState
from appliance.crm import cdr
from appliance.crm import events as bus
from appliance.voiceboard.channel import ChannelState, Play
from appliance.voiceboard.sim import SimulatedSite, exchange_hangup

from .conftest import Harness, config, wait_for
from .phones import Phones, call_in


def test_caller_reaches_agent_audio_both_ways_and_caller_hangup_clears_both(
        site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {3: 0.3})
    h = make_acd(config(agents=1, wrapup=1.0))
    h.acd.login("1001", 3, ready=True)
    exch = h.exchange(0)
    phone = h.phone(3)
    desk = bus.subscribe("acd.call.offered")   # what the web's screen pop listens to
    call_in(site, 0, "13800138000").get(timeout=20)
    wait_for(lambda: h.acd.agent_info("1001")["state"] == "talking", 15, "the agent to take the call")
    assert phones.rang[0][0] == 3 and phones.rang[0][2] == "13800138000", "the agent's phone shows the caller"
    offered = [d for n, d in h.events if n == "acd.call.offered"]
    assert offered and offered[0]["caller"] == "13800138000" and offered[0]["agents"] == ["1001"]
    popped = desk.get(timeout=1)
    bus.unsubscribe(desk)
    assert popped is not None and popped.data["caller"] == "13800138000", "the desk gets the offer"
    phone.detect_tone(1000)
    exch.detect_tone(1500)
    exch.start_play([Play.tone(1000, duration_ms=800)])
    assert phone.wait_tone(1000, 3), "the caller's voice does not reach the agent"
    phone.start_play([Play.tone(1500, duration_ms=800)])
    assert exch.wait_tone(1500, 3), "the agent's voice does not reach the caller"
    exchange_hangup(exch, "busy")
    wait_for(lambda: h.acd.agent_info("1001")["state"] == "wrap_up", 5, "wrap-up after the call")
    wait_for(lambda: phone.state is ChannelState.IDLE, 10, "the agent's phone cleared (busy tone, on-hook)")
    wait_for(lambda: h.acd.agent_info("1001")["state"] == "ready", 5, "ready after the wrap-up")
    assert site.board.channels[0].state is ChannelState.IDLE
    assert h.acd.flush()
    rec = cdr.recent_calls(1)[0]
    assert (rec.caller, rec.queue, rec.agent, rec.disposition, rec.ended_by) == (
        "13800138000", "service", "1001", "answered", "caller")
    assert rec.enqueued_at and rec.offered_at and rec.answered_at and rec.ended_at
    assert rec.enqueued_at <= rec.offered_at <= rec.answered_at <= rec.ended_at
    assert rec.talk_s > 0.5 and rec.ring_s > 0.2 and rec.wait_s >= rec.ring_s
    assert 0.9 <= rec.wrapup_s < 3.0
    events = [e.event for e in cdr.queue_log(rec.call_id)]
    assert events[:3] == ["ENTER", "OFFER", "CONNECT"] and "COMPLETE" in events


def test_agent_hangup_releases_the_caller(site: SimulatedSite, make_acd: Callable[..., Harness]) -> None:
    Phones(site, {3: 0.3})
    h = make_acd(config(agents=1))
    h.acd.login("1001", 3, ready=True)
    exch = h.exchange(1)
    call_in(site, 1, "02088886666").get(timeout=20)
    wait_for(lambda: h.acd.agent_info("1001")["state"] == "talking", 15, "the agent to take the call")
    h.phone(3).release("agent hangs up")
    wait_for(lambda: exch.status()["hook"] == 0 or exch.state is not ChannelState.UP, 8,
             "the caller's line released")
    wait_for(lambda: site.board.channels[1].state is ChannelState.IDLE, 8, "trunk idle")
    assert h.acd.agents["1001"].state in (AgentState.WRAP_UP, AgentState.READY)
    h.acd.flush()
    rec = cdr.recent_calls(1)[0]
    assert (rec.disposition, rec.ended_by) == ("answered", "agent")
