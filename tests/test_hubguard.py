"""The hub guard catches a greenlet that blocks the hub, and fails the test that did it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import gevent
import gevent.monkey
import hubguard

TESTS_DIR = Path(__file__).resolve().parent
REAL_SLEEP = gevent.monkey.get_original("time", "sleep")  # blocks even if a test patched time


def _wait_for_reports(minimum: int, timeout: float = 1.0) -> list[hubguard.BlockReport]:
    deadline = time.monotonic() + timeout
    while len(hubguard.BLOCKS) < minimum and time.monotonic() < deadline:
        gevent.sleep(0.005)
    return hubguard.take_blocks()


def test_monitor_thread_is_configured() -> None:
    assert gevent.config.monitor_thread is True
    assert gevent.config.max_blocking_time == hubguard.MAX_BLOCKING_TIME
    gevent.sleep(0)  # runs the hub, which starts its monitor thread
    assert gevent.get_hub().periodic_monitoring_thread is not None


def test_blocking_greenlet_is_recorded() -> None:
    def blocker() -> None:
        REAL_SLEEP(0.1)

    g = gevent.spawn(blocker)
    g.join()
    blocks = _wait_for_reports(1)
    gevent.sleep(3 * hubguard.MAX_BLOCKING_TIME)  # a report still on its way is this test's too
    blocks += hubguard.take_blocks()
    hubguard.disarm()
    assert blocks, "a 100 ms time.sleep in a greenlet was not reported by gevent's monitor thread"
    assert any("blocker" in b.stack for b in blocks), blocks[0].stack
    assert str(g) in {b.greenlet for b in blocks}


def test_cooperative_waits_are_not_recorded() -> None:
    gevent.joinall([gevent.spawn(gevent.sleep, 0.05) for _ in range(3)])
    gevent.sleep(0.05)
    assert hubguard.BLOCKS == []


def test_guard_fails_a_blocking_test(tmp_path: Path) -> None:
    """Run pytest on a planted blocking test: the guard must fail it and show the stack."""
    (tmp_path / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(TESTS_DIR)!r})\n"
        "from hubguard import hub_guard, pytest_configure  # noqa: F401\n"
    )
    (tmp_path / "test_planted.py").write_text(textwrap.dedent("""
        import gevent, gevent.monkey
        sleep = gevent.monkey.get_original("time", "sleep")

        def planted_blocker():
            sleep(0.15)

        def test_blocks():
            gevent.spawn(planted_blocker).join()

        def test_pure_cpu_before_any_switch():
            sleep(0.1)  # never switched: not the hub's business

        def test_fine():
            gevent.sleep(0.05)
    """))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    # the blocking test passes its call and errors at teardown: 3 passed (call), 1 error (teardown)
    assert "3 passed, 1 error" in out, out
    assert "ERROR at teardown of test_blocks" in out, out
    assert "the gevent hub was blocked" in out and "planted_blocker" in out, out
