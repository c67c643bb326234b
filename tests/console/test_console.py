"""The serial maintenance console over a real pseudo-terminal.

The console opens its device path with pyserial, as it opens ttyS0 on the box. Here that path is a
symlink in tmp to the slave side of an ``os.openpty()`` pair; the test is the technician's terminal
on the master side, reading it from a greenlet with gevent waits. Unplug is closing the pty, replug
is repointing the link to a new pty's slave. The database is the real crm SQLite database; the
StatusProvider is the small ``Box`` adapter below (the service implements the real one).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import gevent
import gevent.event
import pytest
from gevent.socket import wait_read, wait_write

from appliance.console import Console, ConsoleConfig, netcfg
from appliance.console import console as console_module
from appliance.console import session as session_module
from appliance.console.status import BoardSummary
from appliance.crm import audit, db, users
from appliance.crm.maintenance import Maintenance

MAINT_PW = "serial-console-42"
LOGIN = "Maintenance password: "
PROMPT = "rexian> "


class Pty:
    """The technician's end of the serial cable."""

    def __init__(self, link: Path) -> None:
        self.master, self.slave = os.openpty()
        os.set_blocking(self.master, False)
        self.slave_path = os.ttyname(self.slave)
        tmp = link.with_name(link.name + ".new")
        tmp.unlink(missing_ok=True)
        os.symlink(self.slave_path, tmp)
        os.replace(tmp, link)            # the "cable" now leads here
        self.buf = bytearray()           # received, not yet consumed by expect()
        self.transcript = bytearray()    # everything received
        self.changed = gevent.event.Event()
        self.reader = gevent.spawn(self._read)

    def _read(self) -> None:
        while True:
            wait_read(self.master)
            try:
                data = os.read(self.master, 4096)
            except BlockingIOError:
                continue
            except OSError:
                return
            if not data:
                return
            self.buf += data
            self.transcript += data
            self.changed.set()

    def send(self, data: bytes | str) -> None:
        view = memoryview(data.encode() if isinstance(data, str) else data)
        while view:
            try:
                view = view[os.write(self.master, view):]
            except BlockingIOError:
                pass
            if view:
                wait_write(self.master, timeout=5)

    def line(self, text: str) -> None:
        self.send(text + "\r")

    def expect(self, pattern: str, timeout: float = 5.0) -> str:
        """Wait for ``pattern`` (a regex); consume and return the text up to the end of its match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            self.changed.clear()
            text = self.buf.decode("utf-8", errors="replace")
            found = regex.search(text)
            if found:
                consumed = text[: found.end()]
                del self.buf[: len(consumed.encode("utf-8", errors="replace"))]
                return consumed
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} within {timeout} s; last output:\n{text[-1500:]}")
            self.changed.wait(min(left, 0.25))

    def run(self, command: str, timeout: float = 5.0) -> str:
        """Send a command, return its output (up to the next prompt)."""
        self.line(command)
        return self.expect(re.escape(PROMPT), timeout)

    def close(self) -> None:
        self.reader.kill()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


class Box:
    """StatusProvider for the tests: fixed board data; factory_reset wipes through crm."""

    def __init__(self, recordings: Path) -> None:
        self.recordings = recordings
        self.calls: list[str] = []

    def board_summary(self) -> BoardSummary:
        return {"spec": "e1:1,fxo:4,fxs:8", "channels": 42, "in_use": 3, "lines_down": ["fxo 4"],
                "alarms": ["span 1: red alarm"]}

    def line_test(self, a: int, b: int) -> str:
        if max(a, b) > 42:
            raise ValueError(f"no port {max(a, b)} on this board")
        self.calls.append(f"linetest {a} {b}")
        return f"line test {a} -> {b}: dial tone ok, ringing ok, answer ok, audio both ways ok"

    def service_control(self, action: str) -> str:
        self.calls.append(f"service {action}")
        return f"call service: {action} done"

    def factory_reset(self) -> str:
        self.calls.append("factory-reset")
        db.wipe(include_backups=True)
        db.off_hub(shutil.rmtree, self.recordings, True)
        return "wiped: database, backups, recordings"

    def network_changed(self) -> str:
        self.calls.append("network")
        return "network: reload requested"


@dataclass
class Env:
    pty: Pty
    console: Console
    box: Box
    config: ConsoleConfig
    link: Path

    def replug(self) -> Pty:
        self.pty = Pty(self.link)
        return self.pty


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    monkeypatch.setattr(console_module, "REOPEN_INTERVAL", 0.2)
    data = tmp_path / "data"
    db.init_db(data)
    (data / "recordings").mkdir()
    (tmp_path / "usb").mkdir()
    link = tmp_path / "ttyRX0"
    pty = Pty(link)
    config = ConsoleConfig(device=link, data_dir=data, network_dir=tmp_path / "network",
                           usb_dir=tmp_path / "usb", version="9.9-test", hostname="rexian-test")
    box = Box(data / "recordings")
    console = Console(config, box, Maintenance())
    console.start()
    environment = Env(pty, console, box, config, link)
    yield environment
    console.stop()
    environment.pty.close()
    db.close_db()


def first_boot(pty: Pty, password: str = MAINT_PW) -> None:
    pty.expect("First boot")
    pty.expect("New password: ")
    pty.line(password)
    pty.expect("Again: ")
    pty.line(password)
    pty.expect("Maintenance password set")


def login(pty: Pty, password: str = MAINT_PW) -> None:
    pty.expect(re.escape(LOGIN))
    pty.line(password)
    pty.expect("Welcome")
    pty.expect(re.escape(PROMPT))


def actions() -> list[str]:
    return [r.action for r in reversed(audit.recent(200)) if r.source == "console"]


# ---- tests --------------------------------------------------------------------------------------------


def test_first_boot_sets_the_password_then_login(env: Env) -> None:
    pty = env.pty
    pty.expect("Rexian")
    assert not users.has_maintenance_password()
    pty.expect("First boot")
    pty.expect("New password: ")
    pty.line("short")
    pty.expect("Too short")
    pty.expect("New password: ")
    pty.line(MAINT_PW)
    pty.expect("Again: ")
    pty.line(MAINT_PW + "x")
    pty.expect("differ")
    first_boot_again = pty.expect("New password: ")
    assert "Maintenance password set" not in first_boot_again
    pty.line(MAINT_PW)
    pty.expect("Again: ")
    pty.line(MAINT_PW)
    pty.expect("Maintenance password set")
    assert users.get_user(users.MAINTENANCE_USER) is not None
    pty.expect(re.escape(LOGIN))
    pty.line("not-the-password")
    pty.expect("Login failed")
    login(pty)
    assert MAINT_PW.encode() not in pty.transcript          # passwords are never echoed
    assert actions() == ["maintenance_password_set", "login_failed", "login"]
    out = pty.run("help")
    for word in ("status", "net set static", "ping HOST", "linetest A B", "service stop|start|restart",
                 "backup [data|usb]", "backups", "restore NAME", "reset-admin", "factory-reset", "logout"):
        assert word in out


def test_bad_logins_slow_down(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "THROTTLE_BASE", 0.6)
    pty = env.pty
    first_boot(pty)
    for _ in range(users.FREE_FAILURES - 1):
        pty.expect(re.escape(LOGIN))
        pty.line("wrong password 1")
        out = pty.expect("Login failed.*")
        assert "wait" not in out
    pty.expect(re.escape(LOGIN))
    pty.line("wrong password 5")
    pty.expect("too many failures, wait 1 s")
    t0 = time.monotonic()
    pty.line(MAINT_PW)                      # typed during the delay: thrown away, not tried
    pty.expect(re.escape(LOGIN))
    assert time.monotonic() - t0 >= 0.5
    gevent.sleep(0.1)
    assert "Welcome" not in pty.buf.decode()
    pty.line(MAINT_PW)
    pty.expect("Welcome")
    assert actions().count("login_failed") == 5 and actions()[-1] == "login"


def test_status_shows_the_box(env: Env) -> None:
    pty = env.pty
    first_boot(pty)
    login(pty)
    out = pty.run("status")
    assert "Rexian 9.9-test" in out and "rexian-test" in out
    assert "uptime: system" in out
    assert "e1:1,fxo:4,fxs:8, channels 42, in use 使用中 3" in out
    assert "lines down: fxo 4" in out
    assert "alarms: span 1: red alarm" in out
    assert re.search(r"disk free: [\d.]+ [KMG]iB of [\d.]+ [KMG]iB", out)
    assert "last backup: never" in out
    pty.run("backup")
    assert "last backup: 20" in pty.run("status")
    assert "status" in actions()


def test_net_set_validates_and_writes_the_file_atomically(env: Env) -> None:
    pty = env.pty
    first_boot(pty)
    login(pty)
    target = env.config.network_dir / netcfg.NETWORK_FILE
    bad = [
        "net set static 999.1.1.1/24 192.168.1.1 8.8.8.8",
        "net set static 192.168.1.10 192.168.1.1 8.8.8.8",           # no prefix
        "net set static 192.168.1.10/24 10.0.0.1 8.8.8.8",            # gateway elsewhere
        "net set static 192.168.1.0/24 192.168.1.1 8.8.8.8",          # network address
        "net set static 192.168.1.10/24 192.168.1.10 8.8.8.8",        # gateway = self
        "net set static 192.168.1.10/4 192.168.1.1 8.8.8.8",          # prefix
        "net set static 127.0.0.5/8 127.0.0.1 8.8.8.8",               # loopback
        "net set static 192.168.1.10/24 192.168.1.1 8.8.8.8;reboot",
        "net set static ../../etc/passwd/24 192.168.1.1 8.8.8.8",
        "net set static 192.168.1.10/24 192.168.1.1",
        "net set static 192.168.1.10/24 192.168.1.1 8.8.8.8 extra",
        "net set dhcp now",
        "net delete",
    ]
    for command in bad:
        out = pty.run(command)
        assert "error" in out, command
        assert not target.exists(), command
    out = pty.run("net set static 192.168.1.10/24 192.168.1.1 192.168.1.1,114.114.114.114")
    assert "written" in out and "reload requested" in out
    text = target.read_text()
    assert "Address=192.168.1.10/24\nGateway=192.168.1.1\nDNS=192.168.1.1\nDNS=114.114.114.114\n" in text
    assert "[Match]\nName=en* eth*\n" in text
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in env.config.network_dir.iterdir()] == [netcfg.NETWORK_FILE]   # no temp left
    assert "Address=192.168.1.10/24" in pty.run("net show")
    pty.run("net set dhcp")
    assert "DHCP=yes" in target.read_text() and "Address" not in target.read_text()
    assert env.box.calls == ["network", "network"]
    net_rows = [r for r in audit.recent(100) if r.action == "net"]
    assert sum(r.details.get("result") == "refused" for r in net_rows) == len(bad)
    assert any(r.details.get("address") == "192.168.1.10/24" for r in net_rows)


def test_backup_backups_restore(env: Env) -> None:
    pty = env.pty
    first_boot(pty)
    login(pty)
    out = pty.run("backup")
    name = re.search(r"backup written: (rexian-\d{8}-\d{6}\.db), [\d.]+ KiB, integrity ok", out)
    assert name, out
    out = pty.run("backup usb")
    usb_name = re.search(r"backup written: (usb:rexian-\d{8}-\d{6}(?:-\d+)?\.db)", out)
    assert usb_name, out
    listing = pty.run("backups")
    assert name.group(1) in listing and usb_name.group(1) in listing
    users.create_user("agent1", "agent one password", "agent")   # made after the backup
    # names only from the listing: no paths
    for bogus in ("../x", "../../data/rexian.db", "/etc/passwd", "rexian.db", "usb:../rexian.db"):
        assert "no backup of that name" in pty.run(f"restore {bogus}")
    pty.line(f"restore {name.group(1)}")
    pty.expect(r"\[yes\]: ")
    pty.line("no")
    pty.expect("nothing changed")
    pty.expect(re.escape(PROMPT))
    assert users.get_user("agent1") is not None
    pty.line(f"restore {name.group(1)}")
    pty.expect(r"\[yes\]: ")
    pty.line("yes")
    pty.expect("restored rexian-")
    pty.expect("Logged out")
    assert users.get_user("agent1") is None                       # back to the backup's content
    assert (env.config.data_dir / "rexian.db.bak").exists()
    login(pty)
    restored_actions = actions()
    assert restored_actions[-3:] == ["restore", "logout", "login"]
    assert "backup" not in restored_actions                       # that row was made after the copy
    refused = [r for r in audit.recent(50) if r.action == "restore" and r.details.get("result") == "refused"]
    assert refused == []                                          # those went with the replaced db
    bak_rows = [r for r in audit.recent(50) if r.action == "backup"]
    assert bak_rows == []


def test_restore_refuses_a_damaged_backup(env: Env) -> None:
    pty = env.pty
    first_boot(pty)
    login(pty)
    out = pty.run("backup")
    name = re.search(r"(rexian-\d{8}-\d{6}\.db)", out)
    assert name
    (env.config.backup_dir / name.group(1)).write_bytes(os.urandom(8192))
    pty.line(f"restore {name.group(1)}")
    pty.expect(r"\[yes\]: ")
    pty.line("yes")
    out = pty.expect(re.escape(PROMPT))
    assert "refused" in out and "integrity" in out
    assert pty.run("status")                                       # still logged in, still working
    assert not (env.config.data_dir / "rexian.db.bak").exists()


def test_reset_admin(env: Env) -> None:
    pty = env.pty
    first_boot(pty)
    login(pty)
    assert users.needs_setup()
    pty.line("reset-admin")
    pty.expect("New password: ")
    pty.line("web admin pass 1")
    pty.expect("Again: ")
    pty.line("web admin pass 1")
    pty.expect("Password of admin 'admin' reset")
    assert not users.needs_setup()
    assert users.verify_password("admin", "web admin pass 1").ok
    pty.expect(re.escape(PROMPT))
    pty.line("reset-admin")
    pty.expect("New password: ")
    pty.line("web admin pass 2")
    pty.expect("Again: ")
    pty.line("web admin pass 3")
    pty.expect("differ")
    pty.expect(re.escape(PROMPT))
    assert users.verify_password("admin", "web admin pass 1").ok
    pty.line("reset-admin")
    pty.expect("New password: ")
    pty.line("web admin pass 2")
    pty.expect("Again: ")
    pty.line("web admin pass 2")
    pty.expect("reset")
    assert users.verify_password("admin", "web admin pass 2").ok
    assert not users.verify_password("admin", "web admin pass 1").ok
    assert [u.username for u in users.list_users()] == ["maintenance", "admin"]
    assert b"web admin pass" not in pty.transcript
    assert actions().count("reset-admin") == 3


def test_factory_reset_needs_the_confirmation_word(env: Env) -> None:
    pty = env.pty
    first_boot(pty)
    login(pty)
    pty.run("backup")
    (env.config.data_dir / "recordings" / "call-1.wav").write_bytes(b"RIFF")
    pty.line("factory-reset")
    word = re.search(r"Type (RESET-[A-Z0-9]{4}) to confirm", pty.expect(r"to confirm: "))
    assert word
    pty.line("RESET")
    pty.expect("Not confirmed")
    pty.expect(re.escape(PROMPT))
    assert users.has_maintenance_password() and "factory-reset" not in env.box.calls
    pty.line("factory-reset")
    word = re.search(r"Type (RESET-[A-Z0-9]{4}) to confirm", pty.expect(r"to confirm: "))
    assert word
    pty.line(word.group(1))
    pty.expect("wiped: database, backups, recordings")
    pty.expect("Logged out")
    first_boot(pty, "a new maintenance pw")                  # the box is new again
    login(pty, "a new maintenance pw")
    assert env.box.calls == ["factory-reset"]
    assert not (env.config.data_dir / "recordings").exists()
    assert not env.config.backup_dir.exists()
    assert actions() == ["factory-reset", "logout", "maintenance_password_set", "login"]


def test_junk_at_the_wrong_baud_rate_does_not_hurt(env: Env) -> None:
    pty = env.pty
    first_boot(pty)
    login(pty)
    rng = random.Random(20250101)
    # Ctrl-D alone on a line is the logout key: left out of the noise so that the session survives it.
    noise = bytes(rng.randrange(256) for _ in range(2048)).replace(b"\x04", b"")
    noise += b"\xff\xfe\xc3\x28\xe2\x82\xf0\x28\x8c\x28\xed\xa0\x80" + b"\x00" * 100     # invalid UTF-8, NUL
    noise += b"A" * 1500 + b"\r"                                  # a line over 1 KB
    noise += b"\x1b[" + b"9" * 40 + b"\x1b" + "状态".encode() * 300 + b"\r\n"
    pty.send(noise)
    pty.send(b"\x03")
    pty.line("help")
    pty.expect(r"reset-admin +new password for the web admin", timeout=15)
    pty.expect(re.escape(PROMPT))
    assert "Line too long" in pty.transcript.decode("utf-8", errors="replace")
    assert env.console.running and env.console.connections == 1
    assert "status" in pty.run("status").lower()
    # garbage at the password prompt is not counted as login attempts
    pty.line("logout")
    pty.expect(re.escape(LOGIN))
    pty.send(b"\xff\xfe\xfd\x80\x81\r" * 8)
    pty.expect("Garbled input ignored")
    time_before = time.monotonic()
    login(pty)
    assert time.monotonic() - time_before < 2
    assert "login_failed" not in actions()


def test_unplug_and_replug(env: Env) -> None:
    pty = env.pty
    first_boot(pty)
    login(pty)
    pty.close()                                                   # cable out
    gevent.sleep(0.5)
    assert not env.console.connected.is_set()
    assert env.console.running
    pty = env.replug()                                            # cable in, on a new pty
    pty.expect("Rexian")
    login(pty)
    assert "e1:1,fxo:4,fxs:8" in pty.run("status")
    assert env.console.connections == 2
    logouts = [r for r in audit.recent(20) if r.action == "logout"]
    assert logouts and logouts[0].details == {"reason": "disconnected"}


def test_line_editing_and_logout_keys(env: Env) -> None:
    pty = env.pty
    first_boot(pty)
    login(pty)
    pty.send(b"helx\x7fp\r")                                      # backspace
    assert "factory-reset" in pty.expect(re.escape(PROMPT))
    pty.send(b"status\x03")                                       # Ctrl-C cancels the line
    out = pty.expect(re.escape(PROMPT))
    assert "^C" in out and "uptime" not in out
    pty.send(b"\x1b[A\x1b[Dstatus\r")                             # arrow keys are ignored
    assert "uptime" in pty.expect(re.escape(PROMPT))
    pty.send(b"bogus\r")
    assert "unknown command 'bogus'" in pty.expect(re.escape(PROMPT))
    pty.send(b"\x04")                                             # Ctrl-D logs out
    pty.expect("Logged out")
    pty.expect(re.escape(LOGIN))
    assert actions()[-1] == "logout"


def test_linetest_service_ping(env: Env) -> None:
    pty = env.pty
    first_boot(pty)
    login(pty)
    for command in ("linetest 1 1", "linetest a 2", "linetest 1", "linetest -1 2", "linetest 1 99999"):
        assert "error" in pty.run(command), command
    assert "no port 43" in pty.run("linetest 1 43")
    assert "audio both ways ok" in pty.run("linetest 1 5")
    assert "error" in pty.run("service reboot")
    assert "call service: restart done" in pty.run("service restart")
    for command in ("ping -f", "ping 8.8.8.8;ls", "ping $(id)", "ping", "ping a..b"):
        assert "error" in pty.run(command), command
    out = pty.run("ping 127.0.0.1", timeout=20)
    assert "127.0.0.1" in out or "ping is not installed" in out
    assert env.box.calls == ["linetest 1 5", "service restart"]
    rows = {(r.action, r.target): r.details.get("result") for r in audit.recent(50)}
    assert rows[("linetest", "1 5")] == "ok" and rows[("service", "reboot")] == "refused"
    assert rows[("ping", "127.0.0.1")] == "ok"


def test_idle_timeout_logs_out(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_module, "IDLE_TIMEOUT", 0.5)
    pty = env.pty
    first_boot(pty)
    login(pty)
    pty.expect("Idle timeout", timeout=3)
    pty.expect(re.escape(LOGIN))
    assert audit.recent(1)[0].details == {"reason": "idle"}


def test_stop_is_graceful(env: Env) -> None:
    pty = env.pty
    first_boot(pty)
    login(pty)
    t0 = time.monotonic()
    env.console.stop()
    assert time.monotonic() - t0 < console_module.STOP_GRACE
    assert not env.console.running
    pty.expect("console stopping")
