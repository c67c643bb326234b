"""What the console needs from the database side, as a protocol.

The console does not import crm (it is a sibling layer, tests/test_layers.py): the service passes an
object of this shape -- ``appliance.crm.maintenance.Maintenance`` -- when it builds the Console.
Refusals (password policy, a backup that cannot be restored...) are ValueError with a message fit to
show.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol


class LoginOutcome(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def retry_after(self) -> float: ...     # seconds before another attempt is accepted (0: now)


class BackupOutcome(Protocol):
    @property
    def size(self) -> int: ...

    @property
    def problems(self) -> list[str]: ...    # integrity_check of the copy; empty when sound


class MaintenanceStore(Protocol):
    def has_maintenance_password(self) -> bool: ...

    def set_maintenance_password(self, password: str) -> None: ...

    def check_maintenance_password(self, password: str) -> LoginOutcome: ...

    def reset_admin_password(self, password: str) -> str: ...   # returns the admin's user name

    def audit(self, action: str, actor: str, target: str = "",
              details: Mapping[str, object] | None = None) -> None: ...

    def recent_audit(self, n: int) -> list[str]: ...

    def backup_to(self, path: Path) -> BackupOutcome: ...

    def restore_from(self, path: Path) -> str: ...

    def integrity_check(self) -> list[str]: ...
