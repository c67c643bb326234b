"""Every node type walked by a scripted caller; invalid input and timeouts retried, then routed."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gevent
import pytest

from appliance.ivr.interp import schedule_open
from appliance.voiceboard.channel import Play
from appliance.voiceboard.events import Kind
from appliance.voiceboard.prompts import PromptSet

from .caller import IvrSite, wait_for

ALL_DAY = {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def walk_flow() -> dict[str, Any]:
    return {"id": "default", "version": 0, "start": "p1", "nodes": {
        "p1": {"type": "play", "prompts": ["welcome"], "next": "s1"},
        "s1": {"type": "set", "vars": {"greeting": "hi ${caller_id}", "n": "5"}, "next": "b1"},
        "b1": {"type": "branch", "conditions": [{"var": "n", "op": "ge", "value": 3, "next": "sch"}],
               "default": "bye"},
        "sch": {"type": "schedule", "hours": ALL_DAY, "open": "m1", "closed": "bye"},
        "m1": {"type": "menu", "prompt": "menu", "options": {"1": "in1", "2": "tr_in", "#": "bye"},
               "retries": 2, "timeout": 2, "on_fail": "fail"},
        "in1": {"type": "input", "var": "num", "prompt": "enter_account", "min_length": 3, "max_length": 6,
                "timeout": 2, "interdigit": 2, "retries": 2, "next": "lk", "on_fail": "fail"},
        "lk": {"type": "lookup", "function": "double", "args": {"x": "${num}"}, "result": {"doubled": "y"},
               "next": "sy", "on_not_found": "nf", "on_error": "err"},
        "sy": {"type": "say", "kind": "number", "var": "doubled", "before": ["balance_is"], "next": "dt"},
        "dt": {"type": "say", "kind": "date", "value": "2026-12-02", "next": "tm"},
        "tm": {"type": "say", "kind": "time", "value": "08:05", "next": "dg"},
        "dg": {"type": "say", "kind": "digits", "var": "num", "next": "sv"},
        "sv": {"type": "survey", "prompt": "survey", "keys": "123", "timeout": 3, "next": "rec"},
        "rec": {"type": "record", "kind": "voicemail", "prompt": "leave_message", "max_s": 4, "silence_s": 2,
                "next": "bye"},
        "tr_in": {"type": "input", "var": "to", "prompt": "enter_serial", "min_length": 3, "max_length": 14,
                  "timeout": 3, "next": "tr", "on_fail": "fail"},
        "tr": {"type": "transfer", "number": "${to}", "on_refused": "refused", "on_fail": "fail"},
        "refused": {"type": "hangup", "prompts": ["invalid", "goodbye"]},
        "bye": {"type": "hangup", "prompts": ["goodbye"]},
        "fail": {"type": "hangup", "prompts": ["hold", "goodbye"]},
        "nf": {"type": "hangup", "prompts": ["workorder_not_found", "goodbye"]},
        "err": {"type": "hangup", "prompts": ["service_unavailable", "goodbye"]},
    }}


def double(args: dict[str, str]) -> Mapping[str, Any] | None:
    if args["x"] == "666":
        raise RuntimeError("the CRM is down")
    if args["x"] == "4321":
        return None
    return {"y": int(args["x"]) * 2}


@pytest.fixture
def walk(ivr_site: IvrSite) -> IvrSite:
    ivr_site.registry.register_lookup("double", double)
    version, problems = ivr_site.runtime.save(walk_flow())
    assert problems == []
    ivr_site.runtime.activate(version)
    return ivr_site


def test_walk_every_node_type(walk: IvrSite, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="appliance.ivr")
    c = walk.caller()
    c.call()
    c.expect("welcome", "menu")
    c.press("1")
    c.expect("enter_account")
    c.press("123#")
    said = c.expect("survey", timeout=25)
    assert said == ["balance_is", "digit_2", "hundred", "digit_4", "ten", "digit_6",          # 二百四十六
                    "digit_2", "digit_0", "digit_2", "digit_6", "year", "ten", "digit_2", "month",
                    "digit_2", "day",                                     # 二零二六年十二月二日
                    "digit_8", "oclock", "digit_0", "digit_5", "minute",                      # 八点零五分
                    "digit_1", "digit_2", "digit_3", "survey"]                                # 一二三
    c.press("2")
    c.expect("thanks", "leave_message")
    gevent.sleep(0.8)
    c.exch.play([Play.tone(700, duration_ms=1200)], barge_in=False)
    c.press("#")
    c.expect("goodbye")
    c.wait_ended()
    kinds = {s["kind"]: s for s in walk.stored}
    assert kinds["survey"]["rating"] == 2
    assert kinds["voicemail"]["duration_ms"] >= 1000 and Path(kinds["voicemail"]["path"]).exists()
    result = walk.runtime.results[-1]
    assert result.outcome == "hangup" and result.flow == "default@v2"
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("appliance.ivr")]
    assert lines and all(m.startswith("[ivr ") or m.startswith("ivr:") for m in lines), lines[:3]


def test_menu_invalid_key_and_timeout_are_retried_then_on_fail(walk: IvrSite) -> None:
    c = walk.caller(1)
    c.call()
    c.expect("welcome", "menu")
    c.press("7")
    c.expect("invalid", "menu")
    c.expect("timeout", "menu", timeout=10)      # nothing pressed
    c.press("8")
    c.expect("invalid", "hold", "goodbye")
    c.wait_ended()
    assert walk.runtime.results[-1].ended_at == "fail"


def test_input_too_short_is_retried_and_a_failed_lookup_is_routed(walk: IvrSite) -> None:
    c = walk.caller(2)
    c.call()
    c.expect("welcome", "menu")
    c.press("1")
    c.expect("enter_account")
    c.press("12#")
    c.expect("invalid", "enter_account")
    c.press("666#")
    c.expect("service_unavailable", "goodbye")
    c.wait_ended()
    c.call()
    c.expect("welcome", "menu")
    c.press("1")
    c.expect("enter_account")
    c.expect("timeout", "enter_account", timeout=10)
    c.press("4321#")
    c.expect("workorder_not_found", "goodbye")
    c.wait_ended()


def test_transfer_only_to_allow_listed_numbers(walk: IvrSite) -> None:
    c = walk.caller()
    c.call()
    c.expect("welcome", "menu")
    c.press("2")
    c.expect("enter_serial")
    c.press("0085212345678#")                     # an international number typed by the caller
    c.expect("invalid", "goodbye")
    c.wait_ended()
    assert walk.dialled == [], "nothing was dialled"
    c.call()
    c.expect("welcome", "menu")
    c.press("2")
    c.expect("enter_serial")
    c.press("95002#")
    c.expect("transfer")
    wait_for(lambda: walk.dialled == ["95002"], 15, "the allowed number dialled")
    c.hangup()
    wait_for(lambda: all(not ch.busy for ch in walk.site.board.of_kind(Kind.FXO)), 10, "both trunks released")


def test_caller_hanging_up_mid_menu_frees_the_line(walk: IvrSite) -> None:
    c = walk.caller(3)
    c.call()
    c.expect("welcome", "menu")
    c.hangup()
    line = walk.site.board.of_kind(Kind.FXO)[3]
    wait_for(lambda: not line.busy and not walk.runtime.active_calls, 5, "the line idle")
    assert walk.runtime.results[-1].outcome == "caller_hangup"


def test_missing_prompt_is_logged_and_the_call_goes_on(walk: IvrSite, test_prompts: PromptSet, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    lacking = tmp_path / "lacking"
    shutil.copytree(test_prompts.directory, lacking)
    manifest = json.loads((lacking / "manifest.json").read_text())
    del manifest["prompts"]["welcome"]
    (lacking / "manifest.json").write_text(json.dumps(manifest))
    walk.runtime.prompts = PromptSet(lacking)          # the prompt went away after the flow was activated
    caplog.set_level(logging.WARNING)
    c = walk.caller()
    c.call()
    assert c.expect("menu") == ["menu"]
    c.press("#")
    c.expect("goodbye")
    c.wait_ended()
    assert any("'welcome' missing" in r.getMessage() for r in caplog.records)


def test_schedule_hours_holidays_and_special_days() -> None:
    node = {"hours": {"mon": [["08:00", "12:00"], ["13:00", "18:00"]], "sat": [["09:00", "12:00"]]},
            "holidays": ["2026-10-01"], "special_days": {"2026-10-10": [["10:00", "11:00"]]}}
    monday = _dt.datetime(2026, 11, 30)
    assert schedule_open(node, monday.replace(hour=8))
    assert not schedule_open(node, monday.replace(hour=12, minute=30))
    assert schedule_open(node, monday.replace(hour=17, minute=59))
    assert not schedule_open(node, monday.replace(hour=18))
    assert not schedule_open(node, _dt.datetime(2026, 12, 1, 10))           # Tuesday: no hours
    assert not schedule_open(node, _dt.datetime(2026, 10, 1, 10))           # holiday (a Thursday)
    assert schedule_open(node, _dt.datetime(2026, 10, 10, 10, 30))          # special Saturday
    assert not schedule_open(node, _dt.datetime(2026, 10, 10, 9, 30))
