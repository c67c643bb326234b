"""r2: 4 E1 spans (120 channels) of China No.1 under openr2, calls arriving at 5/s for 60 s.

The exchange (scripted China forward side, spandsp R2 MF) runs in another process over the
Unix-socket cable, so it does not share our CPU.  Every call sends an 8-digit DNIS, KA and an
11-digit ANI, is answered, held, and cleared forward.  Reported: seizure -> call offered time
per call (p50/p99, China compelled timing), the CPU of our process (hub: openr2 + the Python
R2 layer; and the media thread), and the calls completed.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent

from appliance.voiceboard.board import Board
from appliance.voiceboard.channel import Channel
from appliance.voiceboard.errors import CallError
from appliance.voiceboard.r2 import R2Channel, R2Span

SPANS = 4
SPEC = f"e1:{30 * SPANS}"
SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))
RATE = 5.0
HOLD = 8.0


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rexian-bench-") as tmp:
        return _run(Path(tmp))


def _run(tmp: Path) -> dict[str, Any]:
    board = Board("bench", SPEC)
    sock = tmp / "cable.sock"
    board.link_listen(sock)
    board.start()
    spans = [R2Span(board, range(30 * s, 30 * s + 30), dnis_len=8, name=f"e1-{s}") for s in range(SPANS)]
    for span in spans:
        span.start()
    setups: list[float] = []
    window = {"on": False}

    def handle(ch: Channel) -> None:
        assert isinstance(ch, R2Channel)
        if window["on"]:
            setups.append(ch.setup_s)
        try:
            ch.answer()
            ch.wait_hangup(60)
        except CallError:
            pass

    board.call_handler = handle
    far = subprocess.Popen([sys.executable, "-m", "bench.far_r2", "--socket", str(sock), "--spec", SPEC,
                            "--rate", str(RATE), "--hold", str(HOLD)])
    try:
        deadline = time.monotonic() + 15
        while not all(c.line_up for c in board.channels):
            if time.monotonic() > deadline:
                raise RuntimeError("far side did not come up")
            gevent.sleep(0.1)
        gevent.sleep(HOLD + 5)              # reach the steady state (calls arriving and leaving)
        window["on"] = True
        s0, c0, t0 = board.stats(), _cpu_s(), time.monotonic()
        peak = 0
        while time.monotonic() - t0 < SECONDS:
            gevent.sleep(1.0)
            peak = max(peak, sum(1 for c in board.channels if isinstance(c, R2Channel) and c.in_call))
        s1, c1, t1 = board.stats(), _cpu_s(), time.monotonic()
        window["on"] = False
    finally:
        far.terminate()
        far.wait(15)
        for span in spans:
            span.stop()
        board.stop()
    wall = t1 - t0
    media_s = (s1["cpu_ns"] - s0["cpu_ns"]) / 1e9
    proc_s = c1 - c0
    signalling_s = max(0.0, proc_s - media_s)
    return {
        "spans": SPANS,
        "channels": 30 * SPANS,
        "seconds": round(wall, 2),
        "calls_offered": len(setups),
        "calls_per_s": round(len(setups) / wall, 2),
        "peak_calls_up": peak,
        "seize_to_offered_s": {"p50": round(_pct(setups, 0.5), 3), "p99": round(_pct(setups, 0.99), 3),
                               "max": round(max(setups, default=float("nan")), 3)},
        "cpu_percent_one_core": {
            "signalling_hub": round(100 * signalling_s / wall, 2),
            "media_thread": round(100 * media_s / wall, 2),
            "process": round(100 * proc_s / wall, 2),
        },
        "signalling_cpu_ms_per_call": round(1000 * signalling_s / max(1, len(setups)), 2),
        "missed_ticks": s1["missed_ticks"] - s0["missed_ticks"],
        "how": "8-digit DNIS, KA, 11-digit ANI, KD, B1; MF over A-law; far side in another process",
        "goal": "signalling <= 10 % of one core",
    }
