"""Work-order time limits at work: the running watch reminds at 80 % of the limit and escalates past
it, once each, with a step, an audit entry, an event for the pages (with the order's team) and the
notification hook; a failing check does not stop the watch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest

from appliance.crm import audit, common, deadline, events, workorder
from appliance.crm.common import Actor
from appliance.crm.workorder import WorkOrder

AGENT = Actor("alice", "agent")
ADMIN = Actor("root", "admin")
START = dt.datetime(2026, 12, 2, 1, 30, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


@pytest.fixture
def clock(data_dir: Path) -> Iterator[Clock]:
    c = Clock()
    common.set_clock(c)
    yield c
    common.set_clock(None)


def _topics(sub: events.Subscription) -> list[tuple[str, str, object]]:
    out = []
    while (ev := sub.get(timeout=0)) is not None:
        out.append((ev.topic, str(ev.data["serial"]), ev.data["team_id"]))
    return out


def test_reminder_at_80_percent_then_escalation_once_each(clock: Clock) -> None:
    team = workorder.create_team(ADMIN, "大东维修班", "赵刚", "13900001111")
    gas = workorder.register(AGENT, "emergency", "闻到燃气味")            # 60 min
    gas = workorder.dispatch(AGENT, gas.id, team.id)
    leak = workorder.register(AGENT, "repair", "水表漏水")                # 24 h
    done = workorder.register(AGENT, "consultation", "缴费方式")
    workorder.answer_and_close(AGENT, done.id, "营业厅或微信")
    told: list[tuple[str, WorkOrder]] = []
    watch = deadline.DeadlineWatch(notify=lambda topic, order: told.append((topic, order)))
    sub = events.subscribe("ticket.")
    try:
        clock.advance(minutes=47)
        assert watch.check() == ([], [])                       # 47 of 60 minutes: not yet
        clock.advance(minutes=2)                               # 49 min > 80 % of 60
        reminded, escalated = watch.check()
        assert [o.serial for o in reminded] == [gas.serial] and escalated == []
        assert _topics(sub) == [("ticket.reminder", gas.serial, team.id)]
        assert watch.check() == ([], [])                       # once only
        step = workorder.steps(AGENT, gas.id)[-1]
        assert (step.action, step.actor) == ("remind", "system") and "即将超时" in step.note

        clock.advance(minutes=12)                              # 61 min: past the limit
        reminded, escalated = watch.check()
        assert reminded == [] and [o.serial for o in escalated] == [gas.serial]
        assert _topics(sub) == [("ticket.escalated", gas.serial, team.id)]
        assert watch.check() == ([], [])

        clock.advance(hours=19)                                # the repair: 20 h of 24, never the closed one
        reminded, _ = watch.check()
        assert [o.serial for o in reminded] == [leak.serial]
        assert [(t, o.serial) for t, o in told] == [
            ("ticket.reminder", gas.serial), ("ticket.escalated", gas.serial),
            ("ticket.reminder", leak.serial)]
        actions = [e.action for e in audit.recent(30)]
        assert actions.count("wo_remind") == 2 and actions.count("wo_escalate") == 1
    finally:
        events.unsubscribe(sub)


def test_the_running_watch_survives_a_failing_check(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deadline, "CHECK_INTERVAL", 0.02)
    real = workorder.remind_due
    calls = {"n": 0}

    def flaky(share: float) -> list[WorkOrder]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk I/O error")
        return real(share)

    monkeypatch.setattr(workorder, "remind_due", flaky)
    gas = workorder.register(AGENT, "emergency", "闻到燃气味")
    clock.advance(minutes=70)
    sub = events.subscribe("ticket.")
    watch = deadline.DeadlineWatch()
    watch.start()
    try:
        with gevent.Timeout(5, AssertionError("the watch never escalated after the failed check")):
            while (ev := sub.get(timeout=1)) is None or ev.topic != "ticket.escalated":
                pass
        assert ev.data["serial"] == gas.serial and calls["n"] >= 2
    finally:
        watch.stop()
        events.unsubscribe(sub)
    assert not watch.group, "stop leaves no greenlet behind"
