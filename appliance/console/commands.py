"""The console's commands (ASCII words; 'help' lists them).

Each command takes the session and its arguments, validates them strictly, and returns details for
the audit log; ``run_command`` audits every command it runs (source 'console') with its outcome.
No file path is ever taken from input: backups are named by the console and chosen from a listing,
the network file's name and directory come from the configuration.
"""

from __future__ import annotations

import importlib.metadata
import ipaddress
import logging
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gevent import subprocess

from appliance.console import netcfg
from appliance.console.session import (
    ConsoleStopping,
    EndOfInput,
    IdleTimeout,
    LineCancelled,
    Session,
    protect,
)
from appliance.console.tty import DeviceGone

log = logging.getLogger(__name__)

PROVIDER_TIMEOUT = 30.0         # seconds for a provider call (status, service control, network apply)
LINE_TEST_TIMEOUT = 90.0        # a line test places a real call
FACTORY_RESET_TIMEOUT = 300.0
PING_TIMEOUT = 15.0             # the whole ping run (-c 3 -W 1 normally takes ~3 s)
TOOL_TIMEOUT = 5.0              # other helper programs (ip)
MAX_TOOL_OUTPUT = 4000          # characters of a helper program's output shown
MAX_PORT = 4096
AUDIT_DEFAULT, AUDIT_MAX = 20, 200

BACKUP_NAME_RE = re.compile(r"rexian-\d{8}-\d{6}(?:-\d{1,3})?\.db")
USB_PREFIX = "usb:"
HOST_RE = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
CONFIRM_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_UNSAFE_OUTPUT_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

Details = dict[str, object]


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    run: Callable[[Session, list[str]], Details | None]


# ---- helpers ------------------------------------------------------------------------------------------


def human_size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def human_duration(seconds: float) -> str:
    s = int(max(0, seconds))
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    return f"{days} d {hours:02d}:{minutes:02d}:{s:02d}"


def _uptimes() -> tuple[float | None, float | None]:
    """(system uptime, this process's uptime) in seconds, from /proc."""
    try:
        with open("/proc/uptime", encoding="ascii") as f:
            system = float(f.read().split()[0])
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rpartition(")")[2].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")     # field 22: starttime
        return system, system - started
    except (OSError, ValueError, IndexError):
        return None, None


def _version(s: Session) -> str:
    if s.config.version:
        return s.config.version
    try:
        return importlib.metadata.version("rexian")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


def _clean_output(text: str) -> str:
    text = _UNSAFE_OUTPUT_RE.sub("?", text.replace("\r\n", "\n"))
    return text if len(text) <= MAX_TOOL_OUTPUT else text[:MAX_TOOL_OUTPUT] + "\n..."


def _run_tool(argv: list[str], timeout: float) -> str:
    """Run a helper program (argv list, no shell) through gevent.subprocess; its output or why not."""
    if shutil.which(argv[0]) is None:
        return f"({argv[0]} is not installed)"
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout, check=False)
    except FileNotFoundError:
        return f"({argv[0]} is not installed)"
    except subprocess.TimeoutExpired:
        return f"({argv[0]} did not finish within {timeout:.0f} s and was stopped)"
    out = _clean_output(proc.stdout.decode("utf-8", errors="replace")).rstrip()
    return out if proc.returncode == 0 else f"{out}\n({argv[0]} exit status {proc.returncode})"


def list_backups(s: Session) -> dict[str, Path]:
    """Backups by their display name: ``rexian-...db`` in the data dir, ``usb:rexian-...db`` on USB."""
    found: dict[str, Path] = {}
    places: list[tuple[str, Path]] = [("", s.config.backup_dir)]
    if s.config.usb_dir is not None:
        places.append((USB_PREFIX, s.config.usb_dir))
    for prefix, directory in places:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            if BACKUP_NAME_RE.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                found[prefix + entry.name] = Path(entry.path)
    return found


def _new_backup_path(directory: Path) -> Path:
    stem = time.strftime("rexian-%Y%m%d-%H%M%S")
    path = directory / f"{stem}.db"
    n = 1
    while path.exists() and n < 1000:
        n += 1
        path = directory / f"{stem}-{n}.db"
    return path


def _port(text: str) -> int:
    if not re.fullmatch(r"\d{1,4}", text) or not 1 <= int(text) <= MAX_PORT:
        raise ValueError(f"port {text[:8]!r}: a number 1..{MAX_PORT}")
    return int(text)


def valid_host(text: str) -> str:
    """An IP address or a host name (letters, digits, '-', '.'), else ValueError."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if HOST_RE.fullmatch(text):
        return text
    raise ValueError("host: an IP address or a host name (letters, digits, '-' and '.')")


# ---- commands -----------------------------------------------------------------------------------------


def cmd_help(s: Session, args: list[str]) -> Details | None:
    s.say("命令 Commands:")
    width = max(len(c.usage) for c in s.commands.values())
    for c in s.commands.values():
        s.say(f"  {c.usage.ljust(width)}  {c.summary}")
    s.say("Keys: Backspace erases, Ctrl-C cancels the line, Ctrl-D logs out.")
    return None


def cmd_status(s: Session, args: list[str]) -> Details | None:
    cfg = s.config
    s.say(f"Rexian {_version(s)}   host 主机 {cfg.hostname or socket.gethostname()}")
    system_up, process_up = _uptimes()
    if system_up is not None and process_up is not None:
        s.say(f"运行时间 uptime: system {human_duration(system_up)}, service {human_duration(process_up)}")
    try:
        board = protect(s.provider.board_summary, "board status", PROVIDER_TIMEOUT)
    except ValueError as exc:
        s.say(f"板卡 board: unavailable ({exc})")
    else:
        s.say(f"板卡 board: {board.get('spec', '?')}, channels {board.get('channels', '?')}, "
              f"in use 使用中 {board.get('in_use', '?')}")
        down = ", ".join(map(str, board.get("lines_down", []))) or "none 无"
        alarms = ", ".join(map(str, board.get("alarms", []))) or "none 无"
        s.say(f"线路故障 lines down: {down}")
        s.say(f"告警 alarms: {alarms}")
    try:
        usage = shutil.disk_usage(cfg.data_dir)
        s.say(f"数据盘 disk free: {human_size(usage.free)} of {human_size(usage.total)} "
              f"({100 * usage.free / max(usage.total, 1):.0f}% free) in {cfg.data_dir}")
    except OSError as exc:
        s.say(f"数据盘 disk free: unknown ({exc.strerror})")
    stamps: list[tuple[float, str]] = []
    for name, path in list_backups(s).items():
        try:
            stamps.append((path.stat().st_mtime, name))
        except OSError:
            continue
    if stamps:
        mtime, newest = max(stamps)
        s.say(f"最近备份 last backup: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(mtime))} ({newest})")
    else:
        s.say("最近备份 last backup: never 从未")
    return None


def cmd_net(s: Session, args: list[str]) -> Details | None:
    usage = "usage: net show | net set static IP/PREFIX GATEWAY DNS[,DNS] | net set dhcp"
    if args == ["show"]:
        current = netcfg.read_network_file(s.config.network_dir)
        if current is None:
            s.say("网络 network: factory default (DHCP); the console has written no setting")
        else:
            s.say(f"网络 network ({netcfg.NETWORK_FILE}):")
            for line in current.splitlines():
                if line and not line.startswith(("#", "[")):
                    s.say("  " + _clean_output(line))
        s.say("当前地址 addresses now:")
        s.say(_run_tool(["ip", "-brief", "address"], TOOL_TIMEOUT))
        return None
    if len(args) >= 2 and args[0] == "set" and args[1] in ("static", "dhcp"):
        details: Details
        if args[1] == "dhcp":
            if len(args) != 2:
                raise ValueError(usage)
            content = netcfg.render_dhcp(s.config.net_match)
            details = {"mode": "dhcp"}
        else:
            static = netcfg.parse_static(args[2:])
            content = netcfg.render_static(static, s.config.net_match)
            details = {"mode": "static", "address": static.interface.with_prefixlen,
                       "gateway": str(static.gateway), "dns": [str(d) for d in static.dns]}
        path = netcfg.write_network_file(s.config.network_dir, content)
        s.say(f"已写入 written: {path.name}")
        s.say(protect(s.provider.network_changed, "network apply", PROVIDER_TIMEOUT))
        return details
    raise ValueError(usage)


def cmd_ping(s: Session, args: list[str]) -> Details | None:
    if len(args) != 1:
        raise ValueError("usage: ping HOST")
    host = valid_host(args[0])
    s.say(_run_tool(["ping", "-c", "3", "-W", "1", host], PING_TIMEOUT))
    return {"host": host}


def cmd_linetest(s: Session, args: list[str]) -> Details | None:
    if len(args) != 2:
        raise ValueError("usage: linetest A B   (two port numbers)")
    a, b = _port(args[0]), _port(args[1])
    if a == b:
        raise ValueError("the two ports must differ")
    s.say(f"测试中 testing {a} -> {b} ...")
    result = protect(lambda: s.provider.line_test(a, b), "line test", LINE_TEST_TIMEOUT)
    s.say(result)
    return {"a": a, "b": b, "reply": result[:200]}


def cmd_service(s: Session, args: list[str]) -> Details | None:
    if len(args) != 1 or args[0] not in ("stop", "start", "restart"):
        raise ValueError("usage: service stop|start|restart")
    result = protect(lambda: s.provider.service_control(args[0]), f"service {args[0]}", PROVIDER_TIMEOUT)
    s.say(result)
    return {"action": args[0], "reply": result[:200]}


def cmd_backup(s: Session, args: list[str]) -> Details | None:
    where = args[0] if args else "data"
    if len(args) > 1 or where not in ("data", "usb"):
        raise ValueError("usage: backup [data|usb]")
    prefix = ""
    if where == "usb":
        usb = s.config.usb_dir
        if usb is None or not usb.is_dir():
            raise ValueError("no USB stick mounted 未插入U盘")
        directory, prefix = usb, USB_PREFIX
    else:
        directory = s.config.backup_dir
        directory.mkdir(parents=True, exist_ok=True)
    path = _new_backup_path(directory)
    s.say(f"备份中 backing up to {prefix}{path.name} ...")
    result = s.store.backup_to(path)
    verdict = "integrity ok 完整性正常" if not result.problems else "INTEGRITY PROBLEMS: " + "; ".join(
        result.problems[:3])
    s.say(f"备份完成 backup written: {prefix}{path.name}, {human_size(result.size)}, {verdict}")
    return {"name": prefix + path.name, "size": result.size, "integrity": result.problems[:3] or "ok"}


def cmd_backups(s: Session, args: list[str]) -> Details | None:
    found = list_backups(s)
    if not found:
        s.say("没有备份 no backups")
        return None
    for name, path in found.items():
        st = path.stat()
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.st_mtime))
        s.say(f"  {name}  {human_size(st.st_size):>10}  {when}")
    return None


def cmd_restore(s: Session, args: list[str]) -> Details | None:
    if len(args) != 1:
        raise ValueError("usage: restore NAME   (a name from 'backups')")
    found = list_backups(s)
    path = found.get(args[0])
    if path is None:
        raise ValueError("no backup of that name; 'backups' lists them 无此备份")
    if not s.confirm(f"Restore {args[0]} over the current database? The current one is kept as "
                     "rexian.db.bak. 确认恢复?"):
        s.say("已取消 cancelled: nothing changed")
        return {"name": args[0], "confirmed": False}
    s.say(s.store.restore_from(path))
    s.say("请重新登录 Log in again (the restored database has its own maintenance password). "
          "Restart the service ('service restart') so that every part reloads.")
    s.logout_requested = True
    return {"name": args[0], "confirmed": True}


def cmd_reset_admin(s: Session, args: list[str]) -> Details | None:
    if args:
        raise ValueError("usage: reset-admin")
    s.say("为网页管理员设置新密码 New password for the web admin (the first admin; 'admin' is created "
          "if there is none).")
    password = s.ask_new_password()
    if password is None:
        raise ValueError("password not changed")
    name = s.store.reset_admin_password(password)
    s.say(f"管理员密码已重置 Password of admin '{name}' reset.")
    return {"admin": name}


def cmd_factory_reset(s: Session, args: list[str]) -> Details | None:
    if args:
        raise ValueError("usage: factory-reset")
    word = "RESET-" + "".join(secrets.choice(CONFIRM_ALPHABET) for _ in range(4))
    s.say("!!! 恢复出厂设置 FACTORY RESET: deletes the database (customers, users, audit log, backups on")
    s.say("    the box) and every recording. This cannot be undone.")
    if s.ask(f"输入 Type {word} to confirm: ") != word:
        s.say("未确认 Not confirmed: nothing was deleted.")
        return {"confirmed": False}
    s.audit("factory_reset_started")
    result = protect(s.provider.factory_reset, "factory reset", FACTORY_RESET_TIMEOUT)
    s.say(result)
    s.logout_requested = True
    return {"confirmed": True, "reply": result[:200]}


def cmd_audit(s: Session, args: list[str]) -> Details | None:
    if len(args) > 1 or (args and not re.fullmatch(r"\d{1,3}", args[0])):
        raise ValueError(f"usage: audit [N]   (N up to {AUDIT_MAX})")
    n = min(int(args[0]) if args else AUDIT_DEFAULT, AUDIT_MAX)
    for line in reversed(s.store.recent_audit(n)):
        s.say(_clean_output(line))
    return None


def cmd_logout(s: Session, args: list[str]) -> Details | None:
    s.logout_requested = True
    return None


COMMANDS: dict[str, Command] = {c.name: c for c in (
    Command("help", "help", "this list 帮助", cmd_help),
    Command("status", "status", "version, uptime, board, alarms, disk, last backup 状态", cmd_status),
    Command("net", "net show | net set static IP/PREFIX GW DNS | net set dhcp", "LAN address 网络", cmd_net),
    Command("ping", "ping HOST", "ping a host 3 times", cmd_ping),
    Command("linetest", "linetest A B", "test call from port A to port B 线路测试", cmd_linetest),
    Command("service", "service stop|start|restart", "call handling service 服务", cmd_service),
    Command("backup", "backup [data|usb]", "back up the database 备份", cmd_backup),
    Command("backups", "backups", "list the backups 备份列表", cmd_backups),
    Command("restore", "restore NAME", "restore a listed backup 恢复", cmd_restore),
    Command("reset-admin", "reset-admin", "new password for the web admin 重置管理员密码", cmd_reset_admin),
    Command("factory-reset", "factory-reset", "wipe database and recordings 恢复出厂", cmd_factory_reset),
    Command("audit", "audit [N]", "the last N audit log entries 审计日志", cmd_audit),
    Command("logout", "logout", "log out 退出", cmd_logout),
)}


def run_command(s: Session, line: str) -> None:
    """Parse, run and audit one command line; only session-ending exceptions escape."""
    words = line.split()
    name = words[0].lower()
    command = s.commands.get(name)
    if command is None:
        shown = _UNSAFE_OUTPUT_RE.sub("?", words[0])[:32]
        s.say(f"未知命令 unknown command '{shown}'. Type 'help'.")
        return
    args = words[1:]
    target = " ".join(args)[:200]
    try:
        details = command.run(s, args)
    except LineCancelled:
        s.say("已取消 cancelled")
        s.audit(name, target, {"result": "cancelled"})
    except ValueError as exc:
        s.say(f"错误 error: {exc}")
        s.audit(name, target, {"result": "refused", "error": str(exc)[:200]})
    except (DeviceGone, ConsoleStopping, IdleTimeout, EndOfInput):
        s.audit(name, target, {"result": "interrupted"})
        raise
    except Exception as exc:
        log.exception("console command %s failed", name)
        s.say(f"内部错误 internal error: {type(exc).__name__}: {exc}")
        s.audit(name, target, {"result": "error", "error": f"{type(exc).__name__}: {exc}"[:200]})
    else:
        s.audit(name, target, {"result": "ok", **(details or {})})
