"""What the serial console asks of the running appliance (console.status.StatusProvider).

The service owns the board and the call handling; this object answers the
console's status, line test, service control and factory reset with them.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import gevent
from gevent import subprocess

from appliance.console.status import BoardSummary
from appliance.crm import db
from appliance.voiceboard.board import Board
from appliance.voiceboard.channel import Channel, ChannelState, Play
from appliance.voiceboard.errors import CallError, NoDialTone
from appliance.voiceboard.events import Kind

log = logging.getLogger(__name__)

LINE_TEST_RING = 15.0       # seconds a station is rung in a line test
LINE_TEST_TALK = 5.0        # seconds two answered stations are connected in a line test
LINE_TEST_DIALTONE = 3.0    # seconds an FXO trunk has to give dial tone


class ApplianceStatus:
    """StatusProvider for the console, backed by the service's board."""

    def __init__(self, board: Board, recordings: Path, pause_calls: Callable[[bool], None],
                 restart: Callable[[], None]) -> None:
        self.board = board
        self.recordings = recordings
        self._pause_calls = pause_calls
        self._restart = restart
        self.paused = False

    def board_summary(self) -> BoardSummary:
        down = [f"{c.kind.name.lower()} {c.index}" for c in self.board.channels if not c.line_up]
        return BoardSummary(
            spec=self.board.spec,
            channels=len(self.board.channels),
            in_use=sum(1 for c in self.board.channels if c.busy and c.state is not ChannelState.DOWN),
            lines_down=down,
            alarms=[f"line {d}: no line" for d in down]
            + (["calls paused by maintenance"] if self.paused else []),
        )

    # ------------------------------------------------------------ line test
    def line_test(self, a: int, b: int) -> str:
        """Test two ports: stations are rung (and connected if both answer), trunks must give dial tone."""
        ports = self._ports(a, b)
        results: list[str] = []
        answered: list[Channel] = []
        try:
            for ch in ports:
                ok, text = self._test_port(ch)
                results.append(f"port {ch.index} ({ch.kind.name}): {text}")
                if ok and ch.kind is Kind.FXS:
                    answered.append(ch)
            if len(answered) == 2:
                answered[0].bridge(answered[1])
                gevent.sleep(LINE_TEST_TALK)
                results.append(f"ports {a} and {b} connected for {LINE_TEST_TALK:.0f} s: "
                               "talk to check the audio")
        finally:
            for ch in ports:
                if ch.state is not ChannelState.DOWN:
                    ch.release("line test over")
        return "\n".join(results)

    def _ports(self, a: int, b: int) -> list[Channel]:
        n = len(self.board.channels)
        if a == b or not (0 <= a < n and 0 <= b < n):
            raise ValueError(f"ports must be two different numbers from 0 to {n - 1}")
        ports = [self.board.channels[a], self.board.channels[b]]
        for ch in ports:
            if ch.kind is Kind.E1:
                raise ValueError(f"port {ch.index} is an E1 timeslot: test the span with hwtest")
            if ch.busy:
                raise ValueError(f"port {ch.index} is in use ({ch.state.value}); try again later")
        return ports

    def _test_port(self, ch: Channel) -> tuple[bool, str]:
        if not ch.line_up:
            return False, "FAIL: no line (cable or exchange)"
        ch.claim()
        try:
            if ch.kind is Kind.FXS:
                ch.ring("10000", "LINE TEST", timeout=LINE_TEST_RING)
                ch.start_play([Play.tone(1000, duration_ms=1000, level_dbm0=-13)])
                return True, "OK: phone rang with caller ID 10000 and answered"
            return self._trunk_dialtone(ch)
        except CallError as exc:
            return False, f"FAIL: {type(exc).__name__}: {exc}"

    def _trunk_dialtone(self, ch: Channel) -> tuple[bool, str]:
        try:
            ch.seize(LINE_TEST_DIALTONE)
        except NoDialTone:
            return False, "FAIL: no dial tone from the exchange"
        return True, "OK: dial tone from the exchange"

    # ------------------------------------------------------- service control
    def service_control(self, action: str) -> str:
        if action == "stop":
            self.paused = True
            self._pause_calls(True)
            return "new calls are no longer answered (calls in progress go on)"
        if action == "start":
            self.paused = False
            self._pause_calls(False)
            return "calls are answered again"
        if action == "restart":
            gevent.spawn_later(1.0, self._restart)
            return "the service restarts in 1 s (systemd starts it again)"
        raise ValueError(f"unknown action {action!r}: stop, start or restart")

    def factory_reset(self) -> str:
        db.wipe(include_backups=True)
        n = 0
        if self.recordings.exists():
            n = sum(1 for p in self.recordings.rglob("*") if p.is_file())
            gevent.get_hub().threadpool.apply(shutil.rmtree, (self.recordings,), {"ignore_errors": True})
        return f"database and backups wiped; {n} recording file(s) removed"

    def network_changed(self) -> str:
        if shutil.which("networkctl") is None:
            return "networkctl is not available here: the new settings apply at the next boot"
        try:
            out = subprocess.run(["networkctl", "reload"], capture_output=True, text=True, timeout=10)
        except subprocess.TimeoutExpired:
            return "networkctl reload timed out"
        if out.returncode != 0:
            return f"networkctl reload failed: {out.stderr.strip()}"
        return "network reloaded"
