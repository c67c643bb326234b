"""The whole desk story in real Chromium (Debian's /usr/bin/chromium) through Playwright.

The app runs on a real port (gevent.pywsgi on the test's hub). Playwright's sync API cannot run in a
gevent greenlet, so the browser script runs in a worker thread of gevent's threadpool: the test
greenlet waits cooperatively and the hub keeps serving (the hub guard checks it is never blocked).
The call is published from the browser thread with events.publish_threadsafe, as the ACD's own
thread-free publish would arrive on the hub.
"""

from __future__ import annotations

import time
from pathlib import Path

import gevent
from playwright.sync_api import Browser, Page, expect, sync_playwright

from appliance.acd.model import parse_config
from appliance.acd.service import ACD
from appliance.crm import cdr, customer, events, users, workorder
from appliance.crm.common import Actor
from appliance.voiceboard.events import CidFormat
from appliance.voiceboard.prompts import PromptSet, build_test_set
from appliance.voiceboard.sim import SimulatedSite, ring_in
from appliance.web import agentapi

from .conftest import ADMIN

CHROMIUM = "/usr/bin/chromium"
POP_BUDGET = 1.0   # seconds from call.offered to the customer's record on the desk
PASSWORD = "Zhongguo-2026!"
CALLER = "138 1234 5678"
SSE_OPEN_WAIT = 15_000   # ms for the desk's event stream to open (a loaded CI machine is slow)


def login(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#submit")


def admin_story(browser: Browser, base: str) -> None:
    page = browser.new_page()
    page.goto(base + "/")
    expect(page).to_have_url(base + "/setup")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.fill("#password2", PASSWORD)
    page.click("#submit")
    expect(page.locator("p.ok")).to_contain_text("管理员已创建")
    login(page, base, "admin")
    expect(page).to_have_url(base + "/desk")
    page.goto(base + "/admin/teams")
    page.fill("#nt-name", "铁西维修一班")
    page.click("#nt-submit")
    expect(page.locator("#teams")).to_contain_text("铁西维修一班")
    page.goto(base + "/admin/users")
    for name, role, team in (("li.na", "agent", ""), ("zhao.gang", "technician", "铁西维修一班")):
        page.fill("#nu-username", name)
        page.select_option("#nu-role", role)
        if team:
            page.select_option("#nu-team", label=team)
        page.fill("#nu-password", PASSWORD)
        page.click("#nu-submit")
        expect(page.locator(f'[id="user-{name}"]')).to_be_visible()
    expect(page.locator('[id="user-zhao.gang"]')).to_contain_text("铁西维修一班")
    page.goto(base + "/setup")
    expect(page.locator("h1")).to_have_text("页面不存在")
    page.close()


def agent_pop_and_register(browser: Browser, base: str) -> tuple[Page, str, float]:
    page = browser.new_page()
    login(page, base, "li.na")
    expect(page).to_have_url(base + "/desk")
    expect(page.locator("body[data-sse=open]")).to_be_attached(timeout=SSE_OPEN_WAIT)
    t0 = time.monotonic()
    events.publish_threadsafe("call.offered", {"caller": CALLER, "station": 1})
    page.locator("#customer-name").filter(has_text="王伟东").wait_for(timeout=POP_BUDGET * 1000)
    popped = time.monotonic() - t0
    expect(page.locator("#incoming-status")).to_contain_text("王伟东")
    expect(page.locator("#wo-title")).to_be_focused()
    page.keyboard.type("厨房有燃气味")
    page.select_option("#wo-team", label="铁西维修一班")
    page.focus("#wo-title")
    page.keyboard.press("Control+Enter")
    link = page.locator("#wo-link")
    expect(link).to_contain_text("已派单")
    href = link.get_attribute("href") or ""
    expect(page.locator("#open-orders")).to_contain_text("厨房有燃气味")
    return page, href, popped


def technician_replies(browser: Browser, base: str) -> None:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    login(page, base, "zhao.gang")
    expect(page).to_have_url(base + "/tech")
    card = page.locator(".order-card").filter(has_text="厨房有燃气味")
    expect(card).to_contain_text("已派单")
    card.locator("button", has_text="接单").click()
    card = page.locator(".order-card").filter(has_text="厨房有燃气味")
    expect(card).to_contain_text("处理中")
    card.locator("textarea[name=note]").fill("已关阀，更换胶管，复查无泄漏")
    card.locator("button", has_text="回复并结束我的环节").click()
    expect(page.locator("p.ok")).to_contain_text("班组已回复")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the technician page scrolls sideways on a phone ({width} px)"
    ctx.close()


def agent_answers_and_closes(page: Page, base: str, href: str) -> None:
    page.goto(base + href)
    expect(page.locator("#order-fields")).to_contain_text("班组已回复")
    expect(page.locator("#steps")).to_contain_text("已关阀，更换胶管")
    page.fill("#act-answer textarea[name=final_answer]", "已上门处理，燃气泄漏已排除")
    page.click("#act-answer button")
    expect(page.locator("#order-fields")).to_contain_text("已答复")
    page.click("#act-close button")
    expect(page.locator("#order-fields")).to_contain_text("已关闭")


def test_desk_story_in_chromium(server: str) -> None:
    known = customer.create_customer(ADMIN, "100200300", "王伟东", phones=["13812345678"],
                                     address="铁西区建设大路10号")
    result: dict[str, object] = {}

    def browse() -> None:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                admin_story(browser, server)
                page, href, popped = agent_pop_and_register(browser, server)
                result["popped"] = popped
                technician_replies(browser, server)
                agent_answers_and_closes(page, server, href)
                result["href"] = href
            finally:
                browser.close()

    gevent.get_hub().threadpool.apply(browse)
    assert float(str(result["popped"])) < POP_BUDGET
    order_id = int(str(result["href"]).rsplit("/", 1)[1])
    agent = Actor("li.na", "agent")
    order = workorder.get_order(agent, order_id)
    assert order.state is workorder.State.CLOSED and order.customer_id == known.id
    assert [s.action for s in workorder.steps(agent, order_id)] == [
        "register", "dispatch", "accept", "reply", "answer", "close"]


def test_a_real_call_through_the_acd_pops_on_the_ready_agents_desk(server: str, tmp_path: Path) -> None:
    """The agent signs in on station 1 and goes ready in the browser; a simulated caller rings the
    trunk; the ACD offers the call to that agent, and the caller's record pops on his desk."""
    users.create_user("admin", PASSWORD, "admin")
    users.create_user("li.na", PASSWORD, "agent")
    customer.create_customer(ADMIN, "100200300", "王伟东", phones=["13812345678"],
                             address="铁西区建设大路10号")
    yesterday = time.time() - 86400                   # his last call: the agent sees who took it
    cdr.open_call("c-yesterday", "13812345678", "9556", "service", 0, yesterday)
    cdr.update_call("c-yesterday", {"agent": "1002", "disposition": "answered", "talk_s": 80.0,
                                    "survey": 4, "ended_at": yesterday + 100})
    site = SimulatedSite("fxo:1,fxs:2", name="pop")
    site.start()
    prompts = tmp_path / "prompts"
    gevent.get_hub().threadpool.apply(build_test_set, (prompts,))   # C file writes: off the hub
    cfg = parse_config({"acd": {"queues": [{"name": "service", "agents": ["1001"], "ring_timeout": 20}],
                                "agents": [{"id": "1001", "name": "李娜", "user": "li.na"}]}})
    assert cfg is not None
    acd = ACD(site.board, PromptSet(prompts), cfg)
    site.board.call_handler = acd.handle
    acd.start()
    agentapi.bind(acd)
    result: dict[str, float] = {}

    def browse() -> None:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                login(page, server, "li.na")
                expect(page.locator("body[data-sse=open]")).to_be_attached(timeout=SSE_OPEN_WAIT)
                expect(page.locator("#agent-state")).to_have_attribute("data-state", "logged_out")
                page.fill("#agent-station", "1")
                page.click("#agent-login button")
                expect(page.locator("#agent-state")).to_have_attribute("data-state", "not_ready")
                page.click("#agent-ready")
                expect(page.locator("#agent-state")).to_have_attribute("data-state", "ready")
                page.locator("#customer-name").filter(has_text="王伟东").wait_for(timeout=30_000)
                result["popped"] = time.monotonic()
                expect(page.locator("#incoming-status")).to_contain_text("13812345678")
                expect(page.locator("#calls li").last).to_contain_text("座席 1002 · 通话 80 秒 · 评价 4")
            finally:
                browser.close()

    try:
        browsing = gevent.get_hub().threadpool.spawn(browse)
        with gevent.Timeout(30, AssertionError("the agent never went ready")):
            while acd.agent_info("1001")["state"] != "ready":
                gevent.sleep(0.05)
        gevent.spawn(ring_in, site.far.channels[0], "13812345678", "", CidFormat.FSK, 20)
        with gevent.Timeout(30, AssertionError("the ACD never offered the call")):
            while acd.agent_info("1001")["state"] != "offered":
                gevent.sleep(0.01)
        offered_at = time.monotonic()
        browsing.get(timeout=60)
        assert result["popped"] - offered_at < POP_BUDGET, "the pop came too late after the offer"
        assert site.far.channels[1].status()["ringing"] or acd.agent_info("1001")["state"] == "offered"
    finally:
        agentapi.bind(None)
        acd.stop()
        site.stop()
