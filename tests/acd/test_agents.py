"""The agent commands and stats the web layer calls, and the events it listens to."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from appliance.acd.service import AcdError
from appliance.crm import cdr
from appliance.voiceboard.sim import SimulatedSite, exchange_hangup

from .conftest import Harness, config, wait_for
from .phones import Phones, call_in


def test_login_logout_ready_not_ready_and_refusals(site: SimulatedSite,
                                                   make_acd: Callable[..., Harness]) -> None:
    h = make_acd(config(agents=2))
    acd = h.acd
    with pytest.raises(AcdError, match="not a station"):
        acd.login("1001", 0)                     # port 0 is a trunk
    with pytest.raises(AcdError, match="unknown agent"):
        acd.login("9999", 3)
    with pytest.raises(AcdError, match="not logged in"):
        acd.ready("1001")
    acd.login("1001", 3)
    info = acd.agent_info("1001")
    assert (info["state"], info["station"], info["reason"]) == ("not_ready", 3, "login")
    with pytest.raises(AcdError, match="taken by agent 1001"):
        acd.login("1002", 3)
    with pytest.raises(AcdError, match="already logged in"):
        acd.login("1001", 4)
    acd.ready("1001")
    acd.not_ready("1001", "break")
    assert (acd.agent_info("1001")["state"], acd.agent_info("1001")["reason"]) == ("not_ready", "break")
    with pytest.raises(AcdError, match="not in wrap-up"):
        acd.end_wrapup("1001")
    acd.logout("1001")
    acd.login("1002", 3, ready=True)             # the station is free again
    stats = acd.queue_stats("service")
    assert stats["waiting"] == 0 and stats["agents"]["ready"] == 1 and stats["agents"]["logged_out"] == 1
    changes = [(d["agent"], d["old"], d["new"]) for n, d in h.events if n == "acd.agent.state"]
    assert changes == [("1001", "logged_out", "not_ready"), ("1001", "not_ready", "ready"),
                       ("1001", "ready", "not_ready"), ("1001", "not_ready", "logged_out"),
                       ("1002", "logged_out", "ready")]
    assert any(n == "acd.queue.stats" for n, _ in h.events)
    h.acd.flush()
    rows = {r.agent_id: r for r in cdr.load_agent_states()}
    assert (rows["1001"].state, rows["1002"].state, rows["1002"].station) == ("logged_out", "ready", 3)


def test_not_ready_during_a_call_takes_effect_after_wrapup(site: SimulatedSite,
                                                           make_acd: Callable[..., Harness]) -> None:
    phones = Phones(site, {3: 0.3})
    h = make_acd(config(agents=1, wrapup=1.0))
    h.acd.login("1001", 3, ready=True)
    call_in(site, 0, "13800000020").get(timeout=20)
    wait_for(lambda: h.acd.agent_info("1001")["state"] == "talking", 15, "answered")
    with pytest.raises(AcdError, match="in a call"):
        h.acd.logout("1001")
    h.acd.not_ready("1001", "paperwork")
    assert h.acd.agent_info("1001")["state"] == "talking", "a call is never cut by not-ready"
    call_in(site, 1, "13800000021").get(timeout=20)
    stats = [d for n, d in h.events if n == "acd.queue.stats"]
    wait_for(lambda: h.acd.queue_stats("service")["waiting"] == 1, 5, "second caller waiting")
    assert stats[-1]["waiting"] >= 0
    exchange_hangup(h.exchange(0), "busy")
    wait_for(lambda: h.acd.agent_info("1001")["state"] == "not_ready", 8, "not ready after the wrap-up")
    assert h.acd.agent_info("1001")["reason"] == "paperwork"
    assert len(phones.rang) == 1, "the waiting caller is not offered to a not-ready agent"
    assert h.acd.queue_stats("service")["longest_wait"] > 0
    exchange_hangup(h.exchange(1), "busy")
