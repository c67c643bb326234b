"""A restart (power cut) restores agents with their states and closes the CDRs it cut as interrupted."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from appliance.acd.service import ACD
from appliance.crm import cdr, db
from appliance.voiceboard.prompts import PromptSet
from appliance.voiceboard.sim import SimulatedSite, exchange_hangup

from .conftest import SPEC, Harness, config, wait_for
from .phones import Phones, call_in


def test_restart_restores_agents_and_interrupts_open_calls(
        site: SimulatedSite, make_acd: Callable[..., Harness], test_prompts: PromptSet,
        tmp_path: Path) -> None:
    Phones(site, {5: 0.3})
    cfg = config(agents=4)
    h = make_acd(cfg)
    h.acd.login("1001", 3, ready=True)
    h.acd.login("1002", 4)
    h.acd.not_ready("1002", "lunch")
    h.acd.login("1004", 5, ready=True)
    h.acd.logout("1004")
    h.acd.not_ready("1001", "meeting")
    h.acd.login("1003", 5, ready=True)
    call_in(site, 1, "13800000010").get(timeout=20)         # 1003 takes it
    wait_for(lambda: h.acd.agent_info("1003")["state"] == "talking", 15, "1003 talking")
    call_in(site, 0, "13800000011").get(timeout=20)         # waits: nobody else is ready
    wait_for(lambda: h.acd.queue_stats("service")["waiting"] == 1, 5, "the caller queued")
    assert h.acd.flush()
    # the power goes: what is on disk at this instant is what the next start finds
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    assert db.backup_to(crashed / db.DB_FILENAME).ok
    open_ids = [r.call_id for r in cdr.recent_calls(5) if r.ended_at is None]
    assert len(open_ids) == 2
    exchange_hangup(h.exchange(0), "busy")
    exchange_hangup(h.exchange(1), "busy")
    h.stop()
    db.close_db()

    db.init_db(crashed)
    with SimulatedSite(SPEC, name="acd2") as site2:
        phones2 = Phones(site2, {3: 0.3, 5: 0.3})
        acd2 = ACD(site2.board, test_prompts, cfg)
        site2.board.call_handler = acd2.handle
        acd2.start()
        try:
            infos = {a: acd2.agent_info(a) for a in ("1001", "1002", "1003", "1004")}
            states = {a: (i["state"], i["reason"], i["station"]) for a, i in infos.items()}
            assert states == {"1001": ("not_ready", "meeting", 3), "1002": ("not_ready", "lunch", 4),
                              "1003": ("wrap_up", "", 5), "1004": ("logged_out", "", None)}, \
                "agents come back as they were; the one whose call was cut in wrap-up"
            for call_id in open_ids:
                rec = cdr.get_call(call_id)
                assert rec is not None and rec.disposition == "interrupted" and rec.ended_at is not None
            wait_for(lambda: acd2.agent_info("1003")["state"] == "ready", 5, "wrap-up over")
            # the restored agent takes calls on its station again
            acd2.ready("1001")
            call_in(site2, 1, "13800000012").get(timeout=20)
            wait_for(lambda: "talking" in (acd2.agent_info(a)["state"] for a in ("1001", "1003")),
                     15, "a restored agent answers")
            assert phones2.ports_rung()[0] in (3, 5)
            exchange_hangup(site2.far.channels[1], "busy")
            wait_for(lambda: acd2.agent_info("1001")["state"] != "talking", 5, "call over")
        finally:
            acd2.stop()
