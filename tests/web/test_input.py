"""Bad input never gives a 500 or a stack trace: a clear Chinese error instead."""

from __future__ import annotations

import pytest

from appliance.crm import workorder
from appliance.web.app import App

from .client import Client, Result
from .conftest import World, logged_in

SQL_META = ["created_at; DROP TABLE work_order--", "' OR 1=1 --", 'id"', "state)", "%27", "1 UNION SELECT 1"]


def clean_error(res: Result, status: int) -> str:
    assert res.status == status, (res.status, res.text[:300])
    text = res.text
    assert "Traceback" not in text and 'File "' not in text and "sqlite" not in text.lower()
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text)
    return text


@pytest.fixture
def lead(app: App, world: World) -> Client:
    return logged_in(app, "u-team_leader")


@pytest.mark.parametrize("value", SQL_META)
@pytest.mark.parametrize("param", ["sort", "dir", "state", "type", "team"])
def test_sql_meta_characters_in_sort_and_filter(lead: Client, param: str, value: str) -> None:
    for path in ("/orders", "/api/orders", "/orders/export.csv"):
        sep = "?"
        res = lead.get(f"{path}{sep}{param}={value.replace(' ', '%20').replace(';', '%3B')}")
        clean_error(res, 400)
    assert workorder.list_orders(workorder.technician("u-technician")) == []  # the table is still there


def test_sql_meta_in_search_is_matched_literally(app: App, world: World) -> None:
    c = logged_in(app, "u-agent")
    for q in ("' OR 1=1 --", "王%", '"NEAR*', "a_b"):
        res = c.get("/api/customers?q=" + q.replace(" ", "%20").replace("%", "%25"))
        assert res.status == 200 and res.json()["customers"] == []
    res = c.get("/api/customers?q=")
    assert "不能为空" in clean_error(res, 400)


@pytest.mark.parametrize(
    "path",
    [
        "/static/../crm/db.py",
        "/static/..%2f..%2fservice.py",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static//etc/passwd",
        "/static/..\\app.py",
        "/static/app.css%00.js",
        "/static/../../../../etc/passwd",
        "/static/routes.py",
        "/static/",
    ],
)
def test_path_traversal_on_static_files(client: Client, world: World, path: str) -> None:
    res = client.get(path)
    assert res.status == 404, (path, res.status)
    assert "root:" not in res.text and "import" not in res.text
    assert client.get("/static/app.css").status == 200


def test_oversize_body(app: App, world: World) -> None:
    c = logged_in(app, "u-agent")
    big = {"type": "repair", "title": "x", "description": "漏" * 40000}
    text = clean_error(c.post_json("/api/orders", big), 413)
    assert "过大" in text
    res = c.post("/orders/1/act", {"action": "close", "note": "x" * 100000})
    clean_error(res, 413)


def test_invalid_utf8_in_form_and_json(app: App, world: World) -> None:
    c = logged_in(app, "u-agent")
    res = c.request(
        "POST", "/api/orders", b'{"title": "\xff\xfe"}', "application/json", headers={"X-CSRF-Token": c.csrf}
    )
    assert "UTF-8" in clean_error(res, 400)
    res = c.request(
        "POST",
        "/orders/1/act",
        b"action=close&note=%ff%fe&csrf=" + c.csrf.encode(),
        "application/x-www-form-urlencoded",
    )
    assert "UTF-8" in clean_error(res, 400)
    res = c.request(
        "POST",
        "/orders/1/act",
        b"action=close&note=\xff&csrf=" + c.csrf.encode(),
        "application/x-www-form-urlencoded",
    )
    clean_error(res, 400)
    res = c.get("/api/customers?q=%ff")
    assert "UTF-8" in clean_error(res, 400)
    res = c.request("POST", "/api/orders", b"{not json", "application/json", headers={"X-CSRF-Token": c.csrf})
    assert "JSON" in clean_error(res, 400)
    res = c.post_json("/api/orders", ["a list"])
    clean_error(res, 400)
    res = c.post_json("/api/orders", {"title": {"nested": 1}})
    clean_error(res, 400)
    res = c.post_json("/api/orders", {"type": "nonsense", "title": "x"})
    assert "工单类型无效" in clean_error(res, 400)
    res = c.post_json("/api/orders", {"type": "repair", "title": "x\x00y"})
    clean_error(res, 400)


def test_unknown_pages_and_ids(app: App, world: World) -> None:
    c = logged_in(app, "u-agent")
    assert "不存在" in clean_error(c.get("/no/such/page"), 404)
    assert clean_error(c.get("/api/nothing"), 404)
    assert "不存在" in clean_error(c.get("/orders/999999"), 404)
    assert clean_error(c.get("/orders/abc"), 404)
    assert clean_error(c.post_json("/api/orders/999999/actions", {"action": "close"}), 404)
    assert "操作无效" in clean_error(c.post_json("/api/orders/1/actions", {"action": "drop"}), 400)
    assert clean_error(c.request("PUT", "/orders"), 405)


def test_technician_cannot_see_other_teams_orders(app: App, world: World) -> None:
    agent = logged_in(app, "u-agent")
    order = agent.post_json("/api/orders", {"type": "repair", "title": "燃气表不走"}).json()["order"]
    tech = logged_in(app, "u-technician")
    assert "不属于您的班组" in clean_error(tech.get(f"/orders/{order['id']}"), 403)
    assert tech.get("/api/orders").json()["orders"] == []
