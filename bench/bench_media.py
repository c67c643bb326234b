"""media: 120 trunk + 24 station channels all active for 60 s vs the bare spandsp floor.

Every channel detects DTMF and is recorded; 60 trunks play prompts, 24 are
bridged to the stations, 36 are bridged in pairs.  The far side runs in
another process over the Unix-socket cable.  Reported: CPU % of one core of
the media thread, missed ticks, and the per-channel cost as a ratio to the
bare floor (spandsp G.711 decode + dtmf_rx + encode + write of the same
frames, measured in the same run).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent

from appliance.drivers._binding import lib
from appliance.voiceboard.board import Board
from appliance.voiceboard.channel import Play
from appliance.voiceboard.events import Kind

SPEC = "e1:120,fxs:24"
SECONDS = float(os.environ.get("BENCH_SECONDS", "60"))


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rexian-bench-") as tmp:
        return _run(Path(tmp))


def _run(tmp: Path) -> dict[str, Any]:
    prompt = tmp / "prompt.wav"
    lib.vb_util_dtmf_wav(str(prompt).encode(), b"A01B123456789", 60, 60, 100)
    board = Board("bench", SPEC)
    sock = tmp / "cable.sock"
    board.link_listen(sock)
    board.start()
    far = subprocess.Popen([sys.executable, "-m", "bench.far_media", "--socket", str(sock), "--spec", SPEC])
    try:
        deadline = time.monotonic() + 15
        while not all(c.status()["line_up"] for c in board.channels):
            if time.monotonic() > deadline:
                raise RuntimeError("far side did not come up")
            gevent.sleep(0.1)
        trunks, stations = board.of_kind(Kind.E1), board.of_kind(Kind.FXS)
        for ch in trunks[:60]:
            ch.start_play([Play.file(prompt)] * 32)
        for t, s in zip(trunks[60:84], stations, strict=True):
            t.bridge(s)
        rest = trunks[84:]
        for a, b in zip(rest[0::2], rest[1::2], strict=True):
            a.bridge(b)
        for i, ch in enumerate(board.channels):
            ch.start_record(tmp / f"rec-{i}.wav")
        gevent.sleep(1.0)
        s0, t0 = board.stats(), time.monotonic()
        gevent.sleep(SECONDS)
        s1, t1 = board.stats(), time.monotonic()
        busy = sum(1 for c in board.channels if c.status()["recording"])
        for ch in board.channels:
            ch.release("bench over")
    finally:
        far.terminate()
        far.wait(10)
        board.stop()
    ticks = s1["ticks"] - s0["ticks"]
    nchan = len(board.channels)
    cpu_ns = s1["cpu_ns"] - s0["cpu_ns"]
    per_chan_tick = cpu_ns / max(1, ticks * nchan)
    with open(tmp / "floor.raw", "wb") as f:
        floor_ticks = 1500
        floor_ns = lib.vb_util_bench_floor(nchan, floor_ticks, f.fileno())
    floor_per = floor_ns / (floor_ticks * nchan)
    return {
        "channels": nchan,
        "recorded_channels": busy,
        "seconds": round(t1 - t0, 2),
        "ticks": ticks,
        "missed_ticks": s1["missed_ticks"] - s0["missed_ticks"],
        "cpu_percent_one_core": round(100 * cpu_ns / ((t1 - t0) * 1e9), 2),
        "tick_ms_max": round(s1["tick_ns_max"] / 1e6, 3),
        "per_channel_tick_us": round(per_chan_tick / 1000, 3),
        "floor_per_channel_tick_us": round(floor_per / 1000, 3),
        "ratio_vs_floor": round(per_chan_tick / floor_per, 2),
        "rec_bytes_dropped": s1["rec_bytes_dropped"] - s0["rec_bytes_dropped"],
        "link_underruns": s1["link_underruns"] - s0["link_underruns"],
        "goal": "cpu <= 30 % of one core, 0 missed ticks, ratio <= 1.5",
    }
