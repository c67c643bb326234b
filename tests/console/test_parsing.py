"""The console's pure parts: line editor, network input validation, host names for ping."""

from __future__ import annotations

import pytest

from appliance.console import netcfg
from appliance.console.commands import valid_host
from appliance.console.lineedit import MAX_LINE, Event, LineEditor


def feed(editor: LineEditor, data: bytes) -> list[Event]:
    return [e for e in (editor.push(b) for b in data) if e is not None]


def test_editing_keys() -> None:
    ed = LineEditor()
    assert feed(ed, b"stax\x7ftus\r\n") == [Event("line", "status")]        # CRLF is one Enter
    assert feed(ed, b"abc\x08\x08d\n") == [Event("line", "ad")]
    assert feed(ed, b"junk\x15help\r") == [Event("line", "help")]          # Ctrl-U
    assert feed(ed, b"half\x03") == [Event("cancel")]
    assert feed(ed, b"\x04") == [Event("eof")]
    assert feed(ed, b"x\x04y\r") == [Event("line", "xy")]                  # Ctrl-D only on an empty line
    assert feed(ed, b"\x1b[A\x1b[1;5Cok\x1bOB\r") == [Event("line", "ok")]  # escape sequences dropped
    runaway = feed(ed, b"\x1b[" + b"1" * 50 + b"\rnext\r")     # an endless escape is abandoned
    assert [e.kind for e in runaway] == ["line", "line"] and runaway[1].text == "next"


def test_garbage_is_contained() -> None:
    ed = LineEditor()
    events = feed(ed, b"\x00a\x00b\x07\x11\x13c\xff\xfe\r")
    assert events == [Event("line", "abc\ufffd\ufffd")]
    assert "\xff" not in ed.take_echo()
    events = feed(ed, b"x" * (MAX_LINE + 500) + b"\r")
    assert events == [Event("line", "x" * MAX_LINE, overflow=True)]
    assert feed(ed, "状态\r".encode()) == [Event("line", "状态")]
    ed.take_echo()
    feed(ed, "状".encode() + b"\x7f")
    assert ed.take_echo() == "状\b\b  \b\b"                                 # a wide character erased


def test_secret_input_is_not_echoed() -> None:
    ed = LineEditor()
    ed.reset(secret=True)
    assert feed(ed, b"hunter2-hunter2\r") == [Event("line", "hunter2-hunter2")]
    assert ed.take_echo() == "\r\n"


@pytest.mark.parametrize("args", [
    ["10.1.2.3/16", "10.1.0.1", "10.1.0.1"],
    ["192.168.100.20/24", "192.168.100.1", "192.168.100.1,223.5.5.5,114.114.114.114"],
    ["fd00::20/64", "fd00::1", "fd00::1"],
])
def test_static_accepted(args: list[str]) -> None:
    cfg = netcfg.parse_static(args)
    text = netcfg.render_static(cfg)
    assert f"Address={args[0]}" in text and f"Gateway={args[1]}" in text


@pytest.mark.parametrize("args", [
    ["10.1.2.3/16", "10.1.0.1"],
    ["10.1.2.3", "10.1.0.1", "8.8.8.8"],
    ["10.1.2.3/33", "10.1.0.1", "8.8.8.8"],
    ["010.1.2.3/16", "10.1.0.1", "8.8.8.8"],
    ["10.1.2.3/16", "10.2.0.1", "8.8.8.8"],
    ["10.1.255.255/16", "10.1.0.1", "8.8.8.8"],
    ["224.0.0.5/8", "224.0.0.1", "8.8.8.8"],
    ["0.0.0.0/8", "0.0.0.1", "8.8.8.8"],
    ["169.254.1.1/16", "169.254.0.1", "8.8.8.8"],
    ["10.1.2.3/16", "fd00::1", "8.8.8.8"],
    ["10.1.2.3/16", "10.1.0.1", "8.8.8.8,1.1.1.1,9.9.9.9,4.4.4.4"],
    ["10.1.2.3/16", "10.1.0.1", "8.8.8.8\nDHCP=yes"],
    ["10.1.2.3/16\n[Network]", "10.1.0.1", "8.8.8.8"],
    ["10.1.2.3/16", "10.1.0.1", ""],
])
def test_static_refused(args: list[str]) -> None:
    with pytest.raises(netcfg.NetConfigError):
        netcfg.parse_static(args)


@pytest.mark.parametrize(("text", "ok"), [
    ("192.168.1.1", True), ("gateway.local", True), ("fd00::1", True), ("a-b.example.cn", True),
    ("-f", False), ("a;b", False), ("$(id)", False), ("a b", False), ("a..b", False), ("", False),
    ("x" * 300, False), ("host-", False), ("例子.cn", False),
])
def test_ping_host(text: str, ok: bool) -> None:
    if ok:
        assert valid_host(text)
    else:
        with pytest.raises(ValueError):
            valid_host(text)
