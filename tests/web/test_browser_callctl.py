"""Call control buttons on the desk in real Chromium: a caller reaches the agent through the ACD;
the agent puts him on hold (the caller hears music), takes him back and hangs up from the browser.
(The browser runs in a threadpool worker, as in test_browser.py.)"""

from __future__ import annotations

import threading
from collections.abc import Generator
from pathlib import Path

import gevent
from playwright.sync_api import expect, sync_playwright

from appliance.acd.model import parse_config
from appliance.acd.service import ACD
from appliance.crm import users
from appliance.voiceboard.channel import Channel, ChannelState
from appliance.voiceboard.errors import CallError
from appliance.voiceboard.events import CidFormat
from appliance.voiceboard.prompts import PromptSet, build_test_set, decode_heard
from appliance.voiceboard.sim import SimulatedSite, ring_in
from appliance.web import agentapi

from .test_browser import CHROMIUM, PASSWORD, SSE_OPEN_WAIT, login


def _phone(ch: Channel) -> None:
    gevent.sleep(0.3)
    if ch.state is ChannelState.ALERTING:
        ch.answer()
        try:
            ch.wait_hangup()
        except CallError:
            pass


def _acd(tmp_path: Path) -> Generator[tuple[ACD, SimulatedSite], None, None]:
    site = SimulatedSite("fxo:1,fxs:2", name="ctlweb")
    site.start()
    site.far.call_handler = _phone
    prompts = tmp_path / "prompts"
    gevent.get_hub().threadpool.apply(build_test_set, (prompts,))   # C file writes: off the hub
    cfg = parse_config({"acd": {"queues": [{"name": "service", "agents": ["1001"], "record": "on_demand"}],
                                "agents": [{"id": "1001", "name": "李娜", "user": "li.na"}]}})
    assert cfg is not None
    acd = ACD(site.board, PromptSet(prompts), cfg)
    site.board.call_handler = acd.handle
    acd.start()
    agentapi.bind(acd)
    try:
        yield acd, site
    finally:
        agentapi.bind(None)
        acd.stop()
        site.stop()


def test_agent_holds_resumes_and_hangs_up_from_the_browser(server: str, tmp_path: Path) -> None:
    users.create_user("admin", PASSWORD, "admin")
    users.create_user("li.na", PASSWORD, "agent")
    gen = _acd(tmp_path)
    acd, site = next(gen)
    caller = site.far.channels[0]
    seen: dict[str, bool] = {}
    music = threading.Event()

    def browse() -> None:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                login(page, server, "li.na")
                expect(page.locator("body[data-sse=open]")).to_be_attached(timeout=SSE_OPEN_WAIT)
                page.fill("#agent-station", "1")
                page.click("#agent-login button")
                page.click("#agent-ready")
                expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")
                expect(page.locator("#call-state")).to_have_attribute("data-state", "talking", timeout=40_000)
                expect(page.locator("#call-state")).to_contain_text("13812345678")
                page.click("#call-hold")
                expect(page.locator("#call-state")).to_have_attribute("data-state", "hold")
                assert music.wait(20), "the caller on hold never heard music"
                page.click("#call-unhold")
                expect(page.locator("#call-state")).to_have_attribute("data-state", "talking")
                page.click("#call-record")
                expect(page.locator("#call-state")).to_contain_text("录音中")
                page.fill("#call-number", "00112345678")
                page.click("#call-dial-form button")
                expect(page.locator("#call-error")).to_contain_text("防盗打")
                page.click("#call-hangup")
                expect(page.locator("#call-state")).to_have_text("无通话", timeout=15_000)
                seen["done"] = True
            finally:
                browser.close()

    try:
        browsing = gevent.get_hub().threadpool.spawn(browse)
        with gevent.Timeout(40, AssertionError("the agent never went ready")):
            while acd.agent_info("1001")["state"] != "ready":
                gevent.sleep(0.05)
        gevent.spawn(ring_in, caller, "13812345678", "", CidFormat.FSK, 20)
        with gevent.Timeout(60, AssertionError("the caller never heard music on hold")):
            while "music_on_hold" not in decode_heard(caller.heard):
                gevent.sleep(0.05)
        music.set()                               # the browser thread may take the caller back now
        browsing.get(timeout=90)
        assert seen.get("done")
        assert acd.agent_info("1001")["state"] in ("wrap_up", "ready")
    finally:
        gen.close()
