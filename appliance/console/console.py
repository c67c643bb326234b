"""The serial maintenance console as a service object: ``start()``, ``stop()``.

One greenlet (in the console's own group) owns the serial device: it opens it, serves a Session on
it, and when the device goes away (USB adapter unplugged, pty closed: read EOF or error) closes it and
tries to open it again every REOPEN_INTERVAL seconds until it is back, then shows the banner and the
login prompt again. Nothing it does blocks the hub (tty.py, session.py); a crash of the greenlet is
logged and it is started again after RESTART_DELAY. ``stop()`` asks the session to end (seen within
session.POLL_INTERVAL), waits STOP_GRACE seconds, then kills what is left.
"""

from __future__ import annotations

import logging

import gevent
import gevent.event
import gevent.pool

from appliance.console.config import ConsoleConfig
from appliance.console.session import ACTOR_MAINTENANCE, ConsoleStopping, Session
from appliance.console.status import StatusProvider
from appliance.console.store import MaintenanceStore
from appliance.console.tty import DeviceGone, SerialDevice

log = logging.getLogger(__name__)

REOPEN_INTERVAL = 1.0           # seconds between attempts to open a missing device
RESTART_DELAY = 1.0             # seconds before a crashed console greenlet is started again
STOP_GRACE = 3.0                # seconds stop() waits for the session to end by itself
STOP_KILL = 2.0                 # seconds stop() then waits for the killed greenlets


class Console:
    def __init__(self, config: ConsoleConfig, provider: StatusProvider, store: MaintenanceStore) -> None:
        self.config = config
        self.provider = provider
        self.store = store
        self.connections = 0                # how many times the device was opened (for status/tests)
        self.connected = gevent.event.Event()
        self._group = gevent.pool.Group()
        self._stopping = gevent.event.Event()

    def start(self) -> None:
        self._stopping.clear()
        self._spawn(0.0)

    def stop(self) -> None:
        self._stopping.set()
        self._group.join(timeout=STOP_GRACE)
        if len(self._group):
            log.warning("console: stopping %d greenlet(s) by force", len(self._group))
            self._group.kill(block=True, timeout=STOP_KILL)

    @property
    def running(self) -> bool:
        return len(self._group) > 0

    def _spawn(self, delay: float) -> None:
        g = gevent.Greenlet(self._run)
        g.link_exception(self._crashed)
        self._group.add(g)
        if delay:
            g.start_later(delay)
        else:
            g.start()

    def _crashed(self, g: gevent.Greenlet) -> None:
        log.error("console greenlet crashed: %r", g.exception, exc_info=g.exc_info)
        if not self._stopping.is_set():
            self._spawn(RESTART_DELAY)

    def _run(self) -> None:
        device = SerialDevice(self.config.device, self.config.baudrate)
        missing_logged = False
        while not self._stopping.is_set():
            try:
                device.open()
            except OSError as exc:
                if not missing_logged:
                    log.warning("console: cannot open %s (%s); retrying every %.0f s",
                                self.config.device, exc, REOPEN_INTERVAL)
                    missing_logged = True
                self._stopping.wait(REOPEN_INTERVAL)
                continue
            missing_logged = False
            self.connections += 1
            self.connected.set()
            log.info("console: serving on %s", self.config.device)
            session = Session(device, self.config, self.provider, self.store, self._stopping)
            try:
                session.run()
            except DeviceGone as exc:
                log.warning("console: device gone (%s); waiting for it to come back", exc)
                if session.actor == ACTOR_MAINTENANCE:
                    session.audit("logout", details={"reason": "disconnected"})
            except ConsoleStopping:
                try:
                    device.write("\r\n控制台停止 console stopping\r\n".encode())
                    device.drain()
                except DeviceGone:
                    pass
            finally:
                self.connected.clear()
                device.close()
            if not self._stopping.is_set():
                self._stopping.wait(REOPEN_INTERVAL)
