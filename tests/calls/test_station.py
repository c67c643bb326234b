"""Stations: ring a phone, bridge it to a trunk call, conference with whisper, cable cut."""

from __future__ import annotations

from pathlib import Path

import gevent
from gevent.event import AsyncResult

from appliance.voiceboard.channel import Channel, ChannelState, Play
from appliance.voiceboard.errors import Hangup
from appliance.voiceboard.events import CidFormat, Kind
from appliance.voiceboard.sim import SimulatedSite, exchange_hangup, phone_autoanswer, ring_in

from .test_fxo_call import wait_for


def _answering_phones(site: SimulatedSite) -> None:
    def handler(ch: Channel) -> None:
        if ch.kind is Kind.FXO:
            phone_autoanswer(ch, delay=0.3)
    site.far.call_handler = handler


def hears(listener: Channel, freq: int, timeout: float) -> bool:
    return listener.wait_tone(freq, timeout)


def test_ring_station_with_caller_id_and_bridge_tones_both_ways(site: SimulatedSite) -> None:
    _answering_phones(site)
    bridged: AsyncResult = AsyncResult()
    ended: AsyncResult = AsyncResult()
    station = site.board.of_kind(Kind.FXS)[0]
    phone = site.far_of(station)

    def handler(trunk: Channel) -> None:
        trunk.answer()
        station.claim()
        try:
            station.ring(trunk.caller_id, cid_format=CidFormat.FSK, timeout=15)
            trunk.bridge(station)
            bridged.set(True)
            trunk.wait_hangup(60)
        except Hangup as exc:
            ended.set(exc.cause)
            raise
        finally:
            station.release("call ended")

    site.board.call_handler = handler
    line = site.board.of_kind(Kind.FXO)[0]
    exch = site.far_of(line)
    ring_in(exch, "13700001111", "", CidFormat.FSK, timeout=20)
    bridged.get(timeout=20)
    assert phone.caller_id == "13700001111", "the agent's phone shows the caller's number"
    assert station.state is ChannelState.UP
    for listener, freq in ((phone, 1000), (exch, 1500)):
        listener.detect_tone(freq)
    exch.start_play([Play.tone(1000, duration_ms=800)])
    assert hears(phone, 1000, 3), "caller's voice did not reach the agent's phone"
    phone.start_play([Play.tone(1500, duration_ms=800)])
    assert hears(exch, 1500, 3), "agent's voice did not reach the caller"
    # the agent hangs up: the caller's call is released too
    phone.release("agent hangs up")
    assert ended.get(timeout=5) == "on-hook"
    wait_for(lambda: line.state is ChannelState.IDLE, 5, "trunk idle")
    wait_for(lambda: exch.status()["hook"] == 0, 5, "trunk on-hook seen by the exchange")


def test_conference_of_three_with_whisper(site: SimulatedSite) -> None:
    """Caller, agent and a team leader whispering to the agent: the caller must not hear it."""
    _answering_phones(site)
    ready: AsyncResult = AsyncResult()
    agent, leader = site.board.of_kind(Kind.FXS)[:2]
    agent_phone, leader_phone = site.far_of(agent), site.far_of(leader)

    def handler(trunk: Channel) -> None:
        trunk.answer()
        agent.claim()
        leader.claim()
        conf = site.board.conference()
        try:
            agent.ring(trunk.caller_id, timeout=15)
            leader.ring("8001", timeout=15)
            conf.join(trunk)
            conf.join(agent)
            conf.join(leader, speak=True, listen=True, whisper_to=agent)
            ready.set(conf)
            trunk.wait_hangup(60)
        finally:
            conf.close()
            agent.release()
            leader.release()

    site.board.call_handler = handler
    exch = site.far_of(site.board.of_kind(Kind.FXO)[0])
    ring_in(exch, "13600002222", "", CidFormat.FSK, timeout=20)
    ready.get(timeout=25)
    for ch in (exch, agent_phone, leader_phone):
        ch.detect_tone(1200, slot=0)
        ch.detect_tone(700, slot=1)
        ch.detect_tone(1800, slot=2)
    leader_phone.start_play([Play.tone(1200, duration_ms=1500)])          # whisper
    assert hears(agent_phone, 1200, 3), "the agent must hear the whisper"
    assert not hears(exch, 1200, 1.5), "the caller must not hear the whisper"
    exch.start_play([Play.tone(700, duration_ms=1000)])                   # caller speaks
    assert hears(agent_phone, 700, 3) and hears(leader_phone, 700, 3)
    agent_phone.start_play([Play.tone(1800, duration_ms=1000)])           # agent speaks
    assert hears(exch, 1800, 3) and hears(leader_phone, 1800, 3)
    exchange_hangup(exch, "busy")
    wait_for(lambda: site.board.stats()["conf_members"] == 0, 8, "conference emptied")


def test_cable_cut_mid_call_both_ends_see_it_and_resources_are_freed(site: SimulatedSite,
                                                                      tmp_path: Path) -> None:
    _answering_phones(site)
    bridged: AsyncResult = AsyncResult()
    ended: AsyncResult = AsyncResult()
    station = site.board.of_kind(Kind.FXS)[0]

    def handler(trunk: Channel) -> None:
        trunk.answer()
        station.claim()
        try:
            station.ring(trunk.caller_id, timeout=15)
            trunk.bridge(station)
            trunk.start_record(tmp_path / "cut.wav")
            trunk.start_play([Play.tone(425, duration_ms=60000)])
            bridged.set(True)
            trunk.wait_hangup(60)
        except Hangup as exc:
            ended.set(exc.cause)
            raise
        finally:
            station.release("call ended")

    site.board.call_handler = handler
    line = site.board.of_kind(Kind.FXO)[0]
    exch = site.far_of(line)
    ring_in(exch, "13500003333", "", CidFormat.FSK, timeout=20)
    bridged.get(timeout=20)
    wait_for(lambda: site.board.stats()["active_records"] == 1, 2, "the recording to start")
    assert site.board.stats()["connections"] >= 2
    line.cut()
    assert ended.get(timeout=3) == "line down"
    wait_for(lambda: exch.state is ChannelState.DOWN, 3, "the exchange end to see the cut")
    assert line.state is ChannelState.DOWN
    # the agent's phone hears busy tone and hangs up; then nothing may be left over
    wait_for(lambda: station.state is ChannelState.IDLE, 10, "station idle")
    wait_for(lambda: site.board.stats()["active_plays"] == 0, 5, "plays stopped")
    st = site.board.stats()
    assert (st["active_records"], st["open_files"], st["connections"], st["conf_members"]) == (0, 0, 0, 0), st
    line.cut(False)
    wait_for(lambda: line.state is ChannelState.IDLE and exch.state is ChannelState.IDLE, 3, "line mended")
    gevent.sleep(0)
