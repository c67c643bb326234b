"""The wallboard in real Chromium on a real ACD: it follows the agents and the queue live (SSE, no
reload), the supervisor's buttons change the agent's state, the ACD's refusal to log out an agent
in a call is shown in Chinese, the team leader listens to and whispers to a call from his own
phone, and today's figures count the call once it ends.

The browser runs in a worker thread of gevent's threadpool (see test_browser.py); what must happen
on the hub (the caller ringing, hanging up) is handed to it with ``on_hub`` (``hub_runner``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from playwright.sync_api import expect, sync_playwright

from appliance.crm import audit, users

from .acdrig import Rig, wait_for
from .test_browser import CHROMIUM, PASSWORD, SSE_OPEN_WAIT, login

ACD_CONF = {
    "wrapup": 30,
    "queues": [{"name": "service", "agents": ["1001"], "ring_timeout": 15}],
    "agents": [{"id": "1001", "name": "李娜", "user": "li.na"},
               {"id": "1004", "name": "张班长", "user": "zhang.lead", "leader": True}],
}


def hub_runner() -> Callable[..., None]:
    """For the browser's thread: ``on_hub(fn, *args)`` runs ``fn(*args)`` in a new greenlet of this
    (the test's) hub; a worker thread has a hub of its own, so it is taken here."""
    hub = gevent.get_hub()

    def on_hub(fn: Callable[..., Any], *args: Any) -> None:
        hub.loop.run_callback_threadsafe(gevent.spawn, fn, *args)

    return on_hub


@pytest.fixture
def rig(tmp_path: Path, server: str) -> Iterator[Rig]:
    users.create_user("admin", PASSWORD, "admin")
    users.create_user("li.na", PASSWORD, "agent")
    users.create_user("zhang.lead", PASSWORD, "team_leader")
    r = Rig(tmp_path, "fxo:1,fxs:2", ACD_CONF, answer={1, 2})
    r.acd.login("1004", 2)              # the team leader's own phone: where he listens
    try:
        yield r
    finally:
        r.stop()


def test_wallboard_live_in_chromium(server: str, rig: Rig) -> None:
    on_hub = hub_runner()

    def browse() -> None:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                lead = browser.new_page()
                login(lead, server, "zhang.lead")
                lead.goto(server + "/supervisor")
                expect(lead.locator("body[data-sse=open]")).to_be_attached(timeout=SSE_OPEN_WAIT)
                row = lead.locator("#agent-1001")
                expect(row).to_have_attribute("data-state", "logged_out")
                expect(row.locator(".state")).to_have_text("未签入")

                desk = browser.new_page()             # the agent signs in from his own desk
                login(desk, server, "li.na")
                desk.fill("#agent-station", "1")
                desk.click("#agent-login button")
                expect(row).to_have_attribute("data-state", "not_ready")   # live, no reload
                expect(row.locator(".reason")).to_have_text("login")
                expect(row.locator(".station")).to_have_text("1")

                on_hub(rig.ring, 0, "13812345678")    # nobody ready: the caller waits
                expect(lead.locator("#queue-service .waiting")).to_have_text("1", timeout=30_000)
                expect(lead.locator("#queue-service .longest")).not_to_have_text("—")

                row.locator("button.force-ready").click()
                expect(row).to_have_attribute("data-state", "talking", timeout=30_000)
                expect(lead.locator("#queue-service .waiting")).to_have_text("0")
                expect(row.locator(".calls")).to_have_text("1")
                expect(desk.locator("#agent-state")).to_have_attribute("data-state", "talking")

                row.locator("button.monitor-listen").click()      # his phone rings, he picks up
                expect(lead.locator("#sv-error")).to_contain_text("正在接通您的话机")
                expect(row.locator(".monitoring")).to_have_text("监听中（1004）", timeout=15_000)
                row.locator("button.monitor-whisper").click()     # now the agent hears him
                expect(row.locator(".monitoring")).to_have_text("密语中（1004）")
                lead.reload()                                     # the snapshot knows it too
                expect(row.locator(".monitoring")).to_have_text("密语中（1004）")
                row.locator("button.monitor-stop").click()
                expect(row.locator(".monitoring")).to_have_count(0)
                expect(row).to_have_attribute("data-state", "talking")

                lead.once("dialog", lambda d: d.accept())
                row.locator("button.force-logout").click()
                expect(lead.locator("#sv-error")).to_contain_text("正在通话或振铃，不能强制签出")
                expect(row).to_have_attribute("data-state", "talking")

                on_hub(rig.caller_hangs_up, 0)
                expect(row).to_have_attribute("data-state", "wrap_up", timeout=20_000)
                expect(lead.locator("#queue-service .answered")).to_have_text("1", timeout=10_000)
                expect(lead.locator("#queue-service .sl")).to_have_text("100%（20秒内）")

                lead.once("dialog", lambda d: d.accept())
                row.locator("button.force-logout").click()
                expect(row).to_have_attribute("data-state", "logged_out")
                expect(lead.locator("#sv-error")).to_have_text("座席 1001 已签出")
                expect(desk.locator("#agent-state")).to_have_attribute("data-state", "logged_out")
            finally:
                browser.close()

    gevent.get_hub().threadpool.apply(browse)
    wait_for(lambda: rig.state("1001") == "logged_out", 5, "the agent logged out in the ACD")
    actions = [r.action for r in audit.recent(50)]
    assert {"supervisor_ready", "supervisor_logout_refused", "supervisor_logout",
            "call_monitor", "call_monitor_stop"} <= set(actions)
