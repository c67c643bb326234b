"""The service's answers to the maintenance console: status, line test, pause, and the console on a pty."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
from test_service import REPO, write_config

from appliance.maintenance import ApplianceStatus
from appliance.voiceboard.channel import Channel, Play
from appliance.voiceboard.events import Kind, Tone
from appliance.voiceboard.sim import SimulatedSite, phone_autoanswer


@pytest.fixture
def site() -> Iterator[SimulatedSite]:
    with SimulatedSite("fxo:2,fxs:2", name="mt") as s:
        yield s


def _far_serves(site: SimulatedSite) -> None:
    def handler(ch: Channel) -> None:
        if ch.kind is Kind.FXO:
            phone_autoanswer(ch, delay=0.3)
        else:   # the exchange gives dial tone to a seized trunk
            ch.play([Play.cptone(Tone.DIAL, 8000)], barge_in=False)

    site.far.call_handler = handler


def _status(site: SimulatedSite, paused: list[bool]) -> ApplianceStatus:
    return ApplianceStatus(site.board, Path("/nonexistent"), paused.append, lambda: None)


def test_line_test_rings_both_stations_and_connects_them(site: SimulatedSite) -> None:
    _far_serves(site)
    import appliance.maintenance as m

    saved, m.LINE_TEST_TALK = m.LINE_TEST_TALK, 0.5
    try:
        text = _status(site, []).line_test(2, 3)
    finally:
        m.LINE_TEST_TALK = saved
    assert "port 2 (FXS): OK" in text and "port 3 (FXS): OK" in text and "connected" in text
    assert site.far_of(site.board.channels[2]).caller_id == "10000"
    gevent.sleep(1.5)
    assert all(not c.busy for c in site.board.channels[2:]), "the line test leaves the stations idle"


def test_line_test_trunk_dial_tone_and_a_cut_line(site: SimulatedSite) -> None:
    _far_serves(site)
    site.board.channels[1].cut()
    gevent.sleep(0.3)
    text = _status(site, []).line_test(0, 1)
    assert "port 0 (FXO): OK: dial tone" in text
    assert "port 1 (FXO): FAIL: no line" in text
    summary = _status(site, []).board_summary()
    assert summary["lines_down"] == ["fxo 1"] and summary["channels"] == 4


@pytest.mark.parametrize(("a", "b"), [(0, 0), (-1, 2), (2, 99)])
def test_line_test_refuses_bad_ports(site: SimulatedSite, a: int, b: int) -> None:
    with pytest.raises(ValueError, match="ports must be"):
        _status(site, []).line_test(a, b)


def test_stop_and_start_taking_calls(site: SimulatedSite) -> None:
    paused: list[bool] = []
    st = _status(site, paused)
    assert "no longer answered" in st.service_control("stop")
    assert "calls paused by maintenance" in st.board_summary()["alarms"]
    assert "answered again" in st.service_control("start")
    assert paused == [True, False]
    with pytest.raises(ValueError):
        st.service_control("format-disk")


def _read_until(fd: int, needle: bytes, timeout: float) -> bytes:
    got = b""
    deadline = time.monotonic() + timeout
    while needle not in got and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                got += os.read(fd, 4096)
            except OSError:
                break
    return got


def test_service_serves_the_console_on_its_serial_device(tmp_path: Path) -> None:
    master, slave = os.openpty()
    link = tmp_path / "ttyS0"
    os.symlink(os.ttyname(slave), link)
    cfg = write_config(tmp_path, far="inproc")
    cfg.write_text(cfg.read_text() + f'[console]\ndevice = "{link}"\nnetwork_dir = "{tmp_path}/net"\n')
    proc = subprocess.Popen([sys.executable, "-m", "appliance.service", "run", "--config", str(cfg)],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        os.write(master, b"\r")
        out = _read_until(master, b"New password", 20)
        assert b"New password" in out, out[-500:]          # first boot: no default password
        for _ in range(2):
            os.write(master, b"console-pass-2026\r")
            time.sleep(0.3)
        out = _read_until(master, b"Maintenance password", 10)
        os.write(master, b"console-pass-2026\r")
        out = _read_until(master, b"rexian> ", 10)
        os.write(master, b"status\r")
        out = _read_until(master, b"fxo:2,fxs:2", 10)
        assert b"fxo:2,fxs:2" in out, out[-800:]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        os.close(master)
        os.close(slave)
    assert (tmp_path / "data" / "rexian.db").exists()
