"""The console's configuration (given by the service from its TOML config)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from appliance.console.netcfg import DEFAULT_MATCH


@dataclass(frozen=True)
class ConsoleConfig:
    device: Path                    # /dev/ttyS0 on the box; a pty (or a link to one) in tests
    data_dir: Path                  # the appliance data dir: disk free, <data_dir>/backups
    network_dir: Path               # where netcfg.NETWORK_FILE is written (read by systemd-networkd)
    baudrate: int = 115200
    usb_dir: Path | None = None     # mount point of a USB stick for 'backup usb' (None: no USB)
    net_match: str = DEFAULT_MATCH  # [Match] Name= of the network file
    version: str = ""               # "" -> the installed package's version
    hostname: str = ""              # "" -> socket.gethostname()

    @property
    def backup_dir(self) -> Path:
        return self.data_dir / "backups"
