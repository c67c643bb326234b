"""Users, roles and passwords.

No default accounts (ASVS 4.0.3 V2.5.4, 5.0 V6.3.2): a fresh database has no user at all, and
``needs_setup()`` stays true until the first admin is created. The maintenance account (role
``maintenance``, user ``MAINTENANCE_USER``) is created by the serial console at first boot.

Password storage: argon2id (argon2-cffi ``PasswordHasher``), m = 46 MiB, t = 2, p = 1, 16-byte salt,
32-byte hash. That is above both ASVS 5.0 Appendix C / OWASP cheat-sheet minimums (t=1 with m>=46 MiB,
or t=2 with m>=19 MiB; p=1), about 80 ms on an x86 core. Hashing runs in gevent's threadpool (it would
block the hub), at most ``HASH_CONCURRENCY`` at a time so that a login storm cannot use unbounded
memory; the queries run on the database thread (db.py). Verification is argon2's constant-time
comparison; an unknown user name is checked against a dummy hash so that it takes as long as a known
one. A hash made with older parameters is replaced on the next successful login.

Password rules: ``MIN_PASSWORD_LENGTH`` (10; ASVS 5.0 V6.2.1 asks >= 8, recommends 15) to
``MAX_PASSWORD_LENGTH`` (128, ASVS V6.2.9 asks that >= 64 be allowed) characters, no composition
rules, no control characters, not the user name, not one repeated character, not in a short list of
common passwords.

Brute force (ASVS 4.0.3 V2.2.1, 5.0 V6.1.1/V6.3.1): the first ``FREE_FAILURES - 1`` failures cost
nothing; from the ``FREE_FAILURES``-th consecutive failure on, the account refuses every attempt --
without looking at the password -- for THROTTLE_BASE * 2**(n - FREE_FAILURES) seconds, capped at
THROTTLE_CAP (60 s). So at most about 65 failures per hour are possible on one account (ASVS: no more
than 100), and no one can lock an account out for longer than THROTTLE_CAP: there is no permanent
lockout. The count restarts after a success, a password reset, or FAILURE_WINDOW without failures.
"""

from __future__ import annotations

import datetime as _dt
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

import gevent.lock
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from peewee import AutoField, BooleanField, FloatField, IntegerField, Model, TextField

from appliance.crm.db import database_proxy, db_task, off_hub

ROLES: Final = ("agent", "team_leader", "supervisor", "technician", "admin", "maintenance")
Role = Literal["agent", "team_leader", "supervisor", "technician", "admin", "maintenance"]
MAINTENANCE_USER: Final = "maintenance"

ARGON2_TIME_COST = 2
ARGON2_MEMORY_KIB = 47104       # 46 MiB
ARGON2_PARALLELISM = 1
ARGON2_HASH_LEN = 32
ARGON2_SALT_LEN = 16
HASH_CONCURRENCY = 1            # one hash at a time: CPU left for the media engine and the hub

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
USERNAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")

FREE_FAILURES = 5               # the 5th consecutive failure starts the delays
THROTTLE_BASE = 1.0             # seconds after the FREE_FAILURES-th failure, doubling after each further one
THROTTLE_CAP = 60.0             # the longest delay: no permanent lockout, <= ~65 failures/hour
FAILURE_WINDOW = 3600.0         # failures older than this are forgotten

# Very common passwords of the allowed length (a short stand-in for a top-N list).
COMMON_PASSWORDS: Final = frozenset({
    "1234567890", "0123456789", "0987654321", "12345678910", "123456789a", "a123456789", "1q2w3e4r5t",
    "qwertyuiop", "qwerty1234", "asdfghjkl;", "password12", "password123", "password1!", "passw0rd123",
    "iloveyou12", "abcdefghij", "abc1234567", "1234567890a", "admin12345", "admin123456", "rexian1234",
    "rexian12345", "maintenance", "woaini1314", "5201314520", "1234qwerasdf", "zxcvbnm123", "aa12345678",
})

_hash_slots = gevent.lock.BoundedSemaphore(HASH_CONCURRENCY)
_dummy_hash: str | None = None


class UserError(ValueError):
    """A user operation was refused (the message says why and can be shown)."""


class PasswordPolicyError(UserError):
    pass


class UnknownUser(UserError):
    pass


class UserExists(UserError):
    pass


class User(Model):
    id = AutoField()
    username = TextField(unique=True)
    role = TextField()
    password_hash = TextField()
    created_at = TextField()
    password_changed_at = TextField()
    disabled = BooleanField(default=False)
    failed_count = IntegerField(default=0)
    last_failed_at = FloatField(default=0.0)
    next_attempt_at = FloatField(default=0.0)

    class Meta:
        database = database_proxy
        table_name = "users"


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    role: str
    created_at: str
    disabled: bool


@dataclass(frozen=True)
class AuthResult:
    ok: bool
    reason: Literal["ok", "bad_credentials", "throttled", "disabled"]
    user: UserInfo | None = None
    retry_after: float = 0.0    # seconds until the account accepts another attempt (0: now)

    def __bool__(self) -> bool:
        return self.ok


def _now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _info(row: User) -> UserInfo:
    return UserInfo(int(row.id), str(row.username), str(row.role), str(row.created_at), bool(row.disabled))


def hasher() -> PasswordHasher:
    return PasswordHasher(
        time_cost=ARGON2_TIME_COST, memory_cost=ARGON2_MEMORY_KIB, parallelism=ARGON2_PARALLELISM,
        hash_len=ARGON2_HASH_LEN, salt_len=ARGON2_SALT_LEN, type=Type.ID,
    )


# ---- hashing off the hub ----------------------------------------------------------------------------------


def _hash_worker(password: str) -> str:
    return hasher().hash(password)


def _verify_worker(encoded: str, password: str) -> tuple[bool, bool]:
    """(matches, needs_rehash) -- in a worker thread."""
    ph = hasher()
    try:
        ph.verify(encoded, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return True, ph.check_needs_rehash(encoded)


def hash_password(password: str) -> str:
    """argon2id hash (``$argon2id$v=19$m=...``), computed in the threadpool."""
    with _hash_slots:
        return off_hub(_hash_worker, password)


def _verify_hash(encoded: str, password: str) -> tuple[bool, bool]:
    with _hash_slots:
        return off_hub(_verify_worker, encoded, password)


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(24))
    return _dummy_hash


# ---- policy --------------------------------------------------------------------------------------------


def normalize_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_RE.fullmatch(name):
        raise UserError("user name: 1-32 characters a-z 0-9 . _ -, starting with a letter or digit")
    return name


def check_password_policy(password: str, username: str = "") -> None:
    """Raise PasswordPolicyError if ``password`` may not be set (message fit to show)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password too long: at most {MAX_PASSWORD_LENGTH} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") or c == "\ufffd" for c in password):
        raise PasswordPolicyError("password contains control or invalid characters")
    if len(set(password)) == 1:
        raise PasswordPolicyError("password is one repeated character")
    folded = password.casefold()
    if username and folded == username.casefold():
        raise PasswordPolicyError("password equals the user name")
    if folded in COMMON_PASSWORDS:
        raise PasswordPolicyError("password is too common")


# ---- queries (on the database thread) -------------------------------------------------------------------


@db_task
def get_user(username: str) -> UserInfo | None:
    row = User.get_or_none(User.username == username.strip().lower())
    return _info(row) if row is not None else None


@db_task
def list_users() -> list[UserInfo]:
    return [_info(r) for r in User.select().order_by(User.id)]


@db_task
def first_admin() -> UserInfo | None:
    row = User.select().where(User.role == "admin").order_by(User.id).first()
    return _info(row) if row is not None else None


@db_task
def needs_setup() -> bool:
    """True until an (enabled) admin exists: the web UI then offers only the first-admin form."""
    return not User.select().where((User.role == "admin") & (User.disabled == False)).exists()  # noqa: E712


@db_task
def has_maintenance_password() -> bool:
    return bool(User.select().where(User.username == MAINTENANCE_USER).exists())


@db_task
def set_disabled(username: str, disabled: bool) -> None:
    if not User.update(disabled=disabled).where(User.username == username.strip().lower()).execute():
        raise UnknownUser(f"no user {username!r}")


@db_task
def _insert_user(name: str, role: str, encoded: str) -> UserInfo:
    now = _now_iso()
    with database_proxy.atomic():
        if User.select().where(User.username == name).exists():
            raise UserExists(f"user {name!r} exists")
        row = User.create(username=name, role=role, password_hash=encoded, created_at=now,
                          password_changed_at=now)
    return _info(row)


@db_task
def _store_password(name: str, encoded: str) -> UserInfo:
    updated = (User.update(password_hash=encoded, password_changed_at=_now_iso(), failed_count=0,
                           last_failed_at=0.0, next_attempt_at=0.0)
               .where(User.username == name).execute())
    row = User.get_or_none(User.username == name)
    if not updated or row is None:
        raise UnknownUser(f"no user {name!r}")
    return _info(row)


@dataclass(frozen=True)
class _LoginRow:
    id: int
    password_hash: str
    disabled: bool
    next_attempt_at: float


@db_task
def _login_row(name: str) -> _LoginRow | None:
    row = User.get_or_none(User.username == name)
    if row is None:
        return None
    return _LoginRow(int(row.id), str(row.password_hash), bool(row.disabled), float(row.next_attempt_at))


@db_task
def _login_succeeded(user_id: int, new_hash: str | None) -> UserInfo | None:
    fields: dict[str, object] = {"failed_count": 0, "last_failed_at": 0.0, "next_attempt_at": 0.0}
    if new_hash is not None:
        fields["password_hash"] = new_hash
    User.update(**fields).where(User.id == user_id).execute()
    row = User.get_or_none(User.id == user_id)
    return _info(row) if row is not None else None


@db_task
def _login_failed(user_id: int, now: float) -> float:
    """Count one failure (read-modify-write, atomic on the database thread); returns the delay."""
    row = User.get_or_none(User.id == user_id)
    if row is None:
        return 0.0
    stale = now - float(row.last_failed_at) > FAILURE_WINDOW
    failures = 1 if stale else int(row.failed_count) + 1
    delay = throttle_delay(failures)
    (User.update(failed_count=failures, last_failed_at=now, next_attempt_at=now + delay if delay else 0.0)
     .where(User.id == user_id).execute())
    return delay


# ---- changes ------------------------------------------------------------------------------------------


def create_user(username: str, password: str, role: str) -> UserInfo:
    """Create a user; raises UserError (bad name or role), UserExists, PasswordPolicyError."""
    name = normalize_username(username)
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    check_password_policy(password, name)
    if get_user(name) is not None:
        raise UserExists(f"user {name!r} exists")
    return _insert_user(name, role, hash_password(password))


def reset_password(username: str, new_password: str) -> UserInfo:
    """Set a new password (the console uses it for the admin); also clears the failure count."""
    name = username.strip().lower()
    if get_user(name) is None:
        raise UnknownUser(f"no user {name!r}")
    check_password_policy(new_password, name)
    return _store_password(name, hash_password(new_password))


def set_maintenance_password(password: str) -> UserInfo:
    """Create the maintenance account with this password, or change its password."""
    if has_maintenance_password():
        return reset_password(MAINTENANCE_USER, password)
    return create_user(MAINTENANCE_USER, password, "maintenance")


# ---- authentication ---------------------------------------------------------------------------------------


def throttle_delay(failures: int) -> float:
    """Seconds an account waits after ``failures`` consecutive failures."""
    if failures < FREE_FAILURES:
        return 0.0
    exponent = min(failures - FREE_FAILURES, 32)
    return float(min(THROTTLE_BASE * (2 ** exponent), THROTTLE_CAP))


def verify_password(username: str, password: str) -> AuthResult:
    """Check a login. Never raises for bad input; see AuthResult.reason and retry_after."""
    try:
        name = normalize_username(username)
    except UserError:
        name = ""
    row = _login_row(name) if name else None
    now = time.time()
    if row is not None and row.next_attempt_at > now:
        return AuthResult(False, "throttled", None, row.next_attempt_at - now)
    if len(password) > MAX_PASSWORD_LENGTH:
        password = password[: MAX_PASSWORD_LENGTH + 1]   # cannot match; still costs one hash
    if row is None:
        _verify_hash(_dummy(), password)   # same cost as a real check: no user-name oracle
        return AuthResult(False, "bad_credentials")
    ok, rehash = _verify_hash(row.password_hash, password)
    if ok:
        info = _login_succeeded(row.id, hash_password(password) if rehash else None)
        if row.disabled or info is None:
            return AuthResult(False, "disabled")
        return AuthResult(True, "ok", info)
    delay = _login_failed(row.id, time.time())
    return AuthResult(False, "bad_credentials", None, delay)
