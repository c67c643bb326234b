"""The validator (流程自动排错) finds each planted error; an invalid flow is never activated."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from appliance.crm import db, flowstore
from appliance.ivr.flow import FlowError, default_flow, parse_flow
from appliance.ivr.registry import AllowList, Registry
from appliance.ivr.runtime import IvrRuntime
from appliance.ivr.services import NoCrm, register_crm_lookups
from appliance.ivr.validate import FlowInvalid, Problem, validate
from appliance.voiceboard.board import Board
from appliance.voiceboard.prompts import PromptSet


@pytest.fixture
def registry() -> Registry:
    r = Registry()
    register_crm_lookups(r, NoCrm())
    r.register_queue("agents", lambda _call, _q: False)
    r.register_sink("voicemail", lambda _call, _item: None)
    r.register_sink("survey", lambda _call, _item: None)
    return r


def check(body: dict[str, Any], prompts: PromptSet, registry: Registry) -> list[Problem]:
    return validate(parse_flow(body), set(prompts.names), registry, AllowList(["95001", "95002"]))


def base() -> dict[str, Any]:
    return json.loads(default_flow().to_json())


def test_the_default_flow_is_valid(test_prompts: PromptSet, registry: Registry) -> None:
    assert check(base(), test_prompts, registry) == []


def planted(change: str) -> tuple[dict[str, Any], str, str]:
    """(flow, node, code) with one error planted."""
    f = base()
    n = f["nodes"]
    if change == "unreachable":
        n["orphan"] = {"type": "play", "prompts": ["thanks"], "next": "bye"}
        return f, "orphan", "unreachable"
    if change == "missing_prompt":
        n["welcome"]["prompts"] = ["welcome", "no_such_prompt"]
        return f, "welcome", "missing_prompt"
    if change == "dangling":
        n["main_menu"]["options"]["3"] = "nowhere"
        return f, "main_menu", "dangling_exit"
    if change == "loop":
        n["wo_unknown"] = {"type": "play", "prompts": ["workorder_not_found"], "next": "wo_again"}
        n["wo_again"] = {"type": "set", "vars": {"x": "1"}, "next": "wo_unknown"}
        return f, "wo_again", "loop_without_input"
    if change == "menu_key":
        n["main_menu"]["options"]["A"] = "agent"
        return f, "main_menu", "bad_digit"
    if change == "menu_key_two":
        n["main_menu"]["options"]["12"] = "agent"
        return f, "main_menu", "bad_digit"
    if change == "input_lengths":
        n["bal_pin"]["min_length"], n["bal_pin"]["max_length"] = 6, 4
        return f, "bal_pin", "bad_length"
    if change == "input_zero":
        n["bal_pin"]["min_length"] = 0
        return f, "bal_pin", "bad_length"
    if change == "lookup":
        n["bal_lookup"]["function"] = "steal_money"
        return f, "bal_lookup", "unknown_lookup"
    if change == "queue":
        n["agent"]["queue"] = "nobody"
        return f, "agent", "unknown_queue"
    if change == "transfer":
        n["em_oncall"]["number"] = "0085212345678"
        return f, "em_oncall", "transfer_not_allowed"
    if change == "type":
        n["welcome"]["type"] = "dance"
        return f, "welcome", "unknown_type"
    if change == "missing_exit":
        del n["bal_lookup"]["on_error"]
        return f, "bal_lookup", "missing_exit"
    if change == "start":
        f["start"] = "nope"
        return f, "", "unknown_start"
    if change == "schedule":
        n["hours"]["hours"]["mon"] = [["18:00", "08:00"]]
        return f, "hours", "bad_schedule"
    if change == "say_kind":
        n["bal_say"]["kind"] = "roman"
        return f, "bal_say", "bad_say_kind"
    if change == "sink":
        n["voicemail"]["sink"] = "dev_null"
        return f, "voicemail", "unknown_sink"
    raise AssertionError(change)


CHANGES = ["unreachable", "missing_prompt", "dangling", "loop", "menu_key", "menu_key_two",
           "input_lengths", "input_zero", "lookup", "queue", "transfer", "type", "missing_exit", "start",
           "schedule", "say_kind", "sink"]


@pytest.mark.parametrize("change", CHANGES)
def test_each_planted_error_is_found_with_node_and_chinese_message(change: str, test_prompts: PromptSet,
                                                                    registry: Registry) -> None:
    flow, node, code = planted(change)
    problems = check(flow, test_prompts, registry)
    hits = [p for p in problems if p.code == code and p.node == node]
    assert hits, f"{change}: expected {code} at {node!r}, got {problems}"
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in p.message) for p in problems), "messages in Chinese"
    assert node in str(hits[0]) and code in str(hits[0])


def test_loop_through_a_menu_is_fine_but_a_quick_loop_is_not(test_prompts: PromptSet,
                                                             registry: Registry) -> None:
    flow = {"id": "x", "start": "a", "nodes": {
        "a": {"type": "play", "prompts": ["welcome"], "next": "m"},
        "m": {"type": "menu", "prompt": "menu", "options": {"1": "a"}, "on_fail": "b"},
        "b": {"type": "branch", "conditions": [{"var": "v", "op": "eq", "value": 1, "next": "c"}],
              "default": "c"},
        "c": {"type": "set", "vars": {"v": "1"}, "next": "b"}}}
    problems = check(flow, test_prompts, registry)
    assert [(p.node, p.code) for p in problems] == [("b", "loop_without_input")]
    assert "b -> c" in problems[0].message


def test_not_a_flow_at_all() -> None:
    for text in ("{", "[]", '{"id": "x", "nodes": {}}'):
        with pytest.raises(FlowError):
            parse_flow(text)


def test_invalid_flow_is_stored_but_never_activated(test_prompts: PromptSet, registry: Registry,
                                                    data_dir: Path) -> None:
    board = Board("v", "fxo:1")
    try:
        rt = IvrRuntime(board, test_prompts, data_dir, registry=registry, allow=["95001", "95002"])
        good = rt.load()
        assert good.label == "default@v1"
        flow, _node, _code = planted("transfer")
        version, problems = rt.save(flow, by="admin")
        assert version == 2 and [p.code for p in problems] == ["transfer_not_allowed"]
        with pytest.raises(FlowInvalid) as info:
            rt.activate(version, by="admin")
        assert info.value.problems[0].node == "em_oncall"
        assert rt.active is good
        with pytest.raises(flowstore.FlowStoreError):
            flowstore.activate_version("default", version)
        with pytest.raises(Exception, match="only a valid flow version"):   # the database's own trigger
            db.execute("UPDATE ivr_active SET version = 2 WHERE flow_id = 'default'")
        active = flowstore.get_active("default")
        assert active is not None and active.version == 1
        stored = flowstore.get_version("default", 2)
        assert stored is not None and not stored.valid and "transfer_not_allowed" in stored.problems[0]
    finally:
        board.stop()


def test_flowstore_versions(data_dir: Path) -> None:
    body = default_flow().to_json()
    assert flowstore.get_active("f") is None
    v1 = flowstore.save_version("f", body, valid=True, created_by="admin")
    v2 = flowstore.save_version("f", body.replace("welcome", "welcome"), valid=True, created_by="admin")
    assert (v1, v2) == (1, 2)
    flowstore.activate_version("f", 2, activated_by="admin")
    active = flowstore.get_active("f")
    assert active is not None and (active.version, active.active, active.created_by) == (2, True, "admin")
    assert [s.version for s in flowstore.list_versions("f")] == [2, 1]
    assert flowstore.list_flows() == ["f"]
    flowstore.activate_version("f", 1)
    assert flowstore.get_active("f").version == 1  # type: ignore[union-attr]
    with pytest.raises(flowstore.FlowStoreError):
        flowstore.activate_version("f", 7)
    with pytest.raises(Exception, match="immutable"):
        db.execute("UPDATE ivr_flows SET body = '{}' WHERE flow_id = 'f'")
    assert db.user_version() == db.SCHEMA_VERSION


def test_every_prompt_of_the_default_flow_is_in_both_sets(registry: Registry) -> None:
    """The test set gives each a DTMF code; the demo manifest (zh-CN.toml) has a text for each."""
    from appliance.voiceboard import prompts

    spec = prompts.load_demo_spec(Path(__file__).resolve().parents[2] / "prompts" / "zh-CN.toml")
    for names in (set(prompts.TEST_PROMPTS), set(spec.prompts)):
        assert validate(default_flow(), names, registry, AllowList(["95001", "95002"])) == []
    codes = {prompts.code_for(n) for n in prompts.TEST_PROMPTS}
    assert len(codes) == len(prompts.TEST_PROMPTS) <= 100
