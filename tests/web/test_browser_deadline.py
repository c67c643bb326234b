"""Work orders past their time limit, live in Chromium: the deadline watch escalates an order and
the technician's phone page says so and reloads with the order marked overdue; the agent's desk
lists it with a link."""

from __future__ import annotations

import datetime as dt
import threading

import gevent
from playwright.sync_api import expect, sync_playwright

from appliance.crm import common, deadline, users, workorder
from appliance.crm.common import Actor

from .test_browser import CHROMIUM, PASSWORD, SSE_OPEN_WAIT, login

ADMIN = Actor("admin", "admin")


def test_overdue_order_reaches_the_technicians_phone_and_the_desk(server: str) -> None:
    users.create_user("admin", PASSWORD, "admin")
    users.create_user("li.na", PASSWORD, "agent")
    users.create_user("zhao.gang", PASSWORD, "technician")
    team = workorder.create_team(ADMIN, "铁西维修一班", "赵刚", "13900001111")
    workorder.add_member(ADMIN, team.id, "zhao.gang")
    earlier = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=90)
    common.set_clock(lambda: earlier)                 # registered 90 minutes ago: 60 min limit
    try:
        order = workorder.register(Actor("li.na", "agent"), "emergency", "闻到燃气味", address="建设大路10号")
        order = workorder.dispatch(Actor("li.na", "agent"), order.id, team.id)
    finally:
        common.set_clock(None)
    ready = threading.Event()
    checked = threading.Event()

    def browse() -> None:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                            has_touch=True).new_page()
                login(phone, server, "zhao.gang")
                phone.goto(server + "/tech")
                card = phone.locator(f"#order-{order.id}")
                expect(card).to_be_visible()
                expect(card.locator(".overdue")).to_have_count(0)
                expect(phone.locator("body[data-sse=open]")).to_be_attached(timeout=SSE_OPEN_WAIT)
                desk = browser.new_page()
                login(desk, server, "li.na")
                expect(desk.locator("body[data-sse=open]")).to_be_attached(timeout=SSE_OPEN_WAIT)
                ready.set()
                checked.wait(30)
                alert = desk.locator("#wo-alerts li.overdue")
                expect(alert).to_contain_text(f"已超时升级：工单 {order.serial}")
                expect(desk.locator("#wo-alerts a")).to_have_attribute("href", f"/orders/{order.id}")
                # the phone page tells him, then reloads by itself (he is not typing)
                expect(card.locator(".overdue")).to_have_text("⚠已超时", timeout=10_000)
            finally:
                browser.close()

    browsing = gevent.get_hub().threadpool.spawn(browse)
    with gevent.Timeout(60, AssertionError("the pages never opened")):
        while not ready.is_set():
            gevent.sleep(0.05)
    _, escalated = deadline.DeadlineWatch().check()
    assert [o.serial for o in escalated] == [order.serial]
    checked.set()
    browsing.get(timeout=60)
