"""Queues and agents edited on the web, on a real ACD: a change is live at once (a caller already
waiting is served by an agent added while he waits), saved as a version with who and why, audited,
and used again after a restart; refusals (a queue with callers, a signed-in agent, bad fields,
unknown members, the wrong role) change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from appliance.crm import acdconf, audit
from appliance.crm.common import Actor
from appliance.service import Service, load_config
from appliance.voiceboard.prompts import build_test_set
from appliance.web import acdedit
from appliance.web.app import App

from .acdrig import Rig, wait_for
from .client import Result
from .conftest import World, logged_in

ACD_CONF = {
    "wrapup": 0.5,
    "queues": [{"name": "service", "agents": ["1001"], "ring_timeout": 10, "max_wait": 120},
               {"name": "repair", "agents": ["1001"], "strategy": "ring_all"}],
    "agents": [{"id": "1001", "name": "李娜", "user": "u-agent"}, {"id": "1003", "name": "王芳"}],
}
QUEUE = {"strategy": "longest_idle", "ring_timeout": "10", "max_wait": "120", "max_length": "20",
         "overflow": "", "record": "never", "announce_wait": "1", "service_level": "20"}


@pytest.fixture
def rig(tmp_path: Path, world: World) -> Iterator[Rig]:
    r = Rig(tmp_path, "fxo:1,fxs:2", ACD_CONF, answer={2})
    acdedit.bind(ACD_CONF)
    try:
        yield r
    finally:
        acdedit.bind(None)
        r.stop()


def refused(res: Result, status: int, text: str) -> None:
    assert res.status == status, res.text
    assert text in res.text, res.text[-400:]


def test_a_new_agent_added_while_a_caller_waits_serves_him(app: App, rig: Rig) -> None:
    sup = logged_in(app, "u-supervisor")
    page = sup.get("/admin/acd").text
    assert 'id="acd-editor"' in page and 'id="qf-service"' in page and 'id="af-new"' in page
    rig.ring(0, "13812345678")                         # nobody signed in: he waits in "service"
    wait_for(lambda: rig.acd.queue_stats("service")["waiting"] == 1, 30, "the caller queued")

    res = sup.post("/admin/acd/agents", {"new": "1", "id": "1002", "name": "张强", "user": "u-team_leader",
                                         "station": "2", "mode": "ring", "skills": "gas:3 heat：1",
                                         "record": "", "queues": "service"})
    assert res.status == 303 and "已生效（第 1 版）：新建座席 1002" in unquote(res.header("Location"))
    assert rig.acd.cfg.queue("service").agents == ("1001", "1002")
    assert rig.acd.agent_info("1002")["state"] == "logged_out"
    assert rig.acd.agent_for_user("u-team_leader") == "1002"
    rig.acd.login("1002", 2, ready=True)               # his phone (station 2) picks up
    wait_for(lambda: rig.state("1002") == "talking", 30, "the waiting caller reached the new agent")
    assert rig.acd.queue_stats("service")["waiting"] == 0

    v = acdconf.latest()
    assert v is not None and v.created_by == "u-supervisor"
    assert v.note == "新建座席 1002" and v.body["agents"][2]["skills"] == {"gas": 3, "heat": 1}
    assert "acd_config" in {e.action for e in audit.recent(10)}
    assert "新建座席 1002" in sup.get("/admin/acd").text       # the version list


def test_queue_changes_are_live_and_refusals_change_nothing(app: App, rig: Rig) -> None:
    sup = logged_in(app, "u-supervisor")
    res = sup.post("/admin/acd/queues", {"name": "service", **QUEUE, "strategy": "round_robin",
                                         "agents": "1001", "ring_timeout": "25", "survey": "1"})
    assert res.status == 303, res.text
    q = rig.acd.cfg.queue("service")
    assert (q.strategy.value, q.ring_timeout, q.survey) == ("round_robin", 25.0, True)
    saved = len(acdconf.history())

    refused(sup.post("/admin/acd/queues", {"name": "service", **QUEUE, "agents": "1001 9999"}), 400,
            "没有这些座席：9999")
    refused(sup.post("/admin/acd/queues", {"name": "service", **QUEUE, "agents": "1001",
                                           "ring_timeout": "abc"}), 400, "振铃超时应为数字")
    refused(sup.post("/admin/acd/queues", {"name": "service", **QUEUE, "agents": "1001",
                                           "overflow": "nowhere"}), 400, "溢出目标无效")
    refused(sup.post("/admin/acd/queues", {"new": "1", "name": "repair", **QUEUE}), 400, "队列 repair 已存在")
    refused(sup.post("/admin/acd/queues/service/delete", {}), 400, "是默认队列")
    refused(sup.post("/admin/acd/agents", {"id": "1001", "name": "李娜", "user": "nobody", "mode": "ring"}),
            400, "网页用户 nobody 不存在")
    rig.acd.login("1001", 1)
    refused(sup.post("/admin/acd/agents/1001/delete", {}), 409, "座席 1001 已签入")
    rig.ring(0, "13812345678")                         # 1001 not ready: the caller waits
    wait_for(lambda: rig.acd.queue_stats("service")["waiting"] == 1, 30, "the caller queued")
    res = sup.post("/admin/acd/settings", {"default_queue": "repair", "wrapup": "5", "no_answer_limit": "2"})
    assert res.status == 303 and rig.acd.cfg.default_queue == "repair"
    refused(sup.post("/admin/acd/queues/service/delete", {}), 409, "还有 1 个来电在排队")
    assert rig.acd.queue_stats("service")["waiting"] == 1      # nobody dropped
    assert len(acdconf.history()) == saved + 1                  # only the settings were saved
    assert sup.post("/admin/acd/settings", {"default_queue": "repair", "wrapup": "5",
                                             "no_answer_limit": "2"}, csrf=False).status == 403


def test_only_supervisors_and_admins_edit(app: App, rig: Rig) -> None:
    lead = logged_in(app, "u-team_leader")
    page = lead.get("/admin/acd")
    assert page.status == 200 and 'id="acd-editor"' not in page.text and "需要主管或管理员权限" in page.text
    assert lead.post("/admin/acd/settings", {"default_queue": "repair", "wrapup": "5",
                                              "no_answer_limit": "2"}).status == 403
    assert logged_in(app, "u-agent").get("/admin/acd").status == 403
    assert acdconf.latest() is None and rig.acd.cfg.default_queue == "service"


def test_the_saved_version_wins_over_the_toml_after_a_restart(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    build_test_set(prompts)
    cfg = tmp_path / "rexian.toml"
    cfg.write_text(
        f'[board]\nbackend = "sim"\nspec = "fxo:1,fxs:2"\nfar = "none"\nsocket = "{tmp_path}/run/b.sock"\n'
        f'[data]\ndir = "{tmp_path}/data"\n[prompts]\ndir = "{prompts}"\n'
        '[web]\nbind = "127.0.0.1"\nport = 0\nsecure_cookies = false\n'
        '[acd]\nwrapup = 3\n[[acd.queues]]\nname = "service"\nagents = ["1001"]\n'
        '[[acd.agents]]\nid = "1001"\nname = "李娜"\n', encoding="utf-8")
    svc = Service(load_config(cfg))
    svc.start()
    try:
        assert svc.acd is not None and [a.id for a in svc.acd.cfg.agents] == ["1001"]
        raw = acdedit.current()
        raw["agents"].append({"id": "1002", "name": "张强", "mode": "auto_answer"})
        raw["queues"][0]["agents"].append("1002")
        acdconf.save(Actor("root", "admin"), raw, "新建座席 1002")
    finally:
        svc.stop()
    svc = Service(load_config(cfg))
    svc.start()
    try:
        assert svc.acd is not None
        assert [a.id for a in svc.acd.cfg.agents] == ["1001", "1002"]
        assert svc.acd.cfg.queue("service").agents == ("1001", "1002")
        assert svc.acd.agent_info("1002")["state"] == "logged_out"
    finally:
        svc.stop()
