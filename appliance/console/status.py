"""What the console asks of the running appliance: the ``StatusProvider`` protocol.

The service implements it (it owns the board, the call handling and the system around them) and
passes it to the Console. Calls may take a while (a line test places a call): they are made from the
console's own greenlet, under a timeout, and must be gevent-friendly (never block the hub).
"""

from __future__ import annotations

from typing import Protocol, TypedDict


class BoardSummary(TypedDict, total=False):
    spec: str               # e.g. "e1:1,fxo:4,fxs:8"
    channels: int           # channels on the board
    in_use: int             # channels in a call now
    lines_down: list[str]   # lines or spans without service, e.g. ["fxo 3", "e1 span 1"]
    alarms: list[str]       # active alarms, e.g. ["span 1: red alarm"]


class StatusProvider(Protocol):
    def board_summary(self) -> BoardSummary:
        """Board and span state now."""
        ...

    def line_test(self, a: int, b: int) -> str:
        """Place a test call from port ``a`` to port ``b``; a one-paragraph result to show.

        Raises ValueError for ports that do not exist or cannot be tested.
        """
        ...

    def service_control(self, action: str) -> str:
        """``action`` is 'stop', 'start' or 'restart' (call handling); returns what happened."""
        ...

    def factory_reset(self) -> str:
        """Wipe the database (and backups) and the recordings; returns what was wiped."""
        ...

    def network_changed(self) -> str:
        """The console rewrote the network file: apply it (e.g. networkctl reload); returns the outcome."""
        ...
