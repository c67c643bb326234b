"""Work orders: the full flow with re-dispatch, the immediate close of a consultation, who and when
on every step, refused transitions, time limits and overdue with a test clock, technician scoping,
IVR status by serial, audit entries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.crm import audit, common, customer, db, workorder
from appliance.crm.common import Actor, InvalidInput, NotFound, PermissionDenied
from appliance.crm.workorder import InvalidTransition, State

AGENT = Actor("alice", "agent")
ADMIN = Actor("root", "admin")
START = dt.datetime(2026, 12, 2, 1, 30, tzinfo=dt.UTC)  # 09:30 in Beijing


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.at = start

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Iterator[Clock]:
    c = Clock(START)
    common.set_clock(c)
    yield c
    common.set_clock(None)


@pytest.fixture
def teams(data_dir: Path) -> tuple[workorder.Team, workorder.Team]:
    east = workorder.create_team(ADMIN, "大东维修班", "赵刚", "139-0000-1111")
    west = workorder.create_team(ADMIN, "铁西维修班", "钱明", "+86 13900002222")
    workorder.add_member(ADMIN, east.id, "li")
    workorder.add_member(ADMIN, west.id, "zhou")
    return east, west


def test_full_flow_with_redispatch_and_who_when(clock: Clock, teams: tuple[workorder.Team, ...]) -> None:
    east, west = teams
    assert east.leader_mobile == "13900001111" and workorder.get_team(west.id).leader_name == "钱明"
    li, zhou = workorder.technician("li"), workorder.technician("zhou")
    assert (li.team_id, zhou.team_id) == (east.id, west.id)
    c = customer.create_customer(AGENT, "100001", "王伟", phones=["13812345678"])
    order = workorder.register(
        AGENT,
        "repair",
        "灶具打不着火",
        customer_id=c.id,
        priority="high",
        caller_phone="+86 138 1234 5678",
        customer_type="residential",
        problem_type="灶具",
        address="沈阳市大东区大东路1号",
    )
    assert order.serial == "202612020001" and order.state is State.REGISTERED
    assert order.caller_phone == "13812345678" and order.due_at == "2026-12-03T01:30:00+00:00"
    clock.advance(minutes=5)
    workorder.dispatch(AGENT, order.id, east.id, "请尽快上门")
    clock.advance(minutes=30)
    workorder.accept(li, order.id, "已到现场核实")
    clock.advance(minutes=10)
    workorder.transfer(li, order.id, west.id, "不在本班组片区")  # technician hands it over
    with pytest.raises(PermissionDenied, match="不属于您的班组"):
        workorder.reply(li, order.id, "已修好")
    clock.advance(minutes=20)
    workorder.accept(zhou, order.id)
    workorder.reply(zhou, order.id, "更换点火针")
    clock.advance(minutes=5)
    workorder.redispatch(AGENT, order.id, east.id, "客户反映仍打不着")  # agent re-dispatches after a reply
    workorder.accept(li, order.id)
    workorder.reply(li, order.id, "更换电磁阀")
    workorder.resume(li, order.id, "回访发现仍有问题")
    workorder.reply(li, order.id, "已彻底修复")  # replies again
    clock.advance(minutes=15)
    workorder.answer(AGENT, order.id, "您家灶具已修复，谢谢来电")
    done = workorder.close(AGENT, order.id)
    assert done.state is State.CLOSED and done.final_answer == "您家灶具已修复，谢谢来电"
    assert done.closed_at == "2026-12-02T02:55:00+00:00"
    steps = workorder.steps(AGENT, order.id)
    assert [(s.action, s.from_state, s.to_state, s.actor) for s in steps] == [
        ("register", "", "registered", "alice"),
        ("dispatch", "registered", "dispatched", "alice"),
        ("accept", "dispatched", "processing", "li"),
        ("transfer", "processing", "dispatched", "li"),
        ("accept", "dispatched", "processing", "zhou"),
        ("reply", "processing", "replied", "zhou"),
        ("redispatch", "replied", "dispatched", "alice"),
        ("accept", "dispatched", "processing", "li"),
        ("reply", "processing", "replied", "li"),
        ("resume", "replied", "processing", "li"),
        ("reply", "processing", "replied", "li"),
        ("answer", "replied", "answered", "alice"),
        ("close", "answered", "closed", "alice"),
    ]
    assert [s.at[11:16] for s in steps][:4] == ["01:30", "01:35", "02:05", "02:15"]
    assert [s.team_id for s in steps][1:5] == [east.id, east.id, west.id, west.id]
    assert steps[5].note == "更换点火针"
    actions = [e.action for e in audit.recent(40) if e.target == f"wo:{order.serial}"]
    assert actions.count("wo_reply") == 3 and "wo_register" in actions and "wo_close" in actions
    assert workorder.status_by_serial(order.serial) == (6, "您的工单已办结")


def test_consultation_is_answered_and_closed_at_once(clock: Clock, data_dir: Path) -> None:
    order = workorder.register(AGENT, "consultation", "燃气价格咨询")
    done = workorder.answer_and_close(AGENT, order.id, "居民用气每立方米3.3元")
    assert done.state is State.CLOSED and done.final_answer == "居民用气每立方米3.3元"
    assert [s.action for s in workorder.steps(AGENT, order.id)] == ["register", "answer", "close"]
    suggestion = workorder.register(AGENT, "suggestion", "建议延长营业时间")
    assert workorder.answer(AGENT, suggestion.id, "已转交营业部").state is State.ANSWERED


def test_repair_cannot_be_closed_at_once(clock: Clock, data_dir: Path) -> None:
    order = workorder.register(AGENT, "emergency", "楼道有燃气味")
    with pytest.raises(InvalidTransition, match="抢险工单须派单处理"):
        workorder.answer_and_close(AGENT, order.id, "已解答")
    assert workorder.get_order(AGENT, order.id).state is State.REGISTERED
    assert [s.action for s in workorder.steps(AGENT, order.id)] == ["register"]


@pytest.mark.parametrize(
    ("steps", "action", "needle"),
    [
        ([], "close", "当前状态为“已登记”，不能关闭"),
        ([], "accept", "当前状态为“已登记”，不能接单核实"),
        (["dispatch"], "answer", "当前状态为“已派单”，不能答复"),
        (["dispatch"], "dispatch", "不能派单"),
        (["dispatch", "accept", "reply", "answer", "close"], "redispatch", "当前状态为“已关闭”，不能改派"),
        (["dispatch", "accept", "reply", "answer", "close"], "close", "不能关闭"),
        (["dispatch", "accept"], "resume", "当前状态为“处理中”，不能继续处理"),
    ],
)
def test_invalid_transitions_are_refused(
    clock: Clock, teams: tuple[workorder.Team, ...], steps: list[str], action: str, needle: str
) -> None:
    east, west = teams
    li = workorder.technician("li")
    order = workorder.register(AGENT, "repair", "暖气不热")
    do = {
        "dispatch": lambda: workorder.dispatch(AGENT, order.id, east.id),
        "redispatch": lambda: workorder.redispatch(AGENT, order.id, west.id),
        "accept": lambda: workorder.accept(li, order.id),
        "reply": lambda: workorder.reply(li, order.id, "已处理"),
        "resume": lambda: workorder.resume(li, order.id),
        "answer": lambda: workorder.answer(AGENT, order.id, "已答复"),
        "close": lambda: workorder.close(AGENT, order.id),
    }
    for step in steps:
        do[step]()
    before = workorder.get_order(AGENT, order.id)
    count = len(workorder.steps(AGENT, order.id))
    with pytest.raises(InvalidTransition, match=needle):
        do[action]()
    assert workorder.get_order(AGENT, order.id) == before
    assert len(workorder.steps(AGENT, order.id)) == count


def test_roles_are_checked(clock: Clock, teams: tuple[workorder.Team, ...]) -> None:
    east, _west = teams
    order = workorder.register(AGENT, "repair", "水表漏水")
    with pytest.raises(PermissionDenied, match="只有客服人员可以登记工单"):
        workorder.register(workorder.technician("li"), "repair", "x")
    with pytest.raises(PermissionDenied, match="只能由客服人员操作"):
        workorder.dispatch(workorder.technician("li"), order.id, east.id)
    workorder.dispatch(AGENT, order.id, east.id)
    with pytest.raises(PermissionDenied, match="只能由维修人员操作"):
        workorder.accept(AGENT, order.id)
    with pytest.raises(InvalidInput, match="改派的班组与当前班组相同"):
        workorder.redispatch(AGENT, order.id, east.id)
    with pytest.raises(NotFound, match="班组不存在"):
        workorder.redispatch(AGENT, order.id, 999)


def test_technician_sees_only_his_team(clock: Clock, teams: tuple[workorder.Team, ...]) -> None:
    east, west = teams
    li, zhou = workorder.technician("li"), workorder.technician("zhou")
    mine = workorder.register(AGENT, "repair", "大东区漏气")
    theirs = workorder.register(AGENT, "repair", "铁西区停暖")
    waiting = workorder.register(AGENT, "complaint", "服务态度")
    workorder.dispatch(AGENT, mine.id, east.id)
    workorder.dispatch(AGENT, theirs.id, west.id)
    assert [o.id for o in workorder.list_orders(li)] == [mine.id]
    assert [o.id for o in workorder.list_orders(zhou)] == [theirs.id]
    assert {o.id for o in workorder.list_orders(AGENT)} == {mine.id, theirs.id, waiting.id}
    assert workorder.list_orders(Actor("nobody", "technician")) == []  # in no team
    with pytest.raises(PermissionDenied, match="不属于您的班组"):
        workorder.get_order(li, theirs.id)
    with pytest.raises(PermissionDenied):
        workorder.get_by_serial(li, theirs.serial)
    with pytest.raises(PermissionDenied):
        workorder.steps(li, waiting.id)
    with pytest.raises(PermissionDenied):
        workorder.accept(li, theirs.id)
    assert workorder.get_by_serial(li, mine.serial).id == mine.id
    assert [o.id for o in workorder.list_orders(AGENT, state="registered")] == [waiting.id]


def test_overdue_and_escalation_with_a_test_clock(clock: Clock, teams: tuple[workorder.Team, ...]) -> None:
    east, _west = teams
    assert workorder.time_limits()["emergency"] == 60
    emergency = workorder.register(AGENT, "emergency", "闻到燃气味")
    repair = workorder.register(AGENT, "repair", "表不走字")
    consult = workorder.register(AGENT, "consultation", "缴费方式")
    workorder.set_time_limit(ADMIN, "repair", 120)  # only new orders get it
    repair2 = workorder.register(AGENT, "repair", "阀门漏气")
    clock.advance(minutes=59)
    assert workorder.overdue() == []
    clock.advance(minutes=2)
    assert [o.id for o in workorder.overdue()] == [emergency.id]
    workorder.dispatch(AGENT, emergency.id, east.id)  # dispatched is still open
    clock.advance(hours=1)
    assert [o.id for o in workorder.overdue()] == [emergency.id, repair2.id]
    flagged = workorder.escalate_overdue()
    assert [(o.id, o.escalated) for o in flagged] == [(emergency.id, True), (repair2.id, True)]
    assert workorder.escalate_overdue() == []  # once only
    assert workorder.steps(AGENT, emergency.id)[-1].action == "escalate"
    assert "wo_escalate" in {e.action for e in audit.recent(5)}
    workorder.answer_and_close(AGENT, consult.id, "可在营业厅或微信缴费")
    clock.advance(hours=30)
    assert [o.id for o in workorder.overdue()] == [emergency.id, repair2.id, repair.id]
    assert [o.id for o in workorder.overdue(at=START + dt.timedelta(minutes=30))] == []
    with pytest.raises(InvalidInput, match="时限"):
        workorder.set_time_limit(ADMIN, "repair", 0)
    with pytest.raises(InvalidInput, match="工单类型无效"):
        workorder.set_time_limit(ADMIN, "party", 10)


def test_serials_count_per_beijing_day(clock: Clock, data_dir: Path) -> None:
    first = workorder.register(AGENT, "consultation", "一")
    second = workorder.register(AGENT, "consultation", "二")
    clock.at = dt.datetime(2026, 12, 2, 16, 0, tzinfo=dt.UTC)  # 00:00 on 12-03 in Beijing
    third = workorder.register(AGENT, "consultation", "三")
    assert [first.serial, second.serial, third.serial] == ["202612020001", "202612020002", "202612030001"]


def test_ivr_status_by_serial(clock: Clock, teams: tuple[workorder.Team, ...]) -> None:
    east, _ = teams
    order = workorder.register(AGENT, "repair", "暖气漏水")
    assert workorder.status_by_serial(order.serial) == (1, "您的工单已受理，正在安排处理")
    workorder.dispatch(AGENT, order.id, east.id)
    code, sentence = workorder.status_by_serial(order.serial)
    assert code == 2 and "维修班组" in sentence
    for typed in ("202612029999", "123", "", "20261202000#", "'; --", "9" * 100):
        assert workorder.status_by_serial(typed) == workorder.STATUS_NOT_FOUND


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"kind": "party"}, "工单类型无效"),
        ({"title": ""}, "标题不能为空"),
        ({"title": "长" * 101}, "标题过长"),
        ({"priority": "asap"}, "优先级无效"),
        ({"caller_phone": "abc"}, "电话号码无效"),
        ({"customer_id": 999}, "客户不存在"),
        ({"description": "x" * 4001}, "内容过长"),
    ],
)
def test_bad_order_input(clock: Clock, data_dir: Path, kwargs: dict[str, object], needle: str) -> None:
    values: dict[str, object] = {"kind": "repair", "title": "灶具坏了", **kwargs}
    with pytest.raises((InvalidInput, NotFound), match=needle):
        workorder.register(AGENT, **values)  # type: ignore[arg-type]
    assert db.execute("SELECT count(*) FROM work_order") == [(0,)]


def test_reply_needs_text_and_unknown_order(clock: Clock, teams: tuple[workorder.Team, ...]) -> None:
    east, _ = teams
    order = workorder.register(AGENT, "repair", "管道漏水")
    workorder.dispatch(AGENT, order.id, east.id)
    with pytest.raises(InvalidInput, match="回复内容不能为空"):
        workorder.reply(workorder.technician("li"), order.id, "  ")
    with pytest.raises(NotFound, match="工单不存在"):
        workorder.close(AGENT, 12345)
    with pytest.raises(InvalidInput, match="班组已存在"):
        workorder.create_team(ADMIN, "大东维修班")
