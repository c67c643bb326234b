"""The [web] section of the config file."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

DEFAULT_ALLOW = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
MAX_BODY = 64 * 1024


class WebConfigError(ValueError):
    pass


@dataclass(frozen=True)
class WebConfig:
    bind: str = "127.0.0.1"
    port: int = 8080
    allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = field(
        default_factory=lambda: tuple(ipaddress.ip_network(n) for n in DEFAULT_ALLOW)
    )
    secure_cookies: bool = True  # cookies only over HTTPS; dev.toml turns it off for plain HTTP
    max_body: int = MAX_BODY

    def permits(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.allow)


def parse_web(raw: Any) -> WebConfig:
    if raw is None:
        return WebConfig()
    if not isinstance(raw, dict):
        raise WebConfigError("[web] must be a table")
    port = raw.get("port", 8080)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise WebConfigError("web.port must be a port number (0-65535)")
    bind = raw.get("bind", "127.0.0.1")
    if not isinstance(bind, str):
        raise WebConfigError("web.bind must be an address")
    allow_raw = raw.get("allow", list(DEFAULT_ALLOW))
    if not isinstance(allow_raw, list):
        raise WebConfigError('web.allow must be a list of networks such as "192.168.1.0/24"')
    try:
        allow = tuple(ipaddress.ip_network(str(n), strict=False) for n in allow_raw)
    except ValueError as exc:
        raise WebConfigError(f"web.allow: {exc}") from None
    secure = raw.get("secure_cookies", True)
    if not isinstance(secure, bool):
        raise WebConfigError("web.secure_cookies must be true or false")
    max_body = raw.get("max_body", MAX_BODY)
    if not isinstance(max_body, int) or not 1024 <= max_body <= 16 * 1024 * 1024:
        raise WebConfigError("web.max_body must be bytes from 1024 to 16 MiB")
    return WebConfig(bind=bind, port=port, allow=allow, secure_cookies=secure, max_body=max_body)
