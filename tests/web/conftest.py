"""Web test fixtures: a fresh database, the app (in-process WSGI), users of every role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from appliance.crm import customer, db, users, workorder
from appliance.crm.common import Actor
from appliance.web.app import App, build_app
from appliance.web.config import WebConfig
from appliance.web.server import WebServer

from .client import Client

# The first build of the app compiles Bottle's route regexes (tens of ms with ~60 routes; the service
# does it once at start, before the board takes calls). Done here at import, not inside a test,
# where the hub guard would count it as a block of the hub.
build_app(WebConfig(secure_cookies=False))

PASSWORD = "Zhongguo-2026!"
ADMIN = Actor("admin", "admin", None, "web")


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests create many users: a cheaper argon2 (the policy itself is tested in tests/crm)."""
    monkeypatch.setattr(users, "ARGON2_MEMORY_KIB", 1024)
    monkeypatch.setattr(users, "ARGON2_TIME_COST", 1)
    monkeypatch.setattr(users, "_dummy_hash", None)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "data"
    db.init_db(directory)
    yield directory
    db.close_db()


@pytest.fixture
def app(data_dir: Path) -> App:
    return build_app(WebConfig(secure_cookies=False))


@pytest.fixture
def client(app: App) -> Client:
    return Client(app)


@dataclass(frozen=True)
class World:
    team: workorder.Team
    customer: customer.Customer


@pytest.fixture
def world(app: App) -> World:
    """An admin, one user per role, a team with the technician, a customer."""
    users.create_user("admin", PASSWORD, "admin")
    for role in users.ROLES:
        if role != "admin":
            users.create_user(f"u-{role}", PASSWORD, role)
    team = workorder.create_team(ADMIN, "铁西维修一班")
    workorder.add_member(ADMIN, team.id, "u-technician")
    cust = customer.create_customer(
        ADMIN, "100200300", "王伟东", phones=["13812345678"], address="铁西区建设大路10号"
    )
    return World(team, cust)


@pytest.fixture
def server(data_dir: Path) -> Iterator[str]:
    """The app on a real port (gevent.pywsgi on the test's hub), for the browser tests."""
    web = WebServer(WebConfig(bind="127.0.0.1", port=0, secure_cookies=False))
    url = web.start()
    yield url.rstrip("/")
    web.stop(timeout=1.0)


def logged_in(app: App, username: str) -> Client:
    c = Client(app)
    res = c.login(username, PASSWORD)
    assert res.status == 303, res.text
    return c
