"""First boot, login, logout, throttling, CSRF, cookies, audit, allow-list."""

from __future__ import annotations

from appliance.crm import audit, users
from appliance.web.app import App, build_app
from appliance.web.config import WebConfig, parse_web

from .client import Client
from .conftest import PASSWORD, World, logged_in


def test_first_boot_every_page_goes_to_setup_then_setup_is_gone(client: Client) -> None:
    for path in ("/", "/desk", "/login", "/admin/users", "/orders"):
        res = client.get(path)
        assert res.status == 303 and res.header("Location") == "/setup", path
    assert client.get("/api/me").status == 503
    page = client.get("/setup")
    assert page.status == 200 and "创建管理员" in page.text
    bad = client.post("/setup", {"username": "admin", "password": "short", "password2": "short"})
    assert bad.status == 400 and "密码太短" in bad.text
    res = client.post("/setup", {"username": "admin", "password": PASSWORD, "password2": PASSWORD})
    assert res.status == 303 and res.header("Location").startswith("/login")
    assert users.needs_setup() is False
    assert client.get("/setup").status == 404
    again = client.post("/setup", {"username": "evil", "password": PASSWORD, "password2": PASSWORD})
    assert again.status == 404 and users.get_user("evil") is None
    assert client.login("admin", PASSWORD).status == 303
    assert client.get("/").header("Location") == "/desk"
    assert any(r.action == "setup_admin" for r in audit.recent(10))


def test_setup_needs_the_form_token(client: Client) -> None:
    client.get("/setup")
    res = client.post(
        "/setup", {"username": "admin", "password": PASSWORD, "password2": PASSWORD, "csrf": "forged"}
    )
    assert res.status == 403 and "CSRF" in res.text
    assert users.needs_setup()


def test_login_cookie_flags_and_logout(app: App, world: World) -> None:
    c = Client(app)
    c.get("/login")
    res = c.post("/login", {"username": "u-agent", "password": PASSWORD, "next": "/orders"})
    assert res.status == 303 and res.header("Location") == "/orders"
    cookie = next(v for v in res.cookies() if v.startswith("rexian_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    c.csrf = c.get("/api/me").json()["csrf"]
    assert c.get("/desk").status == 200
    assert c.post("/logout", {}).status == 303
    assert c.get("/desk").status == 303
    secure = Client(build_app(WebConfig(secure_cookies=True)))
    secure.get("/login")
    res = secure.post("/login", {"username": "u-agent", "password": PASSWORD})
    assert any("Secure" in v for v in res.cookies() if v.startswith("rexian_session="))
    actions = [r.action for r in audit.recent(20)]
    assert "login" in actions and "logout" in actions


def test_open_redirect_after_login_is_refused(app: App, world: World) -> None:
    c = Client(app)
    c.get("/login")
    res = c.post("/login", {"username": "u-agent", "password": PASSWORD, "next": "//evil.example/"})
    assert res.header("Location") == "/"


def test_login_throttling_is_shown_in_chinese(app: App, world: World) -> None:
    c = Client(app)
    c.get("/login")
    for _ in range(users.FREE_FAILURES - 1):
        res = c.post("/login", {"username": "u-agent", "password": "wrong-password"})
        assert res.status == 400 and "用户名或密码错误" in res.text
    res = c.post("/login", {"username": "u-agent", "password": "wrong-password"})
    assert "秒后再试" in res.text
    res = c.post("/login", {"username": "u-agent", "password": PASSWORD})
    assert res.status == 429 and "登录失败次数过多" in res.text and "秒后再试" in res.text
    assert "rexian_session" not in c.cookies
    assert any(r.action == "login_failed" for r in audit.recent(10))


def test_disabled_user_loses_session(app: App, world: World) -> None:
    admin = logged_in(app, "admin")
    agent = logged_in(app, "u-agent")
    assert agent.get("/desk").status == 200
    res = admin.post("/admin/users/disable", {"username": "u-agent", "disabled": "1"})
    assert res.status == 303
    assert agent.get("/desk").status == 303
    again = Client(app)
    again.get("/login")
    assert "已停用" in again.post("/login", {"username": "u-agent", "password": PASSWORD}).text
    assert admin.post("/admin/users/disable", {"username": "admin", "disabled": "1"}).status == 400


def test_csrf_missing_or_wrong_is_refused(app: App, world: World) -> None:
    c = logged_in(app, "u-agent")
    body = {"type": "repair", "title": "漏气"}
    for headers in ({}, {"X-CSRF-Token": "wrong"}):
        res = c.post_json("/api/orders", body, csrf=False, headers=headers)
        assert res.status == 403 and "CSRF" in res.json()["error"]
    admin = logged_in(app, "admin")
    res = admin.post("/admin/teams", {"name": "新班组", "csrf": ""})
    assert res.status == 403 and "安全令牌" in res.text
    assert c.post_json("/api/orders", body).status == 201


def test_admin_creates_disables_resets_users_with_audit(app: App, world: World) -> None:
    admin = logged_in(app, "admin")
    res = admin.post("/admin/users", {"username": "zhang.san", "password": PASSWORD, "role": "agent"})
    assert res.status == 303
    assert "zhang.san" in admin.get("/admin/users").text
    res = admin.post("/admin/users", {"username": "zhang.san", "password": PASSWORD, "role": "agent"})
    assert res.status == 400 and "用户名已存在" in res.text
    assert admin.post("/admin/users/password", {"username": "zhang.san", "password": "short"}).status == 400
    assert (
        admin.post("/admin/users/password", {"username": "zhang.san", "password": "Another-pass-9"}).status
        == 303
    )
    assert logged_in(app, "admin").get("/admin/users").status == 200
    z = Client(app)
    assert z.login("zhang.san", "Another-pass-9").status == 303
    actions = {r.action for r in audit.recent(30)}
    assert {"user_create", "user_password_reset"} <= actions


def test_ip_allow_list(app: App, world: World) -> None:
    outsider = Client(app, remote="203.0.113.9")
    res = outsider.get("/login")
    assert res.status == 403 and "不在允许访问的范围内" in res.text
    assert Client(app, remote="192.168.1.20").get("/login").status == 200
    narrow = Client(
        build_app(parse_web({"allow": ["10.1.0.0/16"], "secure_cookies": False})), remote="192.168.1.20"
    )
    assert narrow.get("/login").status == 403


def test_every_write_route_leaves_an_audit_entry(app: App, world: World) -> None:
    admin = logged_in(app, "admin")
    before = len(audit.recent(1000))
    assert admin.post("/admin/teams", {"name": "皇姑维修班"}).status == 303
    assert admin.post("/admin/users", {"username": "wang.wu", "password": PASSWORD, "role": "technician",
                                       "team_id": str(world.team.id)}).status == 303
    assert admin.post("/admin/users/disable", {"username": "wang.wu", "disabled": "1"}).status == 303
    assert admin.post("/admin/users/disable", {"username": "wang.wu", "disabled": "0"}).status == 303
    order = admin.post_json("/api/orders", {"type": "consultation", "title": "咨询开户"}).json()["order"]
    assert admin.post(f"/orders/{order['id']}/act", {"action": "answer", "final_answer": "带身份证到营业厅"}
                      ).status == 303
    assert admin.post(f"/orders/{order['id']}/act", {"action": "close"}).status == 303
    entries = audit.recent(1000)[: len(audit.recent(1000)) - before]
    actions = {r.action for r in entries}
    assert {"team_create", "user_create", "user_disable", "user_enable", "wo_register", "wo_answer",
            "wo_close"} <= actions, actions
    assert all(r.actor == "admin" for r in entries if r.action != "team_member")
