"""Hub guard: a test fails if it blocked the gevent hub for more than 20 ms.

The house rule (DESIGN.md): nothing may block the hub for more than 20 ms. gevent's monitor thread
checks every ``max_blocking_time`` seconds whether the running greenlet has switched since its last
check; if not, it emits ``gevent.events.EventLoopBlocked`` with the blocked stack. ``record_block``
keeps those reports, and the autouse fixture ``hub_guard`` (imported by conftest.py) fails a test
at teardown if any was made while it ran.

What counts: the check is per period, so a block longer than two periods (40 ms) is always caught,
one of 20..40 ms may be. Each test starts "unarmed": gevent watches no greenlet until the first
greenlet switch of the test, so a test that never touches the hub (parsing, pure functions) is not
judged; after its first switch, any stretch in one greenlet without a switch counts, the test's
own main greenlet included (while it runs, the hub and every other greenlet wait). A block that
ends just as its test ends may be reported during the next test; the message names the greenlet
and shows its stack, so it points at the right code either way.

The monitor thread starts when the hub first runs, with ``gevent.config.monitor_thread`` set:
this module sets it at import, before any hub exists. build.sh sets the matching environment
variables (GEVENT_MONITOR_THREAD_ENABLE, GEVENT_MAX_BLOCKING_TIME) for subprocesses too.
"""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gevent
import gevent._monitor
import gevent.events
import pytest

MAX_BLOCKING_TIME = 0.02

gevent.config.monitor_thread = True
gevent.config.max_blocking_time = MAX_BLOCKING_TIME
# The guard shows the stack in the failure; the monitor need not also print its long report.
gevent.config.print_blocking_reports = False


@dataclass(frozen=True)
class BlockReport:
    greenlet: str
    blocking_time: float
    stack: str  # the blocked thread's stack, as gevent formatted it


BLOCKS: list[BlockReport] = []
_lock = threading.Lock()


def _stack_of(info: list[str]) -> str:
    """The 'Blocked Stack' part of gevent's report (it also appends a long greenlet tree)."""
    lines: list[str] = []
    taking = False
    for item in info:
        if item.startswith("Blocked Stack"):
            taking = True
        elif item.startswith("Info:"):
            break
        if taking:
            lines.append(item)
    return "\n".join(lines) if lines else "\n".join(info)


def record_block(event: object) -> None:
    """gevent event subscriber (runs in the monitor thread): keep EventLoopBlocked reports."""
    if isinstance(event, gevent.events.EventLoopBlocked):
        report = BlockReport(str(event.greenlet), float(event.blocking_time), _stack_of(list(event.info)))
        with _lock:
            BLOCKS.append(report)


def take_blocks() -> list[BlockReport]:
    """Remove and return every report recorded so far."""
    with _lock:
        taken = BLOCKS[:]
        BLOCKS.clear()
    return taken


def disarm() -> None:
    """Stop watching the current greenlet until the next greenlet switch (see module doc)."""
    monitor = gevent.get_hub().periodic_monitoring_thread
    if monitor is not None:
        monitor.ignore_current_greenlet_blocking()


class _GuardMonitor(gevent._monitor.PeriodicMonitoringThread):
    """gevent's monitor thread, with a short report: only the blocked stack. gevent's own report
    also walks every object for a greenlet tree, which is slow enough that it could arrive after
    the guilty test has ended (and be blamed on the next one)."""

    def monitor_blocking(self, hub: Any) -> tuple[object, list[str]] | None:
        did_block = self._greenlet_tracer.did_block_hub(hub)
        if not did_block:
            return None
        active = did_block[1]
        try:
            frame = sys._current_frames()[hub.thread_ident]
        except KeyError:
            stack = "unknown: the hub's thread is gone\n"
        else:
            stack = "".join(traceback.format_stack(frame))
        report = [
            f"Greenlet {active} appears to be blocked",
            f"Blocked Stack (for thread id {hex(hub.thread_ident)}):",
            stack,
        ]
        gevent.events.notify(
            gevent.events.EventLoopBlocked(active, gevent.config.max_blocking_time, report, hub=hub)
        )
        return active, report


# The hub imports the class when it starts its monitor thread: this module runs before any hub does.
setattr(gevent._monitor, "PeriodicMonitoringThread", _GuardMonitor)  # noqa: B010

if record_block not in gevent.events.subscribers:
    gevent.events.subscribers.append(record_block)


def format_blocks(blocks: list[BlockReport]) -> str:
    first = blocks[0]
    return (
        f"the gevent hub was blocked: {len(blocks)} monitor report(s) of no greenlet switch for "
        f"> {first.blocking_time * 1000:.0f} ms (about {len(blocks) * first.blocking_time * 1000:.0f} ms "
        f"in all); first in {first.greenlet}:\n{first.stack}"
    )


def pytest_configure(config: pytest.Config) -> None:
    # gevent's memory monitor (started with the monitor thread) needs psutil; the guard is about
    # blocking only.
    config.addinivalue_line("filterwarnings", "ignore:Unable to monitor memory usage")


@pytest.fixture(autouse=True)
def hub_guard() -> Iterator[None]:
    disarm()
    take_blocks()  # reports from between tests are no test's
    yield
    blocks = take_blocks()
    disarm()
    if blocks:
        pytest.fail(format_blocks(blocks), pytrace=False)
