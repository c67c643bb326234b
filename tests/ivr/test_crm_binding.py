"""The default flow on the REAL CRM (appliance/ivr/crmbind.py over the database): a caller hears
his balance after the right PIN, not after a wrong one, and the status of a real work order."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest

from appliance.crm import audit, customer, messages, users, workorder
from appliance.crm.common import Actor
from appliance.ivr.crmbind import CrmBinding, register_crm_sinks
from appliance.ivr.registry import Registry
from appliance.ivr.runtime import IvrRuntime
from appliance.ivr.services import register_crm_lookups
from appliance.voiceboard.channel import Play
from appliance.voiceboard.prompts import PromptSet
from appliance.voiceboard.sim import SimulatedSite

from .caller import ALLOW, FakeCrm, IvrSite, wait_for
from .test_default_flow import AMOUNT_123_45, GREETING

AGENT = Actor("li.na", "agent", None, "web")


def crm_site(prompts: PromptSet, data_dir: Path, now: _dt.datetime) -> IvrSite:
    site = SimulatedSite("fxo:2,fxs:1", name="ivrcrm")
    registry = Registry()
    register_crm_lookups(registry, CrmBinding())
    runtime = IvrRuntime(site.board, prompts, data_dir, registry=registry, allow=ALLOW, clock=lambda: now)
    s = IvrSite(site, runtime, FakeCrm(), registry)   # the fake is unused: the lookups are CrmBinding
    register_crm_sinks(registry)                       # after IvrSite, which installs in-memory sinks
    site.board.call_handler = runtime.handle
    site.start()
    runtime.load()
    return s


@pytest.fixture
def real_site(test_prompts: PromptSet, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IvrSite]:
    monkeypatch.setattr(users, "ARGON2_MEMORY_KIB", 1024)     # cheaper PIN hashes for the test
    monkeypatch.setattr(users, "ARGON2_TIME_COST", 1)
    monkeypatch.setattr(users, "_dummy_hash", None)
    s = crm_site(test_prompts, data_dir, _dt.datetime(2026, 12, 2, 10, 0))
    try:
        yield s
    finally:
        s.stop()




def test_balance_from_the_database_with_the_right_pin_only(real_site: IvrSite) -> None:
    customer.create_customer(AGENT, "12345678", "王伟东", phones=["13800138000"], pin="1234",
                             balance_fen=12345)
    c = real_site.caller()
    c.call()
    c.expect(*GREETING)
    c.press("1")
    c.expect("enter_account")
    c.press("12345678#")
    c.expect("enter_pin")
    c.press("9999#")
    c.expect("pin_wrong", "enter_account")
    c.press("12345678#")
    c.expect("enter_pin")
    c.press("1234#")
    heard = c.expect(*AMOUNT_123_45, "survey", timeout=20)
    assert heard[-12:] == [*AMOUNT_123_45, "survey"], "一百二十三元四角五分 from the database"
    c.press("3")
    c.expect("thanks")
    c.hangup()
    wait_for(lambda: bool(messages.ratings()), 5, "the rating stored")
    assert messages.ratings()[0][1:] == ("13800138000", 3), "the rating is kept with the caller"
    actions = [r.action for r in audit.recent(20)]
    assert "customer_pin_failed" in actions and "customer_balance_query" in actions


def test_status_of_a_real_work_order_and_of_an_unknown_serial(real_site: IvrSite) -> None:
    order = workorder.register(AGENT, "repair", "暖气不热", caller_phone="13900000000")
    team = workorder.create_team(Actor("admin", "admin", None, "web"), "铁西维修一班")
    workorder.dispatch(AGENT, order.id, team.id)
    c = real_site.caller(1)
    c.call("13900000000")
    c.expect(*GREETING)
    c.press("2")
    c.expect("enter_serial")
    c.press(order.serial + "#")
    c.expect("wo_dispatched", "survey")
    c.hangup()


def test_after_hours_message_lands_in_the_voicemail_list(test_prompts: PromptSet, data_dir: Path) -> None:
    night = crm_site(test_prompts, data_dir, _dt.datetime(2026, 12, 2, 22, 30))
    try:
        c = night.caller()
        c.call()
        c.expect("welcome", "record_notice", "after_hours", "after_hours_menu")
        c.press("1")                                   # complaint
        c.expect("leave_message")
        gevent.sleep(0.8)
        c.exch.play([Play.tone(600, duration_ms=1500)], barge_in=False)
        c.press("#")
        c.expect("message_saved", "goodbye")
        c.wait_ended()
        (msg,) = messages.list_messages()
        assert (msg.caller, msg.category_name, msg.heard) == ("13800138000", "投诉", False)
        assert msg.duration_ms >= 1000 and (data_dir / msg.recording).stat().st_size > 8000
        assert not Path(msg.recording).is_absolute(), "the list keeps a name inside the data dir"
        messages.mark_heard(msg.id, "li.na")
        assert messages.list_messages(unheard_only=True) == []
    finally:
        night.stop()
