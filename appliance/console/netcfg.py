"""The LAN address, as a systemd-networkd ``.network`` file written by the console.

Input is validated strictly with ``ipaddress`` (one address with its prefix, a gateway inside that
network, one to three DNS servers) and only then rendered into a fixed template; nothing typed reaches
the file unvalidated, and the file's name and directory come from the configuration, never from input.
The file is replaced atomically: written to a temporary file in the same directory, fsynced, renamed
over the old one, the directory fsynced (in gevent's threadpool: fsync can be slow on flash).
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import gevent

NETWORK_FILE = "10-rexian.network"     # sorts before the image's 20-wired.network: it wins
DEFAULT_MATCH = "en* eth*"
MAX_DNS = 3
IPV4_PREFIXES = range(8, 31)           # /8 .. /30: a LAN with a gateway
IPV6_PREFIXES = range(16, 129)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


class NetConfigError(ValueError):
    """Input refused; the message says why."""


@dataclass(frozen=True)
class StaticConfig:
    interface: Interface
    gateway: Address
    dns: tuple[Address, ...]


def _host_ok(addr: Address, what: str) -> None:
    if addr.is_unspecified or addr.is_loopback or addr.is_multicast or addr.is_link_local or addr.is_reserved:
        raise NetConfigError(f"{what} {addr} is not a usable host address")


def parse_static(args: list[str]) -> StaticConfig:
    """``["192.168.1.10/24", "192.168.1.1", "192.168.1.1[,8.8.8.8]"]`` -> StaticConfig."""
    if len(args) != 3:
        raise NetConfigError("usage: net set static IP/PREFIX GATEWAY DNS[,DNS...]")
    text_if, text_gw, text_dns = args
    if "/" not in text_if:
        raise NetConfigError(f"{text_if!r}: give the address with its prefix, e.g. 192.168.1.10/24")
    try:
        iface = ipaddress.ip_interface(text_if)
    except ValueError:
        raise NetConfigError(f"{text_if!r} is not an IP address with prefix") from None
    prefixes = IPV4_PREFIXES if iface.version == 4 else IPV6_PREFIXES
    if iface.network.prefixlen not in prefixes:
        raise NetConfigError(
            f"prefix /{iface.network.prefixlen} out of range /{prefixes[0]}../{prefixes[-1]}")
    _host_ok(iface.ip, "address")
    net = iface.network
    if iface.version == 4 and iface.ip in (net.network_address, net.broadcast_address):
        raise NetConfigError(f"{iface.ip} is the network or broadcast address of {net}")
    try:
        gateway = ipaddress.ip_address(text_gw)
    except ValueError:
        raise NetConfigError(f"gateway {text_gw!r} is not an IP address") from None
    if gateway.version != iface.version or gateway not in net:
        raise NetConfigError(f"gateway {gateway} is not in {net}")
    if gateway == iface.ip:
        raise NetConfigError("gateway is the box's own address")
    if iface.version == 4 and gateway in (net.network_address, net.broadcast_address):
        raise NetConfigError(f"gateway {gateway} is the network or broadcast address of {net}")
    dns: list[Address] = []
    parts = text_dns.split(",")
    if not 1 <= len(parts) <= MAX_DNS:
        raise NetConfigError(f"1 to {MAX_DNS} DNS servers, separated by commas")
    for part in parts:
        try:
            server = ipaddress.ip_address(part)
        except ValueError:
            raise NetConfigError(f"DNS server {part!r} is not an IP address") from None
        if server.is_unspecified or server.is_multicast:
            raise NetConfigError(f"DNS server {server} is not usable")
        dns.append(server)
    return StaticConfig(iface, gateway, tuple(dns))


def render_static(cfg: StaticConfig, match: str = DEFAULT_MATCH) -> str:
    lines = [*_header(match), "[Network]", f"Address={cfg.interface.with_prefixlen}",
             f"Gateway={cfg.gateway}"]
    lines += [f"DNS={d}" for d in cfg.dns]
    return "\n".join(lines) + "\n"


def render_dhcp(match: str = DEFAULT_MATCH) -> str:
    return "\n".join([*_header(match), "[Network]", "DHCP=yes"]) + "\n"


def _header(match: str) -> list[str]:
    stamp = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return [f"# Written by the Rexian serial console ('net set') at {stamp}.", "", "[Match]",
            f"Name={match}", ""]


def _write_worker(directory: Path, content: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / NETWORK_FILE
    tmp = directory / f".{NETWORK_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, content.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return target


def write_network_file(directory: Path, content: str) -> Path:
    """Atomically replace ``<directory>/NETWORK_FILE`` with ``content`` (off the hub)."""
    return cast(Path, gevent.get_hub().threadpool.apply(_write_worker, (Path(directory), content)))


def read_network_file(directory: Path) -> str | None:
    try:
        return (Path(directory) / NETWORK_FILE).read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
