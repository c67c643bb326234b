"""The crm services the maintenance console needs, as one object.

The console (a layer beside crm, not above it: DESIGN.md, tests/test_layers.py) does not import crm;
the service hands it this object, which matches the console's ``MaintenanceStore`` protocol
(appliance/console/store.py) by shape. Every refusal is raised as ValueError with a message fit to
show on the console.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from appliance.crm import audit, db, users


class Maintenance:
    """The maintenance account, the admin reset, backup/restore and the audit log, for one source."""

    def __init__(self, source: str = "console") -> None:
        self.source = source

    # accounts
    def has_maintenance_password(self) -> bool:
        return users.has_maintenance_password()

    def set_maintenance_password(self, password: str) -> None:
        users.set_maintenance_password(password)

    def check_maintenance_password(self, password: str) -> users.AuthResult:
        return users.verify_password(users.MAINTENANCE_USER, password)

    def reset_admin_password(self, password: str) -> str:
        """New password for the first admin, or create 'admin' if there is none; returns the name."""
        admin = users.first_admin()
        if admin is None:
            return users.create_user("admin", password, "admin").username
        users.reset_password(admin.username, password)
        users.set_disabled(admin.username, False)
        return admin.username

    # audit
    def audit(self, action: str, actor: str, target: str = "",
              details: Mapping[str, object] | None = None) -> None:
        audit.record(action, actor=actor, source=self.source, target=target, details=details)

    def recent_audit(self, n: int) -> list[str]:
        return [r.line() for r in audit.recent(n)]

    # database files
    def backup_to(self, path: Path) -> db.BackupResult:
        return db.backup_to(path)

    def restore_from(self, path: Path) -> str:
        try:
            result = db.restore_from(path)
        except db.DatabaseError as exc:
            raise ValueError(str(exc)) from exc
        return (f"restored {Path(path).name} (schema version {result.version}, now {db.SCHEMA_VERSION}); "
                f"previous database kept as {result.backup.name}")

    def integrity_check(self) -> list[str]:
        return db.integrity_check()
