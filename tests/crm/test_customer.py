"""Customers: phones in any format find the caller, Chinese search (2- and 3-character names,
addresses), PIN self-service with attempt counting, audit of every write, bad input refused."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gevent
import pytest

from appliance.crm import audit, customer, db, demo, workorder
from appliance.crm.common import Actor, CrmError, InvalidInput, NotFound

AGENT = Actor("alice", "agent")


def _make(
    account: str,
    name: str,
    *,
    phones: tuple[object, ...] = (),
    address: str = "",
    region: str = "",
    **fields: Any,
) -> customer.Customer:
    return customer.create_customer(
        AGENT, account, name, phones=phones, address=address, region=region, **fields
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("+86 138-1234-5678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("013812345678", "13812345678"),  # trunk prefix of a mobile from another city
        ("138 1234 5678", "13812345678"),
        ("(024) 2345-6789", "02423456789"),
        ("+86 24 2345 6789", "02423456789"),
        ("+86 10 6552 1234", "01065521234"),
        ("23456789", "23456789"),  # local number without area code
        ("95598", "95598"),
    ],
)
def test_normalize_phone(raw: str, expected: str) -> None:
    assert customer.normalize_phone(raw) == expected


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("", "为空"),
        ("138abc45678", "只能包含数字"),
        ("1381234567", "11位"),
        ("12012345678", "手机号码无效"),
        ("1234", "位数不对"),
        ("+1 415 555 0100", "境外"),
        ("1" * 40, "过长"),
        ("'; DROP TABLE customer; --", "只能包含数字"),
    ],
)
def test_invalid_phone_is_refused_with_a_reason(data_dir: Path, raw: str, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        customer.normalize_phone(raw)
    with pytest.raises(InvalidInput, match=needle):
        customer.find_by_phone(raw)
    with pytest.raises(InvalidInput):
        _make("A1", "王伟", phones=(raw,))
    assert db.execute("SELECT count(*) FROM customer") == [(0,)]


def test_lookup_by_any_phone_format(data_dir: Path) -> None:
    wang = _make("100001", "王伟", phones=("138-1234-5678", ("024-2345 6789", "home")))
    _make("100002", "李娜", phones=("13900001111",))
    for typed in ("13812345678", "+86 138 1234 5678", "0086-138-1234-5678", "013812345678", "(024)23456789"):
        found = customer.find_by_phone(typed)
        assert [c.account_no for c in found] == ["100001"], typed
    assert customer.find_by_phone("13700000000") == []
    assert {(p.number, p.raw, p.kind) for p in wang.phones} == {
        ("13812345678", "138-1234-5678", ""),
        ("02423456789", "024-2345 6789", "home"),
    }
    # the lookup is an index probe, not a scan
    plan = " ".join(
        str(r)
        for r in db.execute(
            "EXPLAIN QUERY PLAN SELECT customer_id FROM customer_phone WHERE number = ?", ["13812345678"]
        )
    )
    assert "customer_phone_number" in plan


def test_shared_phone_finds_every_household(data_dir: Path) -> None:
    _make("100001", "王伟", phones=("13812345678",))
    _make("100002", "王芳", phones=("+8613812345678",))
    assert [c.name for c in customer.find_by_phone("138 1234 5678")] == ["王伟", "王芳"]


def test_two_and_three_character_name_search(data_dir: Path) -> None:
    for i, name in enumerate(("王伟", "王伟东", "张伟东", "欧阳娜娜", "李娜", "王芳")):
        _make(f"A{i}", name)
    names = lambda q: [h.name for h in customer.search(q, field="name")]  # noqa: E731
    assert names("王伟")[0] == "王伟"  # exact 2-character name first
    assert set(names("王伟")) == {"王伟", "王伟东"}
    assert set(names("伟东")) == {"王伟东", "张伟东"}  # a 2-character part after the surname
    assert set(names("娜娜")) == {"欧阳娜娜"}
    assert set(names("王")) == {"王伟", "王伟东", "王芳"}  # 1 character: a surname search
    assert names("王伟东") == ["王伟东"]  # 3+: trigram
    assert names("欧阳娜") == ["欧阳娜娜"]
    assert names("赵") == [] and names("赵钱孙") == []


def test_rename_moves_the_search_entries(data_dir: Path) -> None:
    c = _make("A1", "王伟东")
    customer.update_customer(AGENT, c.id, name="刘德华")
    assert customer.search("伟东", field="name") == []
    assert customer.search("王伟东") == []
    assert [h.name for h in customer.search("德华", field="name")] == ["刘德华"]
    assert [h.name for h in customer.search("刘德华")] == ["刘德华"]


def test_address_and_account_search(data_dir: Path) -> None:
    _make("00012345", "王伟", address="沈阳市和平区南京北街12号阳光小区3栋2单元501室", region="和平区")
    _make("00012399", "李娜", address="沈阳市铁西区南京北街120号", region="铁西区")
    _make("00077777", "张强", address="沈阳市皇姑区北陵大街5号", region="皇姑区")
    addr = lambda q: sorted(h.name for h in customer.search(q, field="address"))  # noqa: E731
    assert addr("南京北街12号") == ["王伟"]
    assert addr("南京北街12") == ["李娜", "王伟"]
    assert addr("阳光小区") == ["王伟"]
    assert addr("铁西") == ["李娜"]  # 2 characters: the region
    assert [h.name for h in customer.search("000123")] == ["王伟", "李娜"]  # account prefix
    assert [h.name for h in customer.search("00077777", field="account")] == ["张强"]
    assert sorted(h.name for h in customer.search("北陵大街")) == ["张强"]  # field 'any'


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "'",
        "%",
        "_",
        "王%",
        "a' OR '1'='1",
        '" OR name:*',
        "NEAR(王伟)",
        "伟\\",
        "*",
        "--",
        "王伟; DROP TABLE customer",
        "^王",
        "{name}:王伟东",
    ],
)
def test_search_meta_characters_are_literal(data_dir: Path, query: str) -> None:
    _make("A1", "王伟东", address="沈阳市和平区南京北街12号")
    for field in ("any", "name", "address"):
        assert customer.search(query, field=field) == [], (query, field)
    assert db.execute("SELECT count(*) FROM customer") == [(1,)]


def test_search_refuses_empty_and_overlong_text(data_dir: Path) -> None:
    with pytest.raises(InvalidInput, match="不能为空"):
        customer.search("   ")
    with pytest.raises(InvalidInput, match="过长"):
        customer.search("王" * 65)
    with pytest.raises(InvalidInput, match="查询字段"):
        customer.search("王伟", field="password_hash")


def test_create_update_get_and_audit(data_dir: Path) -> None:
    c = _make(
        "100001",
        "王伟",
        phones=("13812345678",),
        address="沈阳市和平区南京北街12号",
        region="和平区",
        region_code="210102",
        gender="M",
        email="wang@example.cn",
        household_size=3,
        floor=5,
        meter_type="IC卡表",
        grade="vip",
        notes="独居老人\n注意安全",
        balance_fen=12345,
    )
    assert (c.grade_name, c.balance_fen, c.floor, c.notes) == ("VIP", 12345, 5, "独居老人\n注意安全")
    other = _make("100002", "王芳")
    updated = customer.update_customer(
        Actor("bob", "supervisor"),
        c.id,
        address="沈阳市沈河区青年大街1号",
        phones=["13900001111", "13812345678"],
        related=[(other.id, "配偶")],
    )
    assert updated.address == "沈阳市沈河区青年大街1号"
    assert [p.number for p in updated.phones] == ["13900001111", "13812345678"]
    assert updated.related == ((other.id, "配偶"),)
    assert customer.get_customer(other.id).related == ((c.id, "配偶"),)  # both ways
    assert customer.get_by_account("100001") == customer.get_customer(c.id)
    assert customer.get_by_account("999999") is None
    entries = audit.recent(10)
    change = next(e for e in entries if e.action == "customer_update")
    assert (change.actor, change.target) == ("bob", f"customer:{c.id}")
    assert change.details["address"] == {"old": "沈阳市和平区南京北街12号", "new": "沈阳市沈河区青年大街1号"}
    created = [e for e in entries if e.action == "customer_create"]
    assert [e.details["account_no"] for e in created] == ["100002", "100001"]


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"name": ""}, "姓名不能为空"),
        ({"name": "王" * 65}, "姓名过长"),
        ({"address": "路" * 201}, "地址过长"),
        ({"notes": "x" * 2001}, "备注过长"),
        ({"grade": "gold"}, "客户等级无效"),
        ({"gender": "X"}, "性别无效"),
        ({"household_size": -1}, "家庭人数超出范围"),
        ({"floor": "5"}, "楼层必须是整数"),
        ({"balance_fen": 1.5}, "余额"),
        ({"email": "not-an-email"}, "电子邮件地址无效"),
        ({"name": "王\x00伟"}, "控制字符"),
        ({"pin_hash": "x"}, "未知字段"),
    ],
)
def test_bad_fields_are_refused(data_dir: Path, fields: dict[str, object], needle: str) -> None:
    values: dict[str, object] = {"name": "王伟", **fields}
    with pytest.raises(InvalidInput, match=needle):
        customer.create_customer(AGENT, "100001", **values)  # type: ignore[arg-type]
    assert db.execute("SELECT count(*) FROM customer") == [(0,)]


def test_duplicate_account_and_bad_account(data_dir: Path) -> None:
    _make("100001", "王伟")
    with pytest.raises(InvalidInput, match="户号已存在"):
        _make("100001", "李娜")
    with pytest.raises(InvalidInput, match="户号无效"):
        _make("10 0001'", "李娜")
    with pytest.raises(NotFound, match="客户不存在"):
        customer.get_customer(999)
    with pytest.raises(NotFound, match="关联的客户不存在"):
        _make("100002", "李娜", related=[(999, "父子")])
    assert [c[0] for c in db.execute("SELECT account_no FROM customer")] == ["100001"]


def test_pin_balance_three_attempts_per_call(data_dir: Path) -> None:
    c = _make("100001", "王伟", pin="2468", balance_fen=-1250)
    assert c.has_pin
    assert "2468" not in str(db.execute("SELECT pin_hash FROM customer"))
    call = customer.PinSession()
    first = call.balance("100001", "1111")
    assert (first.ok, first.reason, first.attempts_left, first.end_call) == (
        False,
        "bad_credentials",
        2,
        False,
    )
    second = call.balance("999999", "2468")  # unknown account: the same answer
    assert (second.reason, second.attempts_left, second.end_call) == ("bad_credentials", 1, False)
    ok = call.balance("100001", "2468")
    assert (ok.ok, ok.balance_fen) == (True, -1250)
    third = call.balance("100001", "abcd")
    assert (third.reason, third.attempts_left, third.end_call) == ("bad_credentials", 0, True)
    assert call.balance("100001", "2468").reason == "ended"  # the IVR hangs up
    actions = [e.action for e in audit.recent(10)]
    assert actions.count("customer_pin_failed") == 2 and "customer_balance_query" in actions


def test_pin_lock_across_calls_and_no_pin(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(customer, "PIN_LOCK_FAILURES", 2)
    _make("100001", "王伟", pin="2468", balance_fen=100)
    _make("100002", "李娜")
    assert customer.PinSession().balance("100002", "1234").reason == "no_pin"
    customer.PinSession().balance("100001", "0000")
    customer.PinSession().balance("100001", "0001")
    locked = customer.PinSession().balance("100001", "2468")  # right PIN, but locked for a while
    assert (locked.ok, locked.reason, locked.end_call) == (False, "locked", True)
    c = customer.get_by_account("100001")
    assert c is not None
    customer.update_customer(AGENT, c.id, pin="13579")  # a new PIN lifts the lock
    assert customer.PinSession().balance("100001", "13579").balance_fen == 100
    change = next(e for e in audit.recent(5) if e.action == "customer_update")
    assert change.details == {"pin_changed": True}  # never the PIN or its hash
    with pytest.raises(InvalidInput, match="4～8位数字"):
        customer.create_customer(AGENT, "100003", "张强", pin="12")


def test_history_returns_tickets_and_calls(data_dir: Path) -> None:
    c = _make("100001", "王伟")
    assert customer.history(c.id) == {"calls": [], "messages": [], "surveys": [], "tickets": []}
    order = workorder.register(AGENT, "repair", "灶具打不着火", customer_id=c.id)
    history = customer.history(c.id)
    assert [(t["serial"], t["state_name"]) for t in history["tickets"]] == [(order.serial, "已登记")]
    with pytest.raises(NotFound):
        customer.history(999)


def test_demo_data_is_searchable_and_deterministic(data_dir: Path) -> None:
    summary = demo.generate(customers=300, articles=30, orders=8, seed=3)
    assert summary.customers == 300
    rows = db.execute("SELECT name, address FROM customer ORDER BY id LIMIT 5")
    assert all(name and address.startswith("沈阳市") for name, address in rows)
    some = customer.get_customer(7)
    assert customer.find_by_phone(some.phones[0].raw)[0].id == 7
    assert 7 in {h.id for h in customer.search(some.name, field="name", limit=200)}
    assert len(workorder.list_orders(AGENT)) == 8
    again = Path(str(data_dir) + "-again")
    db.init_db(again)
    demo.generate(customers=300, articles=0, orders=0, seed=3)
    assert db.execute("SELECT name, address FROM customer ORDER BY id LIMIT 5") == rows


def test_errors_are_value_errors_with_chinese_messages() -> None:
    assert issubclass(CrmError, ValueError)
    with pytest.raises(CrmError) as info:
        customer.normalize_phone("abc")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(info.value))


def test_crm_migration_is_applied_to_an_older_database(tmp_path: Path) -> None:
    older = db.MIGRATIONS[:db.MIGRATIONS.index(db._m004_crm)]
    db.init_db(tmp_path / "old", migrations=older)  # firmware before the CRM
    try:
        assert not db.execute("SELECT name FROM sqlite_master WHERE name = 'customer'")
        db.init_db(tmp_path / "old")
        assert db.user_version() == db.SCHEMA_VERSION
        _make("100001", "王伟", phones=("13812345678",))
        assert [c.name for c in customer.find_by_phone("13812345678")] == ["王伟"]
    finally:
        db.close_db()


def test_loading_demo_data_leaves_the_hub_running(data_dir: Path) -> None:
    gaps: list[float] = []

    def ticker() -> None:
        last = time.perf_counter()
        while True:
            gevent.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = gevent.spawn(ticker)
    try:
        demo.generate(customers=20_000, articles=2_000, orders=0, seed=1)
        assert [h.name for h in customer.search("王伟", field="name")][:1] == ["王伟"]
    finally:
        tick.kill()
    assert len(gaps) > 20 and max(gaps) < 0.1  # calls keep their 20 ms media ticks meanwhile
