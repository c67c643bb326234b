"""The acceptance tool (hwtest/) run for real on the simulated board, its loopback cables made by the tool.

This directory has no ``__init__.py`` on purpose: with one, pytest would import it as the package
``hwtest`` (tests/ is on sys.path for the shared conftest) and hide the tool of the same name.
"""

from __future__ import annotations

import io
import random
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
from gevent import subprocess

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))   # the tool lives beside appliance/, outside the installed package

from appliance.drivers._binding import check, ffi, lib  # noqa: E402
from appliance.voiceboard.board import Board  # noqa: E402
from appliance.voiceboard.dahdi import use_fake_kernel  # noqa: E402
from hwtest import checks, cli, e1  # noqa: E402
from hwtest import plan as plan_mod  # noqa: E402
from hwtest.plan import Loop, LoopKind  # noqa: E402

SPEC = "fxo:2,fxs:2"
LOOP_CHECKS = ("caller ID (FSK)", "answer (ring trip)", "DTMF {o}→{s}", "DTMF {s}→{o}", "tone {o}→{s}",
               "tone {s}→{o}", "recording on port {o}", "hang-up from port {s} (FXS)", "caller ID (DTMF)",
               "hang-up from port {o} (FXO)", "idle afterwards")
BOARD_CHECKS = ("board detected", "port 0 (FXO) line state", "port 1 (FXO) line state",
                "port 2 (FXS) line state", "port 3 (FXS) line state", "alarms readable",
                "board resources released")


def write_config(tmp_path: Path, spec: str = SPEC, backend: str = "sim") -> Path:
    path = tmp_path / "rexian.toml"
    path.write_text(f'[board]\nbackend = "{backend}"\nspec = "{spec}"\n', encoding="utf-8")
    return path


def run_tool(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = cli.main(argv, out=out, err=err)
    return rc, out.getvalue(), err.getvalue()


def rows(report: str) -> dict[str, str]:
    """Check (English name) -> status, from the report's table."""
    found: dict[str, str] = {}
    for line in report.splitlines():
        m = re.match(r"^\s*\d+\s+(PASS|FAIL|NOT RUN|INFO)\s+.*? / (.+?)\s{2,}", line)
        if m:
            found[m.group(2)] = m.group(1)
    return found


def loop_names(o: int, s: int) -> list[str]:
    return [f"loop {o}:{s} " + name.format(o=o, s=s) for name in LOOP_CHECKS]


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shorter waits where a check is expected to fail (a cut cable never comes back up)."""
    monkeypatch.setattr(checks, "LINES_UP_WAIT", 0.5)
    monkeypatch.setattr(checks, "CID_WAIT", 3.0)
    monkeypatch.setattr(checks, "IDLE_WAIT", 2.0)


def test_two_analog_loops_all_pass(tmp_path: Path) -> None:
    report = tmp_path / "report.txt"
    rc, out, err = run_tool(["--config", str(write_config(tmp_path)), "--loop", "0:2", "--loop", "1:3",
                             "--report", str(report)])
    text = report.read_text(encoding="utf-8")
    assert rc == 0, out + err
    table = rows(text)
    expected = [*BOARD_CHECKS, *loop_names(0, 2), *loop_names(1, 3)]
    assert {name: table.get(name) for name in expected} == dict.fromkeys(expected, "PASS"), text
    assert len(table) == len(expected)
    assert f"{len(expected)} passed, 0 failed" in text
    assert "ACCEPTED" in text and "NOT ACCEPTED" not in text
    assert text in out     # the same report on the screen
    assert re.search(r"port 0 decoded it exactly", text) and "(busy tone)" in text and "(on-hook)" in text


def test_cut_cable_fails_its_loop_only(tmp_path: Path, quick: None) -> None:
    report = tmp_path / "report.txt"
    rc, out, _ = run_tool(["--config", str(write_config(tmp_path)), "--loop", "0:2", "--loop", "1:3",
                           "--cut", "2", "--report", str(report)])
    text = report.read_text(encoding="utf-8")
    assert rc == 1, out
    table = rows(text)
    assert table["fault injected: cable of port 2 cut"] == "INFO"
    assert table["port 0 (FXO) line state"] == table["port 2 (FXS) line state"] == "FAIL"
    assert table["port 1 (FXO) line state"] == table["port 3 (FXS) line state"] == "PASS"
    assert all(table[name] == "FAIL" for name in loop_names(0, 2)), text
    assert all(table[name] == "PASS" for name in loop_names(1, 3)), text
    assert "alarms read: line down on ports 0 (looped), 2 (looped)" in text
    assert "not tried: line down on ports 0, 2: check the loopback cable" in text
    assert "loop 0:2: line down: check the loopback cable between ports 0 and 2" in text
    assert table["board resources released"] == "PASS"
    assert "16 passed, 13 failed" in text and "NOT ACCEPTED" in text


def test_cable_pulled_mid_call_drops_the_call_and_leaves_the_board_clean(tmp_path: Path, quick: None) -> None:
    """The check functions directly: the cable goes in the middle of the first call."""
    board = Board("hwt", "fxo:1,fxs:1")
    board.link_pair(board, 0, 1, 1)
    board.start()
    try:
        assert checks.wait_until(lambda: all(c.line_up for c in board.channels), 3)
        seen: list[checks.Result] = []

        def emit(r: checks.Result) -> None:
            seen.append(r)
            if r.check.en.endswith("DTMF 1→0"):      # the recording has started: pull the cable now
                gevent.spawn(board.channels[1].cut)

        loop = Loop(0, 1, LoopKind.ANALOG, fxo=0, fxs=1)
        check = checks.AnalogLoop(board, loop, checks.BoardWatch(board), tmp_path, random.Random(7), emit)
        gevent.spawn(check.run).get(timeout=60)
        results = {r.check.en: r for r in check.report(checks.Text("-", "-"))}
        assert [r.status for r in seen[:4]] == [checks.Status.PASS] * 4, seen
        dropped = results["loop 0:1 tone 0→1"]
        assert dropped.status is checks.Status.FAIL and dropped.reason.en == "the call dropped (line down)"
        assert results["loop 0:1 recording on port 0"].reason.en == "not tried: the call dropped (line down)"
        assert results["loop 0:1 idle afterwards"].status is checks.Status.FAIL
        assert all(r.status is checks.Status.FAIL for r in list(results.values())[4:])
        assert checks.stats_result(board).passed, checks.stats_result(board)
    finally:
        board.stop()


E1_CHECKS = ("in sync (no alarm)", "call in {b}→{a} (ANI, DNIS, category)", "answer", "DTMF {a}→{b}",
             "DTMF {b}→{a}", "tone {a}→{b}", "tone {b}→{a}", "clear forward", "call out {a}→{b} (DNIS, ANI)",
             "clear back", "idle afterwards")


def e1_names(a: int, b: int) -> list[str]:
    return [f"E1 loop {a}:{b} " + name.format(a=a, b=b) for name in E1_CHECKS]


def test_e1_loop_signals_r2_both_ways_and_unlooped_ports_are_listed(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)      # the default report name, in the current directory
    rc, _, _ = run_tool(["--config", str(write_config(tmp_path, "fxo:1,e1:2")), "--loop", "1:2"])
    reports = list(tmp_path.glob("hwtest-report-*.txt"))
    assert len(reports) == 1 and re.fullmatch(r"hwtest-report-\d{8}-\d{6}\.txt", reports[0].name)
    text = reports[0].read_text(encoding="utf-8")
    assert rc == 0, text
    table = rows(text)
    assert {n: table.get(n) for n in e1_names(1, 2)} == dict.fromkeys(e1_names(1, 2), "PASS"), text
    assert "ANI 13800138000, DNIS 95566001, National Subscriber" in text
    assert "the exchange got DNIS 95566001, ANI 075512345678, and answered" in text
    assert table["port 0 (FXO) line state"] == "INFO" and "in no loop: line down, idle" in text
    assert table["port 1 (E1) line state"] == table["port 2 (E1) line state"] == "PASS"
    assert "alarms read: line down on ports 0" in text
    assert "NOT ACCEPTED" not in text and "ACCEPTED" in text


def test_e1_loop_in_alarm_fails_sync_and_names_the_alarm(tmp_path: Path, quick: None,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(e1, "SYNC_WAIT", 1.0)
    plan = plan_mod.make_plan(plan_mod.read_config(write_config(tmp_path, "e1:2")), ["0:1"], ["1"], True)
    assert plan.cuts == (1,)
    results = checks.run_checks(plan, tmp_path, lambda r: None)
    table = {r.check.en: r for r in results}
    sync = table["E1 loop 0:1 in sync (no alarm)"]
    assert sync.status is checks.Status.FAIL and "LOS/red" in sync.reason.en, sync
    assert "check the E1 crossover cable" in sync.reason.en
    assert table["E1 loop 0:1 call out 0→1 (DNIS, ANI)"].status is checks.Status.FAIL
    assert "E1 alarms: port 0 LOS/red, port 1 LOS/red" in table["alarms readable"].reason.en, table


@pytest.mark.parametrize(("args", "message"), [
    (["--loop", "0-2"], "--loop '0-2': 格式应为 端口:端口，例如 0:4 / expected PORT:PORT, e.g. 0:4"),
    (["--loop", "0:4"], "port 4 is out of range: the board has ports 0-3"),
    (["--loop", "0:2", "--loop", "2:1"], "port 2 is in two loops (0:2 and 2:1)"),
    (["--loop", "0:1"], "port 0 (FXO) cannot be looped to port 1 (FXO): a loopback cable joins an FXO"),
    (["--loop", "3:3"], "a loop needs two different ports"),
    ([], "at least one --loop is needed"),
    (["--loop", "0:2", "--cut", "1"], "--cut needs a port that is in a loop"),
    (["--loop", "0:2", "--report", "/nonexistent/r.txt"], "the folder /nonexistent does not exist"),
])
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    rc, out, err = run_tool(["--config", str(write_config(tmp_path)), *args])
    assert rc == 2
    assert message in err and "nothing was tested" in err
    assert out == ""


def test_bad_config_and_option_exit_2(tmp_path: Path) -> None:
    rc, _, err = run_tool(["--config", str(tmp_path / "missing.toml"), "--loop", "0:2"])
    assert rc == 2 and "config file not found" in err
    rc, _, err = run_tool(["--config", str(write_config(tmp_path, "fxo:x")), "--loop", "0:2"])
    assert rc == 2 and "board.spec" in err
    with pytest.raises(SystemExit) as exc:
        cli.main(["--no-such-option"])
    assert exc.value.code == 2


def test_dahdi_backend_without_a_card_fails_board_detected(tmp_path: Path) -> None:
    """The real command line on a box whose DAHDI device is missing: the first check fails, clearly."""
    config = tmp_path / "rexian.toml"
    config.write_text(f'[board]\nbackend = "dahdi"\nspec = "fxo:2,fxs:2,e1:30"\nchannels = "1-34"\n'
                      f'device = "{tmp_path}/no-dahdi/channel"\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "hwtest", "--config", str(config), "--loop", "0:2",
                           "--report", str(tmp_path / "r.txt")], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1, proc.stderr
    report = (tmp_path / "r.txt").read_text(encoding="utf-8")
    assert rows(report) == {"board detected": "FAIL"}
    assert f"port 0 (DAHDI channel 1) did not open: cannot open {tmp_path}/no-dahdi/channel: No such " \
           f"file or directory" in report
    # bad arguments are still bad arguments on a dahdi box
    rc, _, err = run_tool(["--config", str(config), "--loop", "0:1"])
    assert rc == 2 and "FXO" in err


@pytest.fixture
def fake_card() -> Iterator[None]:
    """The card backend on the fake DAHDI kernel (drivers/csrc/dahdifake.c)."""
    lib.vb_dahdi_fake_reset()
    use_fake_kernel(True)
    yield
    use_fake_kernel(False)
    lib.vb_dahdi_fake_reset()


def dahdi_plan(tmp_path: Path, loops: list[str], spec: str = "fxo:2,fxs:2",
               channels: str = "5-8") -> plan_mod.Plan:
    config = tmp_path / "rexian.toml"
    config.write_text(f'[board]\nbackend = "dahdi"\nspec = "{spec}"\nchannels = "{channels}"\n',
                      encoding="utf-8")
    return plan_mod.make_plan(plan_mod.read_config(config), loops, [], False)


def test_on_a_card_board_detected_checks_every_channel_and_alarms_are_read(tmp_path: Path,
                                                                          fake_card: None) -> None:
    for channo, sig in ((5, lib.DAHDI_SIG_FXSKS), (6, lib.DAHDI_SIG_FXSKS), (7, lib.DAHDI_SIG_FXOKS),
                        (8, lib.DAHDI_SIG_FXOLS)):
        check(lib.vb_dahdi_fake_add(channo, sig))
    check(lib.vb_dahdi_fake_alarm(6, 1))
    plan = dahdi_plan(tmp_path, ["0:2"])
    assert not plan.sim
    board, opened = checks.open_board(plan)
    assert board is not None, opened
    try:
        assert opened.status is checks.Status.PASS
        assert "DAHDI channels 5-8, signalling FXOKS/FXOLS/FXSKS fits every port" in opened.reason.en
        checks.wait_until(lambda: board.channels[0].status()["line_up"] == 1, 2.0)
        alarms = checks.alarm_result(board, plan)
        assert alarms.status is checks.Status.PASS
        assert alarms.reason.en == "alarms read: line down on ports 1; DAHDI alarm on ports 1"
    finally:
        board.stop()
    assert not any(_fake_open(c) for c in (5, 6, 7, 8))      # stopping the board closed every fd


def test_on_a_card_a_port_with_the_wrong_signalling_fails_board_detected(tmp_path: Path,
                                                                        fake_card: None) -> None:
    for channo in (5, 6, 7, 8):
        check(lib.vb_dahdi_fake_add(channo, lib.DAHDI_SIG_FXSKS))   # ports 2, 3 should be FXO-signalled
    board, opened = checks.open_board(dahdi_plan(tmp_path, ["0:2"]))
    assert board is None and opened.status is checks.Status.FAIL
    assert opened.reason.en.startswith("port 2 (DAHDI channel 7) did not open: DAHDI channel 7 has "
                                       "signalling FXSKS")
    assert not any(_fake_open(c) for c in (5, 6, 7, 8))


def _fake_open(channo: int) -> bool:
    st = ffi.new("vb_dahdi_fake_state_t *")
    check(lib.vb_dahdi_fake_state(channo, st))
    return bool(st.open)


def test_on_a_card_an_e1_crossover_loop_passes_through_the_dahdi_backend(tmp_path: Path,
                                                                         fake_card: None) -> None:
    for channo in (1, 2):
        check(lib.vb_dahdi_fake_add(channo, lib.DAHDI_SIG_CAS))
    check(lib.vb_dahdi_fake_patch(1, 2))      # span 1 timeslot 1 crossed to span 2 timeslot 1
    plan = dahdi_plan(tmp_path, ["0:1"], spec="e1:2", channels="1-2")
    results = checks.run_checks(plan, tmp_path, lambda r: None)
    table = {r.check.en: r.status for r in results}
    assert table["board detected"] is checks.Status.PASS
    assert {n: table.get(n) for n in e1_names(0, 1)} == dict.fromkeys(e1_names(0, 1), checks.Status.PASS)
    assert table["board resources released"] is checks.Status.PASS
    assert not any(_fake_open(c) for c in (1, 2))
