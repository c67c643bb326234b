"""The shipped default flow, heard by a scripted caller: balance, work orders, agent, emergency, night."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from appliance.voiceboard.channel import Play
from appliance.voiceboard.events import Kind
from appliance.voiceboard.prompts import PromptSet

from .caller import IvrSite, make_site, wait_for

GREETING = ("welcome", "record_notice", "main_menu")
AMOUNT_123_45 = ["balance_is", "digit_1", "hundred", "digit_2", "ten", "digit_3", "yuan", "digit_4", "jiao",
                 "digit_5", "fen"]


def test_balance_with_right_pin_says_the_amount(ivr_site: IvrSite) -> None:
    c = ivr_site.caller()
    c.call()
    c.expect(*GREETING)
    c.press("1")
    c.expect("enter_account")
    c.press("12345678#")
    c.expect("enter_pin")
    c.press("1234#")
    assert c.expect(*AMOUNT_123_45, "survey", timeout=20)[-12:] == [*AMOUNT_123_45, "survey"], \
        "一百二十三元四角五分"
    c.press("1")
    c.expect("thanks", "goodbye")
    c.wait_ended()
    assert [s["rating"] for s in ivr_site.stored if s["kind"] == "survey"] == [1]
    assert ("customer_by_phone", "13800138000") in ivr_site.crm.calls


def test_three_wrong_pins_end_the_call_politely(ivr_site: IvrSite) -> None:
    c = ivr_site.caller(1)
    c.call()
    c.expect(*GREETING)
    c.press("1")
    for attempt in range(3):
        c.expect("enter_account")
        c.press("12345678#")
        c.expect("enter_pin")
        c.press("9999#")
        if attempt < 2:
            c.expect("pin_wrong")
    c.expect("pin_wrong", "pin_locked", "goodbye")
    c.wait_ended()
    assert "balance_is" not in c.heard(), "no balance without the right PIN"
    assert [x for x in ivr_site.crm.calls if x[0] == "verify_pin"] == [("verify_pin", "12345678")] * 3


def test_workorder_status_by_serial_and_unknown_serial(ivr_site: IvrSite) -> None:
    c = ivr_site.caller(2)
    c.call("13900000000")
    c.expect(*GREETING)
    c.press("2")
    c.expect("enter_serial")
    c.press("202612010001#")
    c.expect("wo_dispatched", "survey")
    c.hangup()
    wait_for(lambda: not ivr_site.runtime.active_calls, 10, "the call to end")
    c = ivr_site.caller(3)
    c.call("13900000000")
    c.expect(*GREETING)
    c.press("2")
    c.expect("enter_serial")
    c.press("99999999#")
    c.expect("workorder_not_found", "main_menu")
    c.hangup()
    assert ("workorder", "99999999") in ivr_site.crm.calls


def test_agent_key_rings_a_station_and_bridges(ivr_site: IvrSite) -> None:
    c = ivr_site.caller()
    c.call()
    c.expect(*GREETING)
    c.press("0")
    c.expect("transfer")
    station = ivr_site.site.board.of_kind(Kind.FXS)[0]
    phone = ivr_site.site.far_of(station)
    wait_for(lambda: phone.state.value == "up" and station.status()["connected_to"] >= 0, 15,
             "an agent's phone to answer and be bridged")
    phone.detect_tone(1000)
    c.exch.start_play([Play.tone(1000, duration_ms=800)])
    assert phone.wait_tone(1000, 3), "the agent hears the caller"
    c.hangup()
    wait_for(lambda: station.state.value in ("idle", "clearing"), 10, "the station released")


def test_emergency_always_reaches_the_on_call_number(ivr_site: IvrSite) -> None:
    c = ivr_site.caller()
    c.call()
    c.expect(*GREETING)
    c.press("9")
    c.expect("emergency", timeout=30)
    wait_for(lambda: "95001" in ivr_site.dialled, 20, "the on-call number dialled")
    assert "leave_message" not in c.heard(), "never voicemail first"
    out = next(ch for ch in ivr_site.site.board.of_kind(Kind.FXO)[1:] if ch.busy)
    oncall = ivr_site.site.far_of(out)
    wait_for(lambda: oncall.state.value == "up", 10, "the on-call person answered")
    oncall.detect_tone(1000)
    c.exch.start_play([Play.tone(1000, duration_ms=800)])
    assert oncall.wait_tone(1000, 3), "the on-call person hears the caller"
    c.hangup()
    assert ivr_site.dialled == ["95001"]


def test_after_hours_complaint_is_recorded(test_prompts: PromptSet, data_dir: Path) -> None:
    night = make_site(test_prompts, data_dir, "fxo:2,fxs:1", _dt.datetime(2026, 12, 2, 22, 30))
    try:
        c = night.caller()
        c.call()
        c.expect("welcome", "record_notice", "after_hours", "after_hours_menu")
        c.press("1")
        c.expect("leave_message")
        gevent_sleep(0.8)                      # after the beep
        c.exch.play([Play.tone(600, duration_ms=1500)], barge_in=False)   # the complaint
        c.press("#")
        c.expect("message_saved", "goodbye")
        c.wait_ended()
        (msg,) = [s for s in night.stored if s["kind"] == "complaint"]
        assert msg["duration_ms"] >= 1000 and Path(msg["path"]).stat().st_size > 8000
        assert msg["caller_id"] == "13800138000"
    finally:
        night.stop()


def gevent_sleep(seconds: float) -> None:
    import gevent

    gevent.sleep(seconds)
