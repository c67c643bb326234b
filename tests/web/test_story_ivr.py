"""The desk story to its end: the order the agent registered, the technician replied to and the agent
closed in Chromium (test_browser.py) is then asked about by the caller himself on the IVR — he
dials in, presses 2, keys the work order's serial number and hears that it is done.

The IVR is the real runtime on the simulated board with the default flow and the CRM binding the
service uses (appliance/ivr/crmbind.py over the same database the web wrote); the caller is the
scripted exchange-side caller of tests/ivr, who knows which prompt plays by the DTMF-coded test set.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import gevent
from ivr.caller import IvrSite
from ivr.test_crm_binding import crm_site
from ivr.test_default_flow import GREETING
from playwright.sync_api import sync_playwright

from appliance.crm import customer, workorder
from appliance.crm.common import Actor
from appliance.voiceboard.prompts import PromptSet, build_test_set

from .conftest import ADMIN
from .test_browser import (
    CHROMIUM,
    admin_story,
    agent_answers_and_closes,
    agent_pop_and_register,
    technician_replies,
)

WEDNESDAY_10AM = _dt.datetime(2026, 12, 2, 10, 0)     # inside the default flow's office hours


def test_caller_hears_on_the_ivr_that_his_closed_order_is_done(server: str, tmp_path: Path) -> None:
    customer.create_customer(ADMIN, "100200300", "王伟东", phones=["13812345678"],
                             address="铁西区建设大路10号")
    result: dict[str, str] = {}

    def browse() -> None:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                admin_story(browser, server)
                page, href, _ = agent_pop_and_register(browser, server)
                technician_replies(browser, server)
                agent_answers_and_closes(page, server, href)
                result["href"] = href
            finally:
                browser.close()

    gevent.get_hub().threadpool.apply(browse)
    order = workorder.get_order(Actor("li.na", "agent"), int(result["href"].rsplit("/", 1)[1]))
    assert order.state is workorder.State.CLOSED

    prompts = tmp_path / "prompts"
    gevent.get_hub().threadpool.apply(build_test_set, (prompts,))      # C file writes: off the hub
    site: IvrSite = crm_site(PromptSet(prompts), tmp_path, WEDNESDAY_10AM)
    try:
        caller = site.caller()
        caller.call("13812345678")
        caller.expect(*GREETING)
        caller.press("2")
        caller.expect("enter_serial")
        caller.press(order.serial + "#")
        heard = caller.expect("wo_done", "survey", timeout=20)
        assert "workorder_not_found" not in heard and "wo_other" not in heard
        caller.hangup()
    finally:
        site.stop()
