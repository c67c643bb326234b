"""The JSON API, the OpenAPI document, exports, SSE, the work-order flow through the API."""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
from pathlib import Path

import gevent

from appliance.crm import audit, callrec, cdr, events, kb, workorder
from appliance.crm.common import Actor
from appliance.web.app import App
from appliance.web.routes import ROUTES

from .conftest import World, logged_in


def test_openapi_lists_every_api_route_with_its_permission(app: App, world: World) -> None:
    doc = logged_in(app, "u-agent").get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for r in ROUTES:
        if r.api:
            op = doc["paths"][r.openapi_path()][r.method.lower()]
            assert op["x-permission"] == r.perm and op["summary"]
    assert "{oid}" in "".join(doc["paths"])


def test_work_order_flow_through_the_api_is_audited(app: App, world: World) -> None:
    team = world.team
    agent = logged_in(app, "u-agent")
    cust = world.customer
    res = agent.post_json(
        "/api/orders",
        {
            "type": "repair",
            "title": "厨房有燃气味",
            "customer_id": str(cust.id),
            "caller_phone": "13812345678",
            "team_id": str(team.id),
        },
    )
    assert res.status == 201
    order = res.json()["order"]
    assert order["state"] == "dispatched" and order["team"] == "铁西维修一班"
    record = agent.get(f"/api/customers/{cust.id}").json()
    assert [o["serial"] for o in record["open_orders"]] == [order["serial"]]
    tech = logged_in(app, "u-technician")
    assert tech.get("/api/orders").json()["orders"][0]["serial"] == order["serial"]
    detail = tech.get(f"/api/orders/{order['id']}").json()
    assert set(detail["actions"]) >= {"accept", "reply", "transfer"}
    assert (
        tech.post_json(
            f"/api/orders/{order['id']}/actions", {"action": "reply", "note": "已关阀修复"}
        ).json()["order"]["state"]
        == "replied"
    )
    refused = tech.post_json(f"/api/orders/{order['id']}/actions", {"action": "close"})
    assert refused.status == 400 and "不能关闭" in refused.json()["error"]
    assert (
        agent.post_json(
            f"/api/orders/{order['id']}/actions", {"action": "answer", "final_answer": "已修复"}
        ).status
        == 200
    )
    assert (
        agent.post_json(f"/api/orders/{order['id']}/actions", {"action": "close"}).json()["order"]["state"]
        == "closed"
    )
    entries = [r for r in audit.recent(50) if r.target == f"wo:{order['serial']}"]
    assert {r.action for r in entries} >= {"wo_register", "wo_dispatch", "wo_reply", "wo_answer", "wo_close"}
    assert all(r.source == "web" for r in entries)
    assert {r.actor for r in entries} == {"u-agent", "u-technician"}


def test_order_pages_and_print(app: App, world: World) -> None:
    agent = logged_in(app, "u-agent")
    order = agent.post_json("/api/orders", {"type": "complaint", "title": "收费有误"}).json()["order"]
    page = agent.get(f"/orders/{order['id']}").text
    assert "收费有误" in page and 'id="act-dispatch"' in page and 'id="act-close"' not in page
    printed = agent.get(f"/orders/{order['id']}/print")
    assert printed.status == 200 and "客户签字" in printed.text and "<nav" not in printed.text
    listing = agent.get("/orders?state=registered&sort=due_at&dir=asc").text
    assert order["serial"] in listing
    assert order["serial"] not in agent.get("/orders?state=closed").text


def test_csv_and_xlsx_export(app: App, world: World) -> None:
    agent = logged_in(app, "u-agent")
    agent.post_json("/api/orders", {"type": "repair", "title": '=HYPERLINK("x")', "address": "铁西区"})
    agent.post_json("/api/orders", {"type": "consultation", "title": "缴费方式"})
    lead = logged_in(app, "u-team_leader")
    res = lead.get("/orders/export.csv?sort=serial&dir=asc")
    assert res.status == 200 and "attachment" in res.header("Content-Disposition")
    rows = list(csv.reader(io.StringIO(res.body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["工单号", "类型", "状态"] and len(rows) == 3
    assert rows[1][4] == '\'=HYPERLINK("x")' and rows[2][1] == "咨询"
    res = lead.get("/orders/export.xlsx?type=consultation")
    with zipfile.ZipFile(io.BytesIO(res.body)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        assert "xl/workbook.xml" in z.namelist()
    assert "缴费方式" in sheet and "HYPERLINK" not in sheet
    assert len(re.findall("<row ", sheet)) == 2
    assert agent.get("/orders/export.csv").status == 403


def test_kb_search_beside_the_desk(app: App, world: World) -> None:
    kb.create_article(Actor("admin", "admin"), "燃气费缴纳方式", "可在营业厅或微信缴费", keywords="缴费")
    agent = logged_in(app, "u-agent")
    arts = agent.get("/api/kb?q=缴费").json()["articles"]
    assert arts and arts[0]["title"] == "燃气费缴纳方式"
    assert agent.get(f"/api/kb/{arts[0]['id']}").json()["article"]["views"] == 1
    desk = agent.get("/desk").text
    assert 'id="kb-q"' in desk and 'id="incoming"' in desk and "F2" in desk


def test_sse_stream_delivers_call_offered(app: App, world: World) -> None:
    agent = logged_in(app, "u-agent")
    before = events.subscriber_count()
    got: list[bytes] = []

    def reader() -> None:
        res = agent.get("/api/events", stream_items=2)
        got.append(res.body)
        assert res.header("Content-Type").startswith("text/event-stream")

    g = gevent.spawn(reader)
    with gevent.Timeout(2):
        while events.subscriber_count() == before:
            gevent.sleep(0.005)
    assert events.publish("call.offered", {"caller": "13812345678"}) >= 1
    g.join(timeout=2)
    assert got and b"event: call.offered" in got[0] and b"13812345678" in got[0]
    assert events.subscriber_count() == before  # the stream's subscription ended with it


def test_desk_search_by_phone_name_address_account(app: App, world: World) -> None:
    agent = logged_in(app, "u-agent")
    for q in ("13812345678", "王伟东", "王伟", "建设大路", "100200300"):
        hits = agent.get("/api/customers?q=" + q).json()["customers"]
        assert [h["name"] for h in hits] == ["王伟东"], q
    found = agent.get("/api/customers/lookup?phone=+86%20138-1234-5678").json()["customers"]
    assert [c["name"] for c in found] == ["王伟东"]
    assert agent.get("/api/customers/lookup?phone=abc").json()["customers"] == []
    record = agent.get(f"/api/customers/{world.customer.id}").json()
    assert record["customer"]["address"] == "铁西区建设大路10号" and record["history"]["tickets"] == []


def test_record_lists_the_callers_calls_and_only_leaders_get_the_recording_links(
        app: App, world: World, data_dir: Path) -> None:
    at = time.time() - 600
    cdr.open_call("c-77", "013812345678", "9556", "service", 0, at)     # trunk prefix 0
    cdr.update_call("c-77", {"agent": "1001", "disposition": "answered", "talk_s": 42.0, "survey": 5,
                             "ended_at": at + 60})
    rid = callrec.open_recording("c-77", "1001", "013812345678", callrec.new_path("c-77", 1, at), at, "acd")
    record = logged_in(app, "u-agent").get(f"/api/customers/{world.customer.id}").json()
    [call] = record["history"]["calls"]
    assert (call["call_id"], call["agent"], call["disposition_name"], call["survey"]) == (
        "c-77", "1001", "已接通", 5)
    assert call["recordings"] == [rid] and record["can_listen"] is False
    assert logged_in(app, "u-team_leader").get(f"/api/customers/{world.customer.id}").json()["can_listen"]


def test_a_technician_hears_only_his_teams_ticket_events(app: App, world: World) -> None:
    other = workorder.create_team(Actor("admin", "admin"), "铁西维修二班")
    tech = logged_in(app, "u-technician")              # member of world.team
    before = events.subscriber_count()
    got: list[bytes] = []

    def reader() -> None:
        got.append(tech.get("/api/events", stream_items=3).body)   # hello + 2 events

    g = gevent.spawn(reader)
    with gevent.Timeout(2):
        while events.subscriber_count() == before:
            gevent.sleep(0.005)
    events.publish("call.offered", {"caller": "13812345678"})               # not his business
    events.publish("acd.agent.state", {"agent": "1001", "new": "ready"})
    events.publish("ticket.escalated", {"serial": "202612020001", "team_id": other.id})
    events.publish("ticket.reminder", {"serial": "202612020002", "team_id": world.team.id})
    events.publish("ticket.escalated", {"serial": "202612020003", "team_id": world.team.id})
    g.join(timeout=2)
    body = got[0].decode()
    assert "202612020002" in body and "202612020003" in body
    assert "13812345678" not in body and "acd." not in body and "202612020001" not in body
