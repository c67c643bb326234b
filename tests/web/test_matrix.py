"""Route x role matrix, generated from the route table: a new route cannot be forgotten."""

from __future__ import annotations

import pytest

import appliance.web.app  # noqa: F401
from appliance.crm import users
from appliance.web import api, pages, tech  # noqa: F401  (register the routes)
from appliance.web.app import App
from appliance.web.routes import PERMISSIONS, PUBLIC, ROUTES, route

from .client import Client
from .conftest import World, logged_in

PROTECTED = [r for r in ROUTES if r.perm != PUBLIC]


def test_every_route_declares_a_known_permission() -> None:
    assert ROUTES and all(r.perm in PERMISSIONS for r in ROUTES)
    with pytest.raises(TypeError):
        route("GET", "/nope")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="unknown permission"):
        route("GET", "/nope", perm="everyone")


def test_public_routes_are_only_login_setup_static() -> None:
    assert {r.path for r in ROUTES if r.perm == PUBLIC} == {"/login", "/setup", "/static/<name:path>"}


def test_matrix_refuses_every_role_lacking_the_permission(app: App, world: World) -> None:
    clients = {role: logged_in(app, "admin" if role == "admin" else f"u-{role}") for role in users.ROLES}
    anonymous = Client(app)
    checked = 0
    for r in PROTECTED:
        path = r.example_path()
        res = anonymous.request(
            r.method, path, b"{}" if r.write else b"", "application/json" if r.write else ""
        )
        if r.api:
            assert res.status == 401, (r.path, res.status)
            assert res.json()["error"] == "请先登录"
        else:
            assert res.status == 303 and res.header("Location").startswith("/login"), (r.path, res.status)
        for role, c in clients.items():
            if role in PERMISSIONS[r.perm]:
                continue
            if r.write:
                res = c.post_json(path, {})
            else:
                res = c.get(path)
            assert res.status == 403, (r.method, r.path, role, res.status)
            assert "权限" in res.text
            checked += 1
    assert checked > 50


def test_allowed_roles_are_not_refused(app: App, world: World) -> None:
    """Each GET page a role holds answers that role with something other than 403."""
    for role in users.ROLES:
        c = logged_in(app, "admin" if role == "admin" else f"u-{role}")
        for r in ROUTES:
            if r.write or r.perm == PUBLIC or role not in PERMISSIONS[r.perm] or r.path == "/api/events":
                continue
            res = c.get(r.example_path())
            assert res.status != 403 and res.status < 500, (r.path, role, res.status, res.text[:200])
