"""The service entry point: config errors, sd_notify protocol, the demo with a far-side process."""

from __future__ import annotations

import os
import re
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.service import ConfigError, load_config
from appliance.voiceboard.prompts import build_test_set

REPO = Path(__file__).resolve().parents[1]


def write_config(tmp: Path, far: str, callers: float = 0.0, spec: str = "fxo:2,fxs:2",
                 customers: int = 0) -> Path:
    prompts = tmp / "prompts"
    if not prompts.exists():
        build_test_set(prompts)
    cfg = tmp / "rexian.toml"
    cfg.write_text(
        f'[board]\nbackend = "sim"\nspec = "{spec}"\nfar = "{far}"\nsocket = "{tmp}/run/board.sock"\n'
        f'[data]\ndir = "{tmp}/data"\n[prompts]\ndir = "{prompts}"\n[demo]\ncallers = {callers}\n'
        f'customers = {customers}\n',
        encoding="utf-8")
    return cfg


@pytest.mark.parametrize(("text", "needle"), [
    ("[board\nspec=", "not valid TOML"),
    ('[board]\nspec = "fxo:4,pots:2"\n', "board.spec"),
    ('[board]\nbackend = "isdn"\n', "board.backend"),
    ('[board]\nfar = "moon"\n', "board.far"),
    ('[demo]\ncallers = "often"\n', "demo.callers"),
    ('[demo]\ncustomers = -5\n', "demo.customers"),
    ('[board]\nbackend = "dahdi"\nspec = "fxo:2"\nchannels = "1-3"\n', "3 DAHDI channels for 2"),
    ('[board]\nbackend = "dahdi"\nspec = "fxo:2"\nchannels = "2-1"\n', "board.channels"),
    ('[board]\nbackend = "dahdi"\nfar = "inproc"\n', "no simulated far side"),
])
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, needle: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=needle):
        load_config(cfg)


def test_bad_config_exits_2_with_message(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_bytes(b"\xff\xfe[board")
    proc = subprocess.run([sys.executable, "-m", "appliance.service", "run", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=30, cwd=REPO)
    assert proc.returncode == 2
    assert "not valid TOML" in proc.stderr


def test_sd_notify_ready_watchdog_and_clean_stop(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, far="inproc")
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(1.0)
    env = dict(os.environ, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="400000")
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "appliance.service", "run", "--config", str(cfg)],
                            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    got: list[tuple[float, str]] = []
    try:
        while time.monotonic() - t0 < 20 and sum(m == "WATCHDOG=1" for _, m in got) < 3:
            try:
                got.append((time.monotonic() - t0, sock.recv(4096).decode()))
            except TimeoutError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        msgs = [m for _, m in got]
        assert "READY=1" in msgs, msgs
        ready_at = next(t for t, m in got if m == "READY=1")
        first_wd = next(i for i, m in enumerate(msgs) if m == "WATCHDOG=1")
        assert msgs.index("READY=1") < first_wd, "watchdog pings start once the service is ready"
        assert ready_at < 10, f"READY after {ready_at:.1f} s"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        tail = []
        while True:
            try:
                tail.append(sock.recv(4096).decode())
            except TimeoutError:
                break
        assert "STOPPING=1" in tail
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()


def test_demo_call_is_bridged_with_far_side_in_another_process(tmp_path: Path) -> None:
    """What ./build.sh run shows: a simulated caller reaches a station phone, and the call is recorded;
    the empty database got demo customers, and most simulated callers are among them."""
    cfg = write_config(tmp_path, far="process", callers=1.0, customers=30)
    proc = subprocess.Popen([sys.executable, "-m", "appliance.service", "run", "--config", str(cfg)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = ""
    try:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + 75
        while time.monotonic() < deadline and not ("bridged to station" in out and "ended:" in out):
            if select.select([fd], [], [], 1.0)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                out += chunk.decode("utf-8", "replace")
        assert "incoming on line" in out, out
        assert "caller pressed" in out, out
        assert "bridged to station" in out, out
        assert "ended:" in out, out
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    recs = list((tmp_path / "data" / "recordings").rglob("*.wav"))
    assert recs and all(r.stat().st_size > 44 for r in recs)
    with sqlite3.connect(tmp_path / "data" / "rexian.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM customer").fetchone()[0] == 30
        phones = {r[0] for r in conn.execute("SELECT number FROM customer_phone")}
    callers = re.findall(r"caller (\d+) rings", out)
    assert any(c in phones for c in callers), (callers, "no simulated caller is a demo customer")


def test_dahdi_config_and_a_missing_card_is_a_clear_exit(tmp_path: Path) -> None:
    cfg = tmp_path / "card.toml"
    cfg.write_text(f'[board]\nbackend = "dahdi"\nspec = "fxo:2,fxs:2"\nchannels = "5-6,9-10"\n'
                   f'device = "{tmp_path}/dev/dahdi/channel"\n[data]\ndir = "{tmp_path}/data"\n',
                   encoding="utf-8")
    c = load_config(cfg)
    assert c.backend == "dahdi" and c.channels == (5, 6, 9, 10) and c.far == "none"
    proc = subprocess.run([sys.executable, "-m", "appliance.service", "run", "--config", str(cfg)],
                          capture_output=True, text=True, timeout=30, cwd=REPO)
    assert proc.returncode == 1
    assert ("the DAHDI card did not open: port 0 (DAHDI channel 5): cannot open "
            f"{tmp_path}/dev/dahdi/channel: No such file or directory") in proc.stderr
