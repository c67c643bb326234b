"""boot: service start to READY=1 on this machine, and QEMU (TCG) boot to READY of the image.

The service is started as systemd would (a NOTIFY_SOCKET datagram socket) with
the simulated board, far side in process; READY=1 is sent only once the lines
are up and calls can be answered.  The QEMU figure is the cold first boot of
the last ``./build.sh image-test`` run (host clock from QEMU start to
"Started rexian.service"), read from its timings file; it is reported as
absent when no image test has run on this machine.
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RUNS = int(os.environ.get("BENCH_BOOT_RUNS", "5"))
READY_TIMEOUT = 30.0
TIMINGS = REPO / "build" / "image-test" / "run" / "timings.txt"


def _one_start(tmp: Path, i: int) -> float:
    from appliance.voiceboard.prompts import build_test_set

    prompts = tmp / "prompts"
    if not prompts.exists():
        build_test_set(prompts)
    cfg = tmp / f"rexian-{i}.toml"
    cfg.write_text(f'[board]\nspec = "fxo:4,fxs:8"\nfar = "inproc"\n[data]\ndir = "{tmp}/data-{i}"\n'
                   f'[prompts]\ndir = "{prompts}"\n', encoding="utf-8")
    path = str(tmp / f"notify-{i}.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(READY_TIMEOUT)
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "appliance.service", "run", "--config", str(cfg)],
                            env=dict(os.environ, NOTIFY_SOCKET=path), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if sock.recv(4096) == b"READY=1":
                return time.monotonic() - t0
    finally:
        proc.terminate()
        proc.wait(15)
        sock.close()


def _qemu() -> dict[str, Any] | None:
    if not TIMINGS.exists():
        return None
    first = TIMINGS.read_text(encoding="utf-8").splitlines()[0]
    m = re.search(r"'ready': ([0-9.]+)", first)
    if not m:
        return None
    return {"boot_to_ready_s": float(m.group(1)), "source": str(TIMINGS.relative_to(REPO)),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(TIMINGS.stat().st_mtime)),
            "how": "first cold boot of ./build.sh image-test, QEMU TCG 2 vCPU, host clock"}


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rexian-boot-") as tmp:
        times = [_one_start(Path(tmp), i) for i in range(RUNS)]
    return {
        "service_start_to_ready_s": {"p50": round(statistics.median(times), 3), "max": round(max(times), 3),
                                     "runs": RUNS, "board": "sim fxo:4,fxs:8, far side in process"},
        "qemu": _qemu(),
        "goal": "service start to READY <= 3 s; QEMU boot to READY <= 30 s",
    }
