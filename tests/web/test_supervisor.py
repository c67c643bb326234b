"""The supervisor's wallboard API on a real ACD: the snapshot, forcing an agent's state (and the
ACD's refusal to log out an agent in a call), the audit trail, and today's figures from the CDR."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from appliance.crm import audit, cdr
from appliance.web import supervisor
from appliance.web.app import App

from .acdrig import Rig, wait_for
from .conftest import World, logged_in

ACD_CONF = {
    "wrapup": 0.5,
    "queues": [{"name": "service", "agents": ["1001", "1002"], "ring_timeout": 10, "service_level": 15}],
    "agents": [{"id": "1001", "name": "李娜", "user": "u-agent"}, {"id": "1002", "name": "张强"}],
}


@pytest.fixture
def rig(tmp_path: Path, world: World) -> Iterator[Rig]:
    r = Rig(tmp_path, "fxo:2,fxs:2", ACD_CONF, answer={2})
    try:
        yield r
    finally:
        r.stop()


def agent_row(board: dict[str, Any], agent: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = [a for a in board["agents"] if a["id"] == agent]
    assert rows, f"agent {agent} not on the board"
    return rows[0]


def test_without_an_acd_the_wallboard_says_so(app: App, world: World) -> None:
    lead = logged_in(app, "u-team_leader")
    res = lead.get("/api/supervisor/board")
    assert res.status == 409 and "未配置排队" in res.json()["error"]
    assert "未配置排队" in lead.get("/admin/acd").text
    assert logged_in(app, "u-agent").get("/supervisor").status == 403


def test_supervisor_forces_states_and_cannot_log_out_an_agent_in_a_call(app: App, rig: Rig) -> None:
    lead = logged_in(app, "u-team_leader")
    agent = logged_in(app, "u-agent")
    assert agent.post_json("/api/agent/login", {"station": "2"}).status == 200
    board = lead.get("/api/supervisor/board").json()
    (queue,) = board["queues"]
    assert (queue["name"], queue["members"], queue["waiting"]) == ("service", ["1001", "1002"], 0)
    row = agent_row(board, "1001")
    assert (row["state"], row["station"], row["user"]) == ("not_ready", 2, "u-agent")
    assert row["queues"] == ["service"]
    assert 0 <= float(str(row["state_for"])) < 5
    assert agent_row(board, "1002")["state"] == "logged_out"

    res = lead.post_json("/api/supervisor/agents/1001/ready", {})
    assert res.status == 200 and res.json()["state"] == "ready" and rig.state("1001") == "ready"
    res = lead.post_json("/api/supervisor/agents/1001/not_ready", {"reason": "meeting"})
    assert res.json()["state"] == "not_ready"
    mine = agent.get("/api/agent").json()
    assert mine["state"] == "not_ready" and mine["reason"] == "开会（班长 u-team_leader 设置）"
    assert "示忙原因无效" in lead.post_json("/api/supervisor/agents/1001/not_ready", {"reason": "nap"}).text
    res = lead.post_json("/api/supervisor/agents/9999/ready", {})
    assert res.status == 404 and "座席工号不存在" in res.json()["error"]
    res = lead.post_json("/api/supervisor/agents/1002/ready", {})
    assert res.status == 409 and res.json()["error"] == "座席未签入，请先签入分机"

    lead.post_json("/api/supervisor/agents/1001/ready", {})
    rig.ring(0, "13812345678")
    wait_for(lambda: rig.state("1001") == "talking", 30, "the agent's phone to take the call")
    res = lead.post_json("/api/supervisor/agents/1001/logout", {})
    assert res.status == 409 and "正在通话" in res.json()["error"], res.text
    assert rig.state("1001") == "talking"
    res = lead.post_json("/api/supervisor/agents/1001/not_ready", {"reason": "break"})
    assert res.status == 200 and "通话和话后整理结束后转为示忙" in res.json()["message"]
    rig.caller_hangs_up(0)
    wait_for(lambda: rig.state("1001") == "not_ready", 20, "not ready after the call and its wrap-up")

    rig.ring(1, "13900000000")                       # nobody ready: the caller waits, then gives up
    wait_for(lambda: rig.acd.queue_stats("service")["waiting"] == 1, 30, "the caller in the queue")
    board = lead.get("/api/supervisor/board").json()
    assert board["queues"][0]["waiting"] == 1 and board["queues"][0]["longest_wait"] >= 0
    rig.caller_hangs_up(1)
    wait_for(lambda: rig.acd.queue_stats("service")["waiting"] == 0, 20, "the caller to leave")
    assert rig.acd.flush()
    wait_for(lambda: lead.get("/api/supervisor/today").json()["totals"]["abandoned"] == 1, 10, "the CDR")
    today = lead.get("/api/supervisor/today").json()
    (q,) = today["queues"]
    assert (q["offered"], q["answered"], q["answered_in_time"], q["abandoned"]) == (2, 1, 1, 1)
    assert q["service_level"] == 50.0 and q["threshold_s"] == 15.0
    assert today["totals"]["service_level"] == 50.0

    res = lead.post_json("/api/supervisor/agents/1001/logout", {})
    assert res.status == 200 and res.json()["state"] == "logged_out"
    assert res.json()["message"] == "座席 1001 已签出"
    trail = [(r.action, r.actor, r.target) for r in audit.recent(50) if r.action.startswith("supervisor_")]
    assert ("supervisor_logout_refused", "u-team_leader", "agent:1001") in trail
    assert [a for a, _, t in trail if t == "agent:1001"][:2] == ["supervisor_logout", "supervisor_not_ready"]
    assert {a for a, _, _ in trail} >= {"supervisor_ready", "supervisor_not_ready", "supervisor_logout"}


def test_acd_and_schedule_read_views(app: App, rig: Rig) -> None:
    lead = logged_in(app, "u-team_leader")
    page = lead.get("/admin/acd").text
    assert "最长空闲优先" in page and "李娜" in page and "u-agent" in page and "15 秒" in page
    assert "（未绑定）" in page                       # 1002 has no web user
    assert "没有启用中的 IVR 流程" in lead.get("/admin/schedules").text


def test_day_figures_count_today_per_queue_with_its_threshold(data_dir: Path) -> None:
    start, end, _ = supervisor.day_bounds(time.time())
    t = start + 3600
    calls = [  # (id, queue, enqueued, answered?, wait, disposition, ended?)
        ("a", "service", t, True, 5.0, "answered", True),
        ("b", "service", t, True, 25.0, "answered", True),
        ("c", "service", t, False, 40.0, "abandoned", True),
        ("d", "gas", t, True, 25.0, "answered", True),
        ("e", "service", t, False, 3.0, "", False),        # still waiting
        ("f", "service", start - 10, True, 1.0, "answered", True),   # yesterday
    ]
    for cid, q, at, answered, wait, disp, ended in calls:
        cdr.open_call(cid, "138", "", q, 0, at)
        fields: dict[str, object] = {"wait_s": wait, "disposition": disp}
        if answered:
            fields["answered_at"] = at + wait
        if ended:
            fields["ended_at"] = at + 60
        cdr.update_call(cid, fields)
    days = {d.queue: d for d in cdr.day_figures(start, end, {"gas": 30.0}, 20.0)}
    s, g = days["service"], days["gas"]
    assert (s.offered, s.answered, s.answered_in_time, s.abandoned, s.in_progress) == (4, 2, 1, 1, 1)
    assert s.service_level == pytest.approx(1 / 3)
    assert (g.answered, g.answered_in_time, g.service_level) == (1, 1, 1.0)
    assert end - start == 86400
