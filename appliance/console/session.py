"""One console session on an open serial device: first-boot setup, login, the command loop.

Everything here runs in the console's greenlet. Reads wait in the gevent loop (tty.py), at most
POLL_INTERVAL at a time so that a stop request is seen quickly; input is processed in slices of
INPUT_SLICE bytes with a yield between them, so a flood of junk cannot hold the hub.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

import gevent
import gevent.event

from appliance.console.config import ConsoleConfig
from appliance.console.lineedit import REPLACEMENT, Event, LineEditor
from appliance.console.status import StatusProvider
from appliance.console.store import MaintenanceStore
from appliance.console.tty import SerialDevice

if TYPE_CHECKING:
    from appliance.console.commands import Command

log = logging.getLogger(__name__)
T = TypeVar("T")

IDLE_TIMEOUT = 300.0            # seconds without a key before a logged-in session is logged out
POLL_INTERVAL = 0.25            # longest single wait on the device (stop requests are seen this fast)
INPUT_SLICE = 512               # bytes of input processed between two yields
MAX_PENDING = 65536             # bytes of input kept waiting to be processed
MIN_MAINTENANCE_PASSWORD = 10

ACTOR_MAINTENANCE = "maintenance"
ACTOR_ANONYMOUS = "console"     # before login: whoever is at the serial port

BANNER = "\nRexian 热线 maintenance console / 维护控制台\n"
LOGIN_PROMPT = "维护密码 Maintenance password: "
PROMPT = "rexian> "
SETUP_TEXT = (
    "\n首次启动：尚未设置维护密码。\n"
    "First boot: no maintenance password is set. Choose one now "
    f"(at least {MIN_MAINTENANCE_PASSWORD} characters).\n"
)
GARBLED = "输入乱码，已忽略 Garbled input ignored (wrong baud rate? the console runs 115200 8N1)"


class ConsoleStopping(Exception):
    """The console is being stopped."""


class IdleTimeout(Exception):
    pass


class EndOfInput(Exception):
    """Ctrl-D on an empty line, or the 'logout' command."""


class LineCancelled(Exception):
    """Ctrl-C."""


class Session:
    def __init__(self, dev: SerialDevice, config: ConsoleConfig, provider: StatusProvider,
                 store: MaintenanceStore, stopping: gevent.event.Event,
                 commands: Mapping[str, Command] | None = None) -> None:
        if commands is None:
            from appliance.console.commands import COMMANDS

            commands = COMMANDS
        self.dev = dev
        self.config = config
        self.provider = provider
        self.store = store
        self.stopping = stopping
        self.commands = commands
        self.editor = LineEditor()
        self.actor = ACTOR_ANONYMOUS
        self.logout_requested = False   # set by a command that ends the session (logout, restore...)
        self._pending = bytearray()

    # ---- output -------------------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        """Write text and a line end (terminal line ends: CRLF)."""
        self.write(text + "\n")

    def write(self, text: str) -> None:
        self.dev.write(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8", errors="replace"))

    def audit(self, action: str, target: str = "", details: Mapping[str, object] | None = None) -> None:
        try:
            self.store.audit(action, self.actor, target, details)
        except Exception:
            log.exception("console: audit record %s failed", action)

    # ---- input --------------------------------------------------------------------------------------

    def _next_event(self, timeout: float | None) -> Event:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            while self._pending:
                chunk = self._pending[:INPUT_SLICE]
                event = None
                used = 0
                for byte in chunk:
                    used += 1
                    event = self.editor.push(byte)
                    if event is not None:
                        break
                del self._pending[:used]
                echo = self.editor.take_echo()
                if echo:
                    self.dev.write(echo.encode("utf-8", errors="replace"))
                if event is not None:
                    return event
                gevent.sleep(0)
            if self.stopping.is_set():
                raise ConsoleStopping()
            wait = POLL_INTERVAL
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise IdleTimeout()
                wait = min(wait, left)
            data = self.dev.read(wait)
            if data:
                if timeout is not None:
                    deadline = time.monotonic() + timeout     # idle means: no key for `timeout`
                room = MAX_PENDING - len(self._pending)
                self._pending += data[:max(room, 0)]          # a flood beyond that is dropped

    def ask(self, prompt: str, *, secret: bool = False, idle: bool = True) -> str:
        """Show ``prompt`` and read one line. Raises LineCancelled (Ctrl-C), EndOfInput (Ctrl-D on an
        empty line), IdleTimeout (after IDLE_TIMEOUT, if ``idle``). Overlong and garbled lines are
        refused and asked again."""
        while True:
            self.editor.reset(secret=secret)
            self.write(prompt)
            event = self._next_event(IDLE_TIMEOUT if idle else None)
            if event.kind == "cancel":
                raise LineCancelled()
            if event.kind == "eof":
                self.write("\r\n")
                raise EndOfInput()
            if event.overflow:
                self.say(f"行太长，已忽略 Line too long (max {self.editor.max_len} characters), ignored")
                continue
            if REPLACEMENT in event.text:
                self.say(GARBLED)
                continue
            return event.text.strip()

    def confirm(self, question: str, word: str = "yes") -> bool:
        answer = self.ask(f"{question} [{word}]: ")
        return answer == word

    def ask_new_password(self, idle: bool = True) -> str | None:
        """Ask a new password twice; None (after saying why) if the two differ or it is too short."""
        first = self.ask("新密码 New password: ", secret=True, idle=idle)
        if len(first) < MIN_MAINTENANCE_PASSWORD:
            self.say(f"太短 Too short: at least {MIN_MAINTENANCE_PASSWORD} characters.")
            return None
        second = self.ask("再输入一次 Again: ", secret=True, idle=idle)
        if first != second:
            self.say("两次输入不一致 The two entries differ.")
            return None
        return first

    def pause(self, seconds: float) -> None:
        """Wait, throwing away whatever is typed meanwhile (no type-ahead after a failed login)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.stopping.is_set():
                raise ConsoleStopping()
            self.dev.read(min(POLL_INTERVAL, left))
        self.dev.discard_input()
        self._pending.clear()

    # ---- the session --------------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until the device goes away (DeviceGone) or the console stops (ConsoleStopping)."""
        self.say(BANNER)
        while True:
            self.actor = ACTOR_ANONYMOUS
            if not self.store.has_maintenance_password():
                self.first_boot()
            if not self.login():
                continue
            try:
                self.command_loop()
            except IdleTimeout:
                self.say("\n空闲超时，已退出 Idle timeout: logged out.")
                self.audit("logout", details={"reason": "idle"})
            except EndOfInput:
                self.say("已退出 Logged out.")
                self.audit("logout")

    def first_boot(self) -> None:
        self.say(SETUP_TEXT)
        while not self.store.has_maintenance_password():
            try:
                password = self.ask_new_password(idle=False)
            except (LineCancelled, EndOfInput):
                continue
            if password is None:
                continue
            try:
                self.store.set_maintenance_password(password)
            except ValueError as exc:
                self.say(f"不接受 Refused: {exc}")
                continue
            self.audit("maintenance_password_set", "maintenance", {"reason": "first boot"})
            self.say("维护密码已设置 Maintenance password set.")

    def login(self) -> bool:
        """Ask for the maintenance password until it is given; False if the account disappeared
        meanwhile (factory reset from the web: back to first boot)."""
        while True:
            try:
                password = self.ask(LOGIN_PROMPT, secret=True, idle=False)
            except (LineCancelled, EndOfInput):
                continue
            if not password:
                continue
            outcome = self.store.check_maintenance_password(password)
            if outcome.ok:
                self.actor = ACTOR_MAINTENANCE
                self.audit("login")
                self.say("欢迎 Welcome. Type 'help' for the commands.")
                return True
            self.audit("login_failed", "maintenance",
                       {"retry_after": round(outcome.retry_after, 1)} if outcome.retry_after else None)
            if outcome.retry_after > 0:
                wait = max(1, math.ceil(outcome.retry_after))
                self.say(f"登录失败，请等待 {wait} 秒 Login failed: too many failures, wait {wait} s.")
                self.pause(outcome.retry_after)
            else:
                self.say("登录失败 Login failed.")
            if not self.store.has_maintenance_password():
                return False

    def command_loop(self) -> None:
        from appliance.console.commands import run_command

        while True:
            try:
                line = self.ask(PROMPT)
            except LineCancelled:
                continue
            if line:
                run_command(self, line)
            if self.logout_requested:
                self.logout_requested = False
                raise EndOfInput()


def protect(fn: Callable[[], T], what: str, timeout: float) -> T:
    """Run a provider call under a timeout; a refusal or a timeout becomes ValueError(message)."""
    try:
        with gevent.Timeout(timeout, TimeoutError(f"{what}: no answer within {timeout:.0f} s")):
            return fn()
    except (ValueError, TimeoutError) as exc:
        raise ValueError(str(exc)) from None
