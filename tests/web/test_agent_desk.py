"""The desk's own agent controls against a real ACD on the simulated board: sign in on a station,
示闲 / 示忙 with a reason, sign out; refusals in Chinese; every command audited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest

from appliance.acd.model import parse_config
from appliance.acd.service import ACD
from appliance.crm import audit
from appliance.voiceboard.prompts import PromptSet, build_test_set
from appliance.voiceboard.sim import SimulatedSite
from appliance.web import agentapi
from appliance.web.app import App

from .conftest import World, logged_in

STATION = 1          # "fxo:1,fxs:2": port 0 a trunk, ports 1-2 stations


@pytest.fixture
def center(app: App, world: World, tmp_path: Path) -> Iterator[ACD]:
    site = SimulatedSite("fxo:1,fxs:2", name="desk")
    site.start()
    prompts = tmp_path / "prompts"
    gevent.get_hub().threadpool.apply(build_test_set, (prompts,))   # C file writes: off the hub
    cfg = parse_config({"acd": {"wrapup": 0.5, "queues": [{"name": "service", "agents": ["1001"]}],
                                "agents": [{"id": "1001", "name": "张丽", "user": "u-agent"}]}})
    assert cfg is not None
    acd = ACD(site.board, PromptSet(prompts), cfg)
    acd.start()
    agentapi.bind(acd)
    try:
        yield acd
    finally:
        agentapi.bind(None)
        acd.stop()
        site.stop()


def test_agent_signs_in_goes_ready_and_not_ready_from_the_desk(app: App, center: ACD) -> None:
    c = logged_in(app, "u-agent")
    got = c.get("/api/agent").json()
    assert got["id"] == "1001" and got["state"] == "logged_out" and got["state_name"] == "未签入"
    got = c.post_json("/api/agent/login", {"station": str(STATION)}).json()
    assert got["station"] == STATION and got["state"] == "not_ready"
    got = c.post_json("/api/agent/ready", {}).json()
    assert got["state_name"] == "示闲" and center.agent_info("1001")["state"] == "ready"
    got = c.post_json("/api/agent/not_ready", {"reason": "meal"}).json()
    assert got["state"] == "not_ready" and got["reason"] == "用餐"
    assert center.agent_info("1001")["reason"] == "用餐", "the ACD holds the reason the agent chose"
    got = c.post_json("/api/agent/logout", {}).json()
    assert got["state"] == "logged_out"
    actions = [r.action for r in audit.recent(20) if r.target == "1001"]
    assert {"agent_login", "agent_ready", "agent_not_ready", "agent_logout"} <= set(actions)


def test_refusals_are_clear_and_in_chinese(app: App, center: ACD) -> None:
    c = logged_in(app, "u-agent")
    res = c.post_json("/api/agent/ready", {})
    assert res.status == 409 and "未签入" in res.json()["error"]
    for bad in ("abc", "-1", "1; DROP TABLE", ""):
        res = c.post_json("/api/agent/login", {"station": bad})
        assert res.status == 400 and "分机号无效" in res.json()["error"], bad
    res = c.post_json("/api/agent/login", {"station": "0"})       # the trunk, not a station
    assert res.status == 409 and "FXS" in res.json()["error"]
    c.post_json("/api/agent/login", {"station": str(STATION)})
    res = c.post_json("/api/agent/not_ready", {"reason": "nap"})
    assert res.status == 400 and "示忙原因无效" in res.json()["error"]
    res = c.post_json("/api/agent/wrapup_end", {})
    assert res.status == 409 and "话后整理" in res.json()["error"]
    res = c.post_json("/api/agent/ready", {}, csrf=False)
    assert res.status == 403 and center.agent_info("1001")["state"] == "not_ready", "no CSRF, no change"
    lead = logged_in(app, "u-team_leader")                         # a desk user bound to no agent
    res = lead.get("/api/agent")
    assert res.status == 409 and "未绑定座席工号" in res.json()["error"]


def test_without_an_acd_the_desk_says_so(app: App, world: World) -> None:
    agentapi.bind(None)
    res = logged_in(app, "u-agent").get("/api/agent")
    assert res.status == 409 and "ACD" in res.json()["error"]
