"""A small in-process WSGI client for the web tests (the app runs on the hub, no socket)."""

from __future__ import annotations

import io
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from appliance.web.app import App


@dataclass
class Result:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return ""

    def cookies(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


@dataclass
class Client:
    app: App
    remote: str = "127.0.0.1"
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str = ""

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        content_type: str = "",
        headers: dict[str, str] | None = None,
        stream_items: int | None = None,
    ) -> Result:
        raw_path, _, query = path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "PATH_INFO": urllib.parse.unquote(raw_path, "latin-1"),
            # as a PEP 3333 server passes it: the bytes as latin-1
            "QUERY_STRING": query.encode("utf-8").decode("latin-1"),
            "SERVER_NAME": "test",
            "SERVER_PORT": "80",
            "REMOTE_ADDR": self.remote,
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": content_type,
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for k, v in (headers or {}).items():
            environ["HTTP_" + k.upper().replace("-", "_")] = v
        captured: dict[str, Any] = {}

        def start_response(status: str, hdrs: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"] = int(status.split()[0])
            captured["headers"] = hdrs

        out = self.app(environ, start_response)
        chunks = []
        for i, chunk in enumerate(out):
            chunks.append(chunk if isinstance(chunk, bytes) else chunk.encode())
            if stream_items is not None and i + 1 >= stream_items:
                break
        if hasattr(out, "close"):
            out.close()
        result = Result(captured["status"], captured["headers"], b"".join(chunks))
        for c in result.cookies():
            name, _, rest = c.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in c or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return result

    def get(self, path: str, **kw: Any) -> Result:
        return self.request("GET", path, **kw)

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, **kw: Any) -> Result:
        form = dict(data or {})
        if csrf and "csrf" not in form:
            form["csrf"] = self.csrf or self.cookies.get("rexian_pre", "")
        body = urllib.parse.urlencode(form).encode()
        return self.request("POST", path, body, "application/x-www-form-urlencoded", **kw)

    def post_json(self, path: str, obj: Any, *, csrf: bool = True, **kw: Any) -> Result:
        headers = dict(kw.pop("headers", {}) or {})
        if csrf:
            headers.setdefault("X-CSRF-Token", self.csrf)
        return self.request("POST", path, json.dumps(obj).encode(), "application/json", headers=headers, **kw)

    def login(self, username: str, password: str) -> Result:
        self.get("/login")
        res = self.post("/login", {"username": username, "password": password})
        if res.status == 303:
            page = self.get("/api/me")
            if page.status == 200:
                self.csrf = page.json()["csrf"]
        return res


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', html)
    return m.group(1) if m else ""
