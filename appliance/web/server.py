"""The web server: gevent.pywsgi on the hub, started and stopped by the service."""

from __future__ import annotations

import logging
from typing import Any

import gevent.pool
from gevent import pywsgi

from appliance.crm import events
from appliance.web.app import App, build_app
from appliance.web.config import WebConfig

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 200


class _Log:
    """pywsgi's access/error log into logging (no stack traces to the client)."""

    def __init__(self, level: int) -> None:
        self.level = level

    def write(self, text: str) -> None:
        text = text.rstrip()
        if text:
            log.log(self.level, "%s", text)


class _Handler(pywsgi.WSGIHandler):
    """pywsgi sends a response's header block and its body in two writes; with Nagle's algorithm the
    body then waits for the browser's delayed ACK of the headers (~40 ms on Linux; the screen pop's
    record fetch waited for it). Here the header block goes out with the first body bytes, in one."""

    _holding = False
    _held = b""

    def _write_with_headers(self, data: Any) -> None:
        self._holding = True
        try:
            super()._write_with_headers(data)
        finally:
            self._holding = False
            if self._held:                  # no body bytes came (an empty body): headers alone
                held, self._held = self._held, b""
                super()._sendall(held)

    def _sendall(self, data: Any) -> None:
        if self._holding:
            if not self._held:
                self._held = bytes(data)    # the header block: keep it for the body
                return
            data, self._held = self._held + bytes(data), b""
        super()._sendall(data)


class WebServer:
    def __init__(self, config: WebConfig) -> None:
        self.config = config
        self.app: App = build_app(config)
        self.server: pywsgi.WSGIServer | None = None

    def start(self) -> str:
        events.bind_hub()
        self.server = pywsgi.WSGIServer(
            (self.config.bind, self.config.port),
            self.app,
            spawn=gevent.pool.Pool(MAX_CONNECTIONS),
            handler_class=_Handler,
            log=_Log(logging.DEBUG),
            error_log=_Log(logging.WARNING),
        )
        self.server.start()
        log.info("web UI on %s", self.url)
        return self.url

    @property
    def port(self) -> int:
        return int(self.server.server_port) if self.server is not None else self.config.port

    @property
    def url(self) -> str:
        host = self.config.bind if self.config.bind not in ("0.0.0.0", "::", "") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"

    def stop(self, timeout: float = 2.0) -> None:
        if self.server is not None:
            self.server.stop(timeout=timeout)
            self.server = None
