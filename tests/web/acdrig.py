"""A real ACD on the simulated board for the web tests: trunks, station phones that pick up, the
test prompt set, and the ACD bound to the web as the service binds it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent

from appliance.acd.model import parse_config
from appliance.acd.service import ACD
from appliance.voiceboard.channel import Channel, ChannelState
from appliance.voiceboard.errors import CallError, Hangup
from appliance.voiceboard.events import CidFormat, Kind
from appliance.voiceboard.prompts import PromptSet, build_test_set
from appliance.voiceboard.sim import SimulatedSite, exchange_hangup, ring_in
from appliance.web import agentapi, supervisor


def wait_for(cond: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while not cond():
            gevent.sleep(0.02)


class Rig:
    """``spec`` ports: trunks first, then stations; phones at ``answer`` stations pick up after 0.3 s."""

    def __init__(self, tmp: Path, spec: str, raw_acd: dict[str, Any], answer: set[int]) -> None:
        self.site = SimulatedSite(spec, name="webacd")
        self.site.start()
        self.answer = set(answer)
        self.site.far.call_handler = self._phone
        prompts = tmp / "prompts"
        if not (prompts / "manifest.json").exists():
            gevent.get_hub().threadpool.apply(build_test_set, (prompts,))   # C file writes: off the hub
        cfg = parse_config({"acd": raw_acd})
        assert cfg is not None
        self.acd = ACD(self.site.board, PromptSet(prompts), cfg)
        self.site.board.call_handler = self.acd.handle
        self.acd.start()
        agentapi.bind(self.acd)
        supervisor.configure({"acd": raw_acd})

    def _phone(self, ch: Channel) -> None:
        if ch.kind is not Kind.FXO or ch.index not in self.answer:
            return
        gevent.sleep(0.3)
        if ch.state is not ChannelState.ALERTING:
            return
        try:
            ch.answer()
            ch.wait_hangup()
        except (Hangup, CallError):
            pass

    def ring(self, trunk: int, caller: str) -> gevent.Greenlet:
        """The exchange rings trunk ``trunk`` with caller ID (in a greenlet)."""
        return gevent.spawn(ring_in, self.site.far.channels[trunk], caller, "", CidFormat.FSK, 20)

    def caller_hangs_up(self, trunk: int) -> None:
        exchange_hangup(self.site.far.channels[trunk], "busy")

    def state(self, agent: str) -> str:
        return str(self.acd.agent_info(agent)["state"])

    def stop(self) -> None:
        agentapi.bind(None)
        supervisor.configure(None)
        self.acd.stop()
        self.site.stop()
