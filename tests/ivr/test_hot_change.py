"""Activating a new flow version during 20 calls: none is dropped, they finish on their version,
new calls use the new one."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import gevent

from appliance.voiceboard.prompts import PromptSet

from .caller import Caller, make_site

CALLS = 20


def version(greeting: str, menu: str, ending: list[str]) -> dict[str, Any]:
    return {"id": "default", "version": 0, "start": "hello", "nodes": {
        "hello": {"type": "play", "prompts": [greeting], "next": "ask"},
        "ask": {"type": "menu", "prompt": menu, "options": {"1": "end"}, "timeout": 10, "retries": 3,
                "on_fail": "end"},
        "end": {"type": "hangup", "prompts": ending},
    }}


def test_flow_change_during_twenty_calls(test_prompts: PromptSet, data_dir: Path) -> None:
    site = make_site(test_prompts, data_dir, f"fxo:{CALLS + 2},fxs:1", _dt.datetime(2026, 12, 2, 10, 0))
    try:
        rt = site.runtime
        v_old, problems = rt.save(version("welcome", "menu", ["thanks", "goodbye"]))
        assert not problems
        rt.activate(v_old)
        v_new, problems = rt.save(version("hold", "main_menu", ["goodbye"]))
        assert not problems
        callers = [site.caller(i) for i in range(CALLS)]

        def into_menu(c: Caller) -> None:
            c.call()
            c.expect("welcome", "menu", timeout=30)

        jobs = [gevent.spawn(into_menu, c) for c in callers]
        gevent.joinall(jobs, raise_error=True, timeout=60)
        assert all(j.successful() for j in jobs)
        assert len(rt.active_calls) == CALLS
        rt.activate(v_new)                                      # the hot change
        assert {call.flow.label for call in rt.active_calls.values()} == {f"default@v{v_old}"}

        def finish(c: Caller) -> None:
            c.press("1")
            c.expect("thanks", "goodbye", timeout=20)           # the old version's ending
            c.wait_ended()

        jobs = [gevent.spawn(finish, c) for c in callers]
        gevent.joinall(jobs, raise_error=True, timeout=60)
        assert all(j.successful() for j in jobs)
        old = [r for r in rt.results if r.flow == f"default@v{v_old}"]
        assert len(old) == CALLS and all(r.outcome == "hangup" and r.ended_at == "end" for r in old)
        for c in (site.caller(CALLS), site.caller(CALLS + 1)):  # new calls: the new version
            c.call()
            c.expect("hold", "main_menu")
            c.press("1")
            c.expect("goodbye")
            c.wait_ended()
            assert "welcome" not in c.heard()
        assert [r.flow for r in list(rt.results)[-2:]] == [f"default@v{v_new}"] * 2
    finally:
        site.stop()
