"""Call control from the desk's API against a real ACD on the simulated board: the agent holds and
records his call, the team leader whispers; refusals in Chinese; every command audited."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import gevent
import pytest

from appliance.acd.model import parse_config
from appliance.acd.service import ACD
from appliance.crm import audit, callrec
from appliance.voiceboard.channel import Channel, ChannelState, Play
from appliance.voiceboard.errors import CallError
from appliance.voiceboard.prompts import PromptSet, build_test_set, decode_heard
from appliance.voiceboard.sim import SimulatedSite, exchange_hangup, ring_in
from appliance.web import agentapi
from appliance.web.app import App

from .conftest import World, logged_in

AGENT, LEADER = 1, 2         # "fxo:1,fxs:2": port 0 the trunk, ports 1-2 stations


@pytest.fixture
def site() -> Iterator[SimulatedSite]:
    s = SimulatedSite("fxo:1,fxs:2", name="cdesk")
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def center(app: App, world: World, tmp_path: Path, site: SimulatedSite) -> Iterator[ACD]:
    prompts = tmp_path / "prompts"
    gevent.get_hub().threadpool.apply(build_test_set, (prompts,))   # C file writes: off the hub
    cfg = parse_config({"acd": {
        "wrapup": 0.5, "dial_allow": ["95001"],
        "queues": [{"name": "service", "agents": ["1001"], "record": "on_demand"}],
        "agents": [{"id": "1001", "name": "张丽", "user": "u-agent", "station": AGENT},
                   {"id": "1003", "name": "王班长", "user": "u-team_leader", "leader": True}]}})
    assert cfg is not None
    acd = ACD(site.board, PromptSet(prompts), cfg)
    site.board.call_handler = acd.handle
    acd.start()
    agentapi.bind(acd)
    try:
        yield acd
    finally:
        agentapi.bind(None)
        acd.stop()


def _phones(site: SimulatedSite) -> None:
    def handle(ch: Channel) -> None:
        gevent.sleep(0.3)
        if ch.state is ChannelState.ALERTING:
            ch.answer()
            try:
                ch.wait_hangup()
            except CallError:
                pass
    site.far.call_handler = handle


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while not cond():
            gevent.sleep(0.05)


def _hears(src: Channel, dst: Channel, freq: int, timeout: float) -> bool:
    dst.detect_tone(freq)
    src.start_play([Play.tone(freq, duration_ms=int(timeout * 1000) + 500)])
    try:
        return dst.wait_tone(freq, timeout)
    finally:
        src.stop_play()
        gevent.sleep(0.3)


def test_agent_holds_records_and_leader_whispers_from_the_desk(
        app: App, center: ACD, site: SimulatedSite) -> None:
    _phones(site)
    agent, leader = logged_in(app, "u-agent"), logged_in(app, "u-team_leader")
    res = agent.post_json("/api/call/hold", {})
    assert res.status == 409 and "没有通话" in res.json()["error"]
    res = agent.post_json("/api/call/dial", {"number": "00861234567"})
    assert res.status == 409 and "防盗打" in res.json()["error"]
    caller = site.far.channels[0]
    gevent.spawn(ring_in, caller, "13800138000", "", timeout=20)
    _wait(lambda: center.agent_info("1001")["state"] == "talking", 20, "the agent to answer")
    assert agent.get("/api/call").json()["call"]["caller"] == "13800138000"
    got = agent.post_json("/api/call/hold", {}).json()
    assert got["state"] == "hold"
    _wait(lambda: "music_on_hold" in decode_heard(caller.heard), 8, "music on hold")
    assert agent.post_json("/api/call/unhold", {}).json()["state"] == "talking"
    assert agent.post_json("/api/call/record", {"on": "1"}).json()["recording"] is True
    res = agent.post_json("/api/call/record", {"on": "yes"})
    assert res.status == 400
    res = agent.post_json("/api/monitor", {"agent": "1001", "mode": "whisper"})
    assert res.status == 403, "an agent may not whisper"
    center.login("1003", LEADER)
    res = leader.post_json("/api/monitor", {"agent": "1001", "mode": "whisper"})
    assert res.status == 200
    _wait(lambda: center.call_info("1001").get("leader") == "1003", 10, "the leader's phone to answer")
    assert center.call_info("1001")["monitor"] == "whisper"
    lead_phone, agent_phone = site.far.channels[LEADER], site.far.channels[AGENT]
    assert _hears(lead_phone, agent_phone, 2400, 2.5), "the agent hears the leader's whisper"
    assert not _hears(lead_phone, caller, 600, 1.2), "the caller must not hear the whisper"
    assert agent.post_json("/api/call/record", {"on": "0"}).json()["recording"] is False
    agent.post_json("/api/call/hangup", {})
    _wait(lambda: center.agent_info("1001")["state"] in ("wrap_up", "ready"), 8, "the call over")
    exchange_hangup(caller, "busy")
    center.flush()
    actions = [r.action for r in audit.recent(50)]
    assert {"call_hold", "call_unhold", "call_record", "call_monitor", "call_hangup"} <= set(actions)
    recs = callrec.recent_recordings(5)
    assert len(recs) == 1
    sup = logged_in(app, "u-supervisor")
    listing = sup.get("/recordings")
    assert listing.status == 200 and f"/recordings/{recs[0].id}/audio" in listing.text
    audio = sup.get(f"/recordings/{recs[0].id}/audio")
    assert audio.status == 200 and audio.body[:4] == b"RIFF" and len(audio.body) > 8000
    assert agent.get(f"/recordings/{recs[0].id}/audio").status == 403, "agents do not browse recordings"
    assert sup.get("/recordings/999/audio").status == 404
    assert sup.get("/recordings/..%2f..%2fetc%2fpasswd/audio").status == 404
    assert "recording_listen" in [r.action for r in audit.recent(5)]
