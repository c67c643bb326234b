"""Users: no default account, argon2id hashes, policy, throttling without permanent lockout, reset."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import gevent
import pytest
from hubguard import MAX_BLOCKING_TIME

from appliance.crm import db, users

GOOD = "correct horse battery"


def test_no_default_user_and_setup_needed(data_dir: Path) -> None:
    assert users.list_users() == []
    assert users.needs_setup()
    assert not users.has_maintenance_password()
    for name in ("admin", "root", "maintenance"):
        assert not users.verify_password(name, "admin").ok
    users.create_user("agent7", GOOD, "agent")
    assert users.needs_setup()                          # an agent is not an admin
    users.create_user("Boss", GOOD, "admin")
    assert not users.needs_setup()
    assert users.first_admin() == users.get_user("boss")


def test_hash_is_argon2id_with_the_stated_parameters(data_dir: Path) -> None:
    users.create_user("alice", GOOD, "supervisor")
    stored = db.execute("SELECT password_hash FROM users WHERE username = ?", ["alice"])[0][0]
    assert stored.startswith(f"$argon2id$v=19$m={users.ARGON2_MEMORY_KIB},t={users.ARGON2_TIME_COST},p=1$")
    assert GOOD not in stored
    # ASVS 5.0 Appendix C: t=1/m>=46 MiB, t=2/m>=19 MiB or t>=3/m>=12 MiB, p=1
    t, m = users.ARGON2_TIME_COST, users.ARGON2_MEMORY_KIB
    assert users.ARGON2_PARALLELISM == 1
    assert (t >= 1 and m >= 46 * 1024) or (t >= 2 and m >= 19 * 1024) or (t >= 3 and m >= 12 * 1024)
    assert users.ARGON2_SALT_LEN >= 16


def test_verify_accepts_right_and_rejects_wrong(data_dir: Path) -> None:
    users.create_user("alice", GOOD, "agent")
    ok = users.verify_password("alice", GOOD)
    assert ok and ok.reason == "ok" and ok.user is not None and ok.user.role == "agent"
    assert users.verify_password("ALICE ", GOOD).ok           # names are case-insensitive
    for wrong in ("correct horse batterY", "", GOOD + " ", "x" * 10_000):
        result = users.verify_password("alice", wrong)
        assert not result and result.reason == "bad_credentials"
    assert not users.verify_password("nobody", GOOD).ok
    assert not users.verify_password("../../etc", GOOD).ok


def test_unknown_user_costs_as_much_as_a_known_one(data_dir: Path) -> None:
    users.create_user("alice", GOOD, "agent")
    users.verify_password("ghost", "warm up the dummy hash")

    def timed(name: str) -> float:
        t0 = time.perf_counter()
        users.verify_password(name, "not the password")
        return time.perf_counter() - t0

    known = min(timed("alice") for _ in range(2))
    unknown = min(timed("ghost") for _ in range(2))
    assert unknown > known * 0.5


@pytest.mark.parametrize(("password", "needle"), [
    ("short", "too short"),
    ("x" * 129, "too long"),
    ("aaaaaaaaaaaa", "repeated"),
    ("alice-the-great", None),
    ("Alice12345", None),
    ("1234567890", "common"),
    ("has\x00nul-inside", "control"),
    ("garbled\ufffdinput", "invalid"),
])
def test_password_policy(data_dir: Path, password: str, needle: str | None) -> None:
    if needle is None:
        users.create_user("alice", password, "agent")
        return
    with pytest.raises(users.PasswordPolicyError, match=needle):
        users.create_user("alice", password, "agent")
    assert users.get_user("alice") is None


def test_name_equal_to_password_and_bad_names_and_roles(data_dir: Path) -> None:
    with pytest.raises(users.PasswordPolicyError, match="user name"):
        users.create_user("technician1", "Technician1", "technician")
    for bad in ("", "a b", "x" * 40, "../x", "名字", "-lead"):
        with pytest.raises(users.UserError):
            users.create_user(bad, GOOD, "agent")
    with pytest.raises(users.UserError, match="role"):
        users.create_user("bob", GOOD, "god")
    users.create_user("bob", GOOD, "team_leader")
    with pytest.raises(users.UserExists):
        users.create_user("BOB", GOOD, "agent")


def test_failures_slow_down_then_recover(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "THROTTLE_BASE", 0.15)
    monkeypatch.setattr(users, "THROTTLE_CAP", 0.3)
    users.create_user("alice", GOOD, "agent")
    for _ in range(users.FREE_FAILURES - 1):
        result = users.verify_password("alice", "wrong password!")
        assert result.reason == "bad_credentials" and result.retry_after == 0
    fifth = users.verify_password("alice", "wrong password!")
    assert fifth.retry_after == pytest.approx(0.15)
    # while the delay runs even the right password is refused, without being checked
    t0 = time.perf_counter()
    blocked = users.verify_password("alice", GOOD)
    assert blocked.reason == "throttled" and not blocked.ok and 0 < blocked.retry_after <= 0.15
    assert time.perf_counter() - t0 < 0.05
    gevent.sleep(blocked.retry_after + 0.02)
    sixth = users.verify_password("alice", "wrong password!")
    assert sixth.retry_after == pytest.approx(0.3)              # doubled
    gevent.sleep(0.32)
    seventh = users.verify_password("alice", "wrong password!")
    assert seventh.retry_after == pytest.approx(0.3)            # capped: no permanent lockout
    gevent.sleep(0.32)
    assert users.verify_password("alice", GOOD).ok              # the owner still gets in
    assert users.verify_password("alice", "wrong password!").retry_after == 0   # count restarted


def test_throttle_caps_failures_per_hour() -> None:
    assert users.THROTTLE_CAP <= 60
    assert all(users.throttle_delay(n) == 0 for n in range(users.FREE_FAILURES))
    assert users.throttle_delay(10_000) == users.THROTTLE_CAP
    elapsed, attempts, failures = 0.0, 0, 0
    while elapsed < 3600:
        attempts += 1
        failures += 1
        elapsed += users.throttle_delay(failures)
    assert attempts <= 100          # ASVS V2.2.1: at most 100 failed attempts per hour per account


def test_reset_password(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "THROTTLE_BASE", 30.0)
    users.create_user("admin", GOOD, "admin")
    for _ in range(users.FREE_FAILURES):
        users.verify_password("admin", "guess guess guess")
    assert users.verify_password("admin", GOOD).reason == "throttled"
    users.reset_password("admin", "a brand new secret")
    assert users.verify_password("admin", "a brand new secret").ok   # reset clears the delay
    assert not users.verify_password("admin", GOOD).ok
    with pytest.raises(users.UnknownUser):
        users.reset_password("nobody", "a brand new secret")
    with pytest.raises(users.PasswordPolicyError):
        users.reset_password("admin", "short")


def test_maintenance_account(data_dir: Path) -> None:
    assert not users.has_maintenance_password()
    users.set_maintenance_password("serial console pw")
    assert users.has_maintenance_password()
    assert users.get_user(users.MAINTENANCE_USER).role == "maintenance"  # type: ignore[union-attr]
    users.set_maintenance_password("another console pw")
    assert users.verify_password(users.MAINTENANCE_USER, "another console pw").ok
    assert users.needs_setup()          # the maintenance account is not an admin


def test_old_parameters_are_rehashed_on_login(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(users, "ARGON2_TIME_COST", 1)
        m.setattr(users, "ARGON2_MEMORY_KIB", 8192)
        users.create_user("alice", GOOD, "agent")
    weak = db.execute("SELECT password_hash FROM users WHERE username = 'alice'")[0][0]
    assert ",t=1," in weak
    assert users.verify_password("alice", GOOD).ok
    strong = db.execute("SELECT password_hash FROM users WHERE username = 'alice'")[0][0]
    assert strong.startswith(f"$argon2id$v=19$m={users.ARGON2_MEMORY_KIB},t={users.ARGON2_TIME_COST},")
    assert users.verify_password("alice", GOOD).ok


def test_disabled_user_cannot_log_in(data_dir: Path) -> None:
    users.create_user("alice", GOOD, "admin")
    users.set_disabled("alice", True)
    assert users.verify_password("alice", GOOD).reason == "disabled"
    assert users.needs_setup()
    users.set_disabled("alice", False)
    assert users.verify_password("alice", GOOD).ok


def test_concurrent_logins_keep_the_hub_free(data_dir: Path) -> None:
    users.create_user("alice", GOOD, "agent")
    beats: list[float] = []
    done = gevent.event.Event()

    def ticker() -> None:
        while not done.is_set():
            beats.append(time.monotonic())
            gevent.sleep(0.005)

    tick = gevent.spawn(ticker)
    logins = [gevent.spawn(users.verify_password, "alice", GOOD) for _ in range(6)]
    gevent.joinall(logins, raise_error=True)
    done.set()
    tick.join()
    assert all(g.value.ok for g in logins)
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    # The hub guard enforces the 20 ms rule. This direct measure shows the hub kept turning during the
    # hashing; its bound leaves room for a GC pause or a busy CI machine.
    assert len(gaps) > 20
    assert max(gaps) < 5 * MAX_BLOCKING_TIME
