"""The one route table: every route declares the permission it needs, or it cannot be registered.

``@route("GET", "/orders", perm="wo.read")`` adds a handler to ``ROUTES``. ``perm`` is keyword-only
and has no default; an unknown permission name raises at import. ``PUBLIC`` routes (login, setup,
static files) are the only ones an anonymous browser reaches. ``PERMISSIONS`` maps each permission
to the roles of appliance/crm/users.py that hold it; tests/web/test_matrix.py walks this table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from appliance.crm import session
from appliance.crm.common import Actor
from appliance.crm.users import ROLES

PUBLIC: Final = "public"
DESK_ROLES: Final = frozenset({"agent", "team_leader", "supervisor", "admin"})
LEAD_ROLES: Final = frozenset({"team_leader", "supervisor", "admin"})

PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    PUBLIC: frozenset(ROLES),
    "authenticated": frozenset(ROLES),
    "desk": DESK_ROLES,  # agent desk, customer file
    "kb.read": DESK_ROLES | {"technician"},
    "wo.read": DESK_ROLES | {"technician"},  # a technician sees his team's orders only (crm)
    "wo.create": DESK_ROLES,
    "wo.act": DESK_ROLES | {"technician"},  # which step: crm's state machine and roles
    "wo.export": LEAD_ROLES,
    "tech": frozenset({"technician"}),
    "users.admin": frozenset({"admin"}),
    "audit.read": frozenset({"admin", "maintenance"}),
    "events": DESK_ROLES | {"technician"},
    "agent.state": DESK_ROLES,  # my own ACD agent: sign in, ready / not ready, end wrap-up
    "call.control": DESK_ROLES,  # my own call: hold, consult, transfer, conference, park, record, dial
    "recordings.read": LEAD_ROLES,  # call recordings (quality checks), listened to by id only
    "call.monitor": LEAD_ROLES,  # listen / whisper / barge (the ACD also checks the agent's leader flag)
    "ivr.admin": frozenset({"supervisor", "admin"}),  # prompt library, IVR flows (web/ivradmin.py)
    "voicemail.read": DESK_ROLES,  # callers' messages: list, listen, mark handled (web/voicemail.py)
    "acd.admin": frozenset({"supervisor", "admin"}),  # edit queues and agents (web/acdedit.py)
    "supervise": LEAD_ROLES,  # wallboard, force an agent ready / not ready / logged out, ACD config view
}
assert all(r in ROLES for roles in PERMISSIONS.values() for r in roles)


class WebError(Exception):
    """A refusal shown to the user: ``status`` and a Chinese message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Ctx:
    """What a handler gets: the request (already checked) and who is asking."""

    environ: dict[str, Any]
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    json: Any
    session: session.Session | None
    token: str
    is_api: bool
    args: dict[str, Any] = field(default_factory=dict)
    actor: Actor | None = None
    secure: bool = False
    files: dict[str, Upload] = field(default_factory=dict)  # multipart/form-data file fields

    @property
    def username(self) -> str:
        return self.session.username if self.session else ""

    @property
    def role(self) -> str:
        return self.session.role if self.session else ""

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session else ""

    def need_actor(self) -> Actor:
        if self.actor is None:
            raise WebError(401, "请先登录")
        return self.actor

    def ip(self) -> str:
        return str(self.environ.get("REMOTE_ADDR", ""))

    def field(self, name: str, default: str = "") -> str:
        """A value of the form, or of the JSON object for the API."""
        if isinstance(self.json, dict):
            value = self.json.get(name, default)
            if value is None:
                return default
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise WebError(400, f"字段“{name}”格式错误")
            return str(value)
        return self.form.get(name, default)


@dataclass(frozen=True)
class Upload:
    """A file field of a multipart form: the browser's file name is kept for display only."""

    filename: str
    content_type: str
    data: bytes


Handler = Callable[[Ctx], Any]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    perm: str
    handler: Handler
    summary: str
    api: bool
    max_body: int | None = None  # a larger request body than the config's (uploads); None: the config's

    @property
    def write(self) -> bool:
        return self.method not in ("GET", "HEAD")

    def example_path(self) -> str:
        """The path with its parameters filled in (for tests and the OpenAPI document)."""
        return re.sub(r"<(\w+)(?::[^>]*)?>", lambda m: "1" if "int" in m.group(0) else "x", self.path)

    def openapi_path(self) -> str:
        return re.sub(r"<(\w+)(?::[^>]*)?>", r"{\1}", self.path)


ROUTES: list[Route] = []


def route(method: str, path: str, *, perm: str, summary: str = "",
          max_body: int | None = None) -> Callable[[Handler], Handler]:
    """Register a handler; ``perm`` must name an entry of PERMISSIONS."""
    if perm not in PERMISSIONS:
        raise ValueError(f"route {method} {path}: unknown permission {perm!r}")
    if method not in ("GET", "POST"):
        raise ValueError(f"route {method} {path}: only GET and POST")

    def register(fn: Handler) -> Handler:
        if any(r.method == method and r.path == path for r in ROUTES):
            raise ValueError(f"route {method} {path} registered twice")
        ROUTES.append(
            Route(
                method,
                path,
                perm,
                fn,
                summary or (fn.__doc__ or "").strip().split("\n")[0],
                path.startswith("/api/"),
                max_body,
            )
        )
        return fn

    return register


def allowed(perm: str, role: str) -> bool:
    return role in PERMISSIONS[perm]
