"""Customers (用户档案): the file, phones, search, balance by PIN for the IVR, the history hook.

Phones live in their own table, stored twice: ``raw`` as typed and ``number`` normalized to digits
(``normalize_phone``: +86/0086/86 and the trunk 0 before a mobile are stripped, spaces, dashes and
brackets dropped), indexed, so the screen pop ``find_by_phone`` is one index probe.

Search (``search``), Chinese text without a word segmenter:
- 3 characters or more: the FTS5 trigram index ``customer_fts`` (name, address, account number),
  substring match, as one quoted phrase (no FTS syntax reaches SQLite);
- 1-2 characters (trigram matches nothing there, and 王伟-type names are everywhere): names by
  prefix through the plain ``customer_name`` index (王 -> every 王; 王伟 -> 王伟, 王伟东) plus the
  ``customer_name_gram`` table, which holds each name's 2-character parts after the first character
  (王伟东 -> 伟东; 欧阳娜娜 -> 阳娜, 娜娜), so 伟东 finds 王伟东. A 1-character search is a surname
  search. Short address texts go through the region (prefix on ``customer_region``); a 1-2 character
  substring of an address is not searched (it would be a scan of the whole table);
- digits: account number (prefix, unique index) and phone (exact, normalized).

Balance by PIN (``PinSession``, one per IVR call): the PIN is an argon2id hash (users.py's hasher,
in the threadpool). A call gets ``PIN_ATTEMPTS_PER_CALL`` (3) tries, after which ``end_call`` is set;
across calls ``PIN_LOCK_FAILURES`` consecutive failures lock the account's PIN for
``PIN_LOCK_SECONDS`` (no permanent lockout). A wrong account number costs the same as a wrong PIN
and gets the same answer (no account oracle).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from appliance.crm import audit, users
from appliance.crm.common import (
    Actor,
    InvalidInput,
    NotFound,
    bigrams,
    choice,
    fts_phrase,
    integer,
    now_iso,
    prefix_bounds,
    search_text,
    text,
)
from appliance.crm.db import database, db_task

log = logging.getLogger(__name__)

GENDERS = ("", "M", "F")
GRADES = ("vip", "normal", "by_fee")  # VIP / 普通 / 按缴费
GRADE_NAMES = {"vip": "VIP", "normal": "普通", "by_fee": "按缴费"}
MAX_PHONES = 8
MAX_RELATED = 20
SEARCH_LIMIT = 50
PIN_RE = re.compile(r"\d{4,8}")
PIN_ATTEMPTS_PER_CALL = 3
PIN_LOCK_FAILURES = 6
PIN_LOCK_SECONDS = 900.0
ACCOUNT_RE = re.compile(r"[0-9A-Za-z-]{1,32}")
_PHONE_CHARS_RE = re.compile(r"[0-9+\s\-().]+")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

LIMITS = {
    "name": 64,
    "email": 128,
    "address": 200,
    "region": 64,
    "region_code": 12,
    "meter_type": 32,
    "notes": 2000,
    "kind": 16,
    "relation": 16,
}

_COLUMNS = (
    "id",
    "account_no",
    "name",
    "gender",
    "email",
    "address",
    "region",
    "region_code",
    "household_size",
    "floor",
    "meter_type",
    "grade",
    "notes",
    "balance_fen",
    "created_at",
    "updated_at",
)
_SELECT = "SELECT " + ", ".join(f"c.{c}" for c in _COLUMNS) + " FROM customer c"
EDITABLE = (
    "name",
    "gender",
    "email",
    "address",
    "region",
    "region_code",
    "household_size",
    "floor",
    "meter_type",
    "grade",
    "notes",
    "balance_fen",
)


@dataclass(frozen=True)
class Phone:
    number: str  # normalized digits
    raw: str  # as entered
    kind: str = ""  # 'mobile', 'home', 'work', ...


@dataclass(frozen=True)
class Customer:
    id: int
    account_no: str
    name: str
    gender: str
    email: str
    address: str
    region: str
    region_code: str
    household_size: int
    floor: int
    meter_type: str
    grade: str
    notes: str
    balance_fen: int
    created_at: str
    updated_at: str
    phones: tuple[Phone, ...] = ()
    related: tuple[tuple[int, str], ...] = ()  # (customer id, relation)
    has_pin: bool = False

    @property
    def grade_name(self) -> str:
        return GRADE_NAMES.get(self.grade, self.grade)


@dataclass(frozen=True)
class CustomerHit:
    """One search result (enough for a result list)."""

    id: int
    account_no: str
    name: str
    address: str
    region: str


# ---- phones --------------------------------------------------------------------------------------


def normalize_phone(raw: object) -> str:
    """Digits of a Chinese phone number as stored and looked up; InvalidInput if it is none.

    ``+86 138-1234-5678``, ``0086 13812345678``, ``8613812345678``, ``013812345678`` (trunk
    prefix) -> ``13812345678``; ``(010) 6552-1234`` -> ``01065521234``; ``+86 10 65521234`` ->
    ``01065521234``. Mobiles must have 11 digits (1[3-9]...); other numbers 5 to 12 digits.
    """
    if not isinstance(raw, str):
        raise InvalidInput("电话号码必须是文字")
    value = raw.strip()
    if not value:
        raise InvalidInput("电话号码为空")
    if len(value) > 32:
        raise InvalidInput("电话号码过长")
    if not _PHONE_CHARS_RE.fullmatch(value) or value.count("+") > 1 or "+" in value[1:]:
        raise InvalidInput(f"电话号码无效：{value[:32]!r}，只能包含数字、空格、“-”、括号和开头的“+”")
    digits = re.sub(r"\D", "", value)
    international = False
    if value.startswith("+"):
        if not digits.startswith("86"):
            raise InvalidInput("不支持境外电话号码")
        digits, international = digits[2:], True
    elif digits.startswith("0086"):
        digits, international = digits[4:], True
    elif len(digits) == 13 and digits.startswith("861"):
        digits = digits[2:]
    if international and digits and not digits.startswith(("0", "1")):
        digits = "0" + digits  # +86 10 ... : the area code without its 0
    elif international and digits.startswith("1") and len(digits) in (10, 11) and digits[1] in "0":
        digits = "0" + digits  # +86 10 6552 1234 (Beijing), 10 digits
    if len(digits) == 12 and digits.startswith("01") and digits[2] in "3456789":
        digits = digits[1:]  # trunk prefix 0 before a mobile (another city)
    if digits.startswith("1") and len(digits) >= 10 and len(digits) != 11:
        raise InvalidInput(f"手机号码应为11位：{value[:32]!r}")
    if len(digits) == 11 and digits.startswith("1") and digits[1] not in "3456789":
        raise InvalidInput(f"手机号码无效：{value[:32]!r}")
    if not 5 <= len(digits) <= 12:
        raise InvalidInput(f"电话号码位数不对（5～12位）：{value[:32]!r}")
    return digits


def _phones(values: Sequence[object]) -> list[Phone]:
    if len(values) > MAX_PHONES:
        raise InvalidInput(f"电话最多{MAX_PHONES}个")
    out: dict[str, Phone] = {}
    for item in values:
        raw: object
        kind: object
        if isinstance(item, Phone):
            raw, kind = item.raw, item.kind
        elif isinstance(item, tuple) and len(item) == 2:
            raw, kind = item
        else:
            raw, kind = item, ""
        number = normalize_phone(raw)
        out.setdefault(number, Phone(number, text(raw, "电话", 32), text(kind, "电话类型", LIMITS["kind"])))
    return list(out.values())


# ---- validation ----------------------------------------------------------------------------------


def _account(value: object) -> str:
    account = text(value, "户号", 32, required=True)
    if not ACCOUNT_RE.fullmatch(account):
        raise InvalidInput(f"户号无效：{account!r}（只能是字母、数字和“-”）")
    return account


def _fields(values: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise InvalidInput(f"未知字段：{'、'.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in ("household_size", "floor"):
            out[key] = integer(
                value,
                {"household_size": "家庭人数", "floor": "楼层"}[key],
                0 if key == "household_size" else -10,
                200,
            )
        elif key == "balance_fen":
            out[key] = integer(value, "余额（分）", -(10**12), 10**12)
        elif key == "gender":
            out[key] = choice(value or "", "性别", GENDERS)
        elif key == "grade":
            out[key] = choice(value, "客户等级", GRADES)
        else:
            label = {
                "name": "姓名",
                "email": "电子邮件",
                "address": "地址",
                "region": "片区",
                "region_code": "片区代码",
                "meter_type": "表具类型",
                "notes": "备注",
            }[key]
            out[key] = text(value, label, LIMITS[key], required=key == "name", multiline=key == "notes")
    if out.get("email") and not _EMAIL_RE.fullmatch(out["email"]):
        raise InvalidInput(f"电子邮件地址无效：{out['email']!r}")
    if creating and not out.get("name"):
        raise InvalidInput("姓名不能为空")
    return out


# ---- rows ----------------------------------------------------------------------------------------


def _customer(row: Sequence[Any]) -> Customer:
    db = database()
    cid = int(row[0])
    phones = tuple(
        Phone(str(n), str(r), str(k))
        for n, r, k in db.execute_sql(
            "SELECT number, raw, kind FROM customer_phone WHERE customer_id = ? ORDER BY id", (cid,)
        )
    )
    related = tuple(
        (int(r), str(rel))
        for r, rel in db.execute_sql(
            "SELECT related_id, relation FROM customer_relation WHERE customer_id = ? ORDER BY related_id",
            (cid,),
        )
    )
    has_pin = db.execute_sql("SELECT pin_hash IS NOT NULL FROM customer WHERE id = ?", (cid,)).fetchone()[0]
    values: dict[str, Any] = dict(zip(_COLUMNS, row, strict=True))
    return Customer(**values, phones=phones, related=related, has_pin=bool(has_pin))


def _hit(row: Sequence[Any]) -> CustomerHit:
    return CustomerHit(int(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]))


def _store_grams(cid: int, name: str) -> None:
    db = database()
    db.execute_sql("DELETE FROM customer_name_gram WHERE customer_id = ?", (cid,))
    for gram in bigrams(name):
        db.execute_sql(
            "INSERT OR IGNORE INTO customer_name_gram(gram, customer_id) VALUES (?, ?)", (gram, cid)
        )


def _store_phones(cid: int, phones: list[Phone]) -> None:
    db = database()
    db.execute_sql("DELETE FROM customer_phone WHERE customer_id = ?", (cid,))
    for p in phones:
        db.execute_sql(
            "INSERT INTO customer_phone(customer_id, number, raw, kind) VALUES (?, ?, ?, ?)",
            (cid, p.number, p.raw, p.kind),
        )


def _store_related(cid: int, related: Sequence[tuple[int, str]]) -> None:
    db = database()
    if len(related) > MAX_RELATED:
        raise InvalidInput(f"关联客户最多{MAX_RELATED}个")
    for other, _relation in related:
        if other == cid:
            raise InvalidInput("不能把客户关联到自己")
        if not db.execute_sql("SELECT 1 FROM customer WHERE id = ?", (other,)).fetchone():
            raise NotFound(f"关联的客户不存在：{other}")
    db.execute_sql("DELETE FROM customer_relation WHERE customer_id = ? OR related_id = ?", (cid, cid))
    for other, relation in related:
        rel = text(relation, "关系", LIMITS["relation"])
        db.execute_sql("INSERT OR REPLACE INTO customer_relation VALUES (?, ?, ?)", (cid, other, rel))
        db.execute_sql("INSERT OR REPLACE INTO customer_relation VALUES (?, ?, ?)", (other, cid, rel))


# ---- create, update, get -------------------------------------------------------------------------


@db_task
def _insert(
    actor: Actor,
    account: str,
    fields: dict[str, Any],
    phones: list[Phone],
    related: Sequence[tuple[int, str]],
    pin_hash: str | None,
) -> Customer:
    db = database()
    with db.atomic():
        if db.execute_sql("SELECT 1 FROM customer WHERE account_no = ?", (account,)).fetchone():
            raise InvalidInput(f"户号已存在：{account}")
        stamp = now_iso()
        columns = ["account_no", *fields, "pin_hash", "created_at", "updated_at"]
        cursor = db.execute_sql(
            f"INSERT INTO customer({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            (account, *fields.values(), pin_hash, stamp, stamp),
        )
        cid = int(cursor.lastrowid)
        _store_phones(cid, phones)
        _store_grams(cid, fields["name"])
        _store_related(cid, related)
        audit.record(
            "customer_create",
            actor=actor.username,
            source=actor.source,
            target=f"customer:{cid}",
            details={
                "account_no": account,
                "name": fields["name"],
                "phones": [p.number for p in phones],
                "pin_set": pin_hash is not None,
            },
        )
        return _get(cid)


def _pin_hash(pin: str | None) -> str | None:
    if pin is None:
        return None
    if not isinstance(pin, str) or not PIN_RE.fullmatch(pin):
        raise InvalidInput("密码必须是4～8位数字")
    return users.hash_password(pin)


def create_customer(
    actor: Actor,
    account_no: str,
    name: str,
    *,
    phones: Sequence[object] = (),
    related: Sequence[tuple[int, str]] = (),
    pin: str | None = None,
    **fields: Any,
) -> Customer:
    """Create a customer; raises InvalidInput (bad field, duplicate account) or NotFound (related)."""
    account = _account(account_no)
    values = _fields({"name": name, **fields}, creating=True)
    normalized = _phones(phones)
    return _insert(actor, account, values, normalized, list(related), _pin_hash(pin))


@db_task
def _update(
    actor: Actor,
    cid: int,
    values: dict[str, Any],
    phones: list[Phone] | None,
    related: Sequence[tuple[int, str]] | None,
    pin_hash: str | None,
) -> Customer:
    db = database()
    with db.atomic():
        before = _get(cid)
        changes = {k: v for k, v in values.items() if getattr(before, k) != v}
        if pin_hash is not None:  # a new PIN also clears the failure count and any lock
            changes.update(pin_hash=pin_hash, pin_failures=0, pin_locked_until=0.0)
        if changes:
            assignments = ", ".join(f"{k} = ?" for k in changes)
            db.execute_sql(
                f"UPDATE customer SET {assignments}, updated_at = ? WHERE id = ?",
                (*changes.values(), now_iso(), cid),
            )
        if "name" in changes:
            _store_grams(cid, changes["name"])
        if phones is not None:
            _store_phones(cid, phones)
        if related is not None:
            _store_related(cid, related)
        details: dict[str, Any] = {
            k: {"old": getattr(before, k), "new": v} for k, v in changes.items() if not k.startswith("pin_")
        }
        if pin_hash is not None:
            details["pin_changed"] = True
        if phones is not None:
            details["phones"] = [p.number for p in phones]
        if related is not None:
            details["related"] = [r for r, _ in related]
        audit.record(
            "customer_update",
            actor=actor.username,
            source=actor.source,
            target=f"customer:{cid}",
            details=details,
        )
        return _get(cid)


def update_customer(
    actor: Actor,
    customer_id: int,
    *,
    phones: Sequence[object] | None = None,
    related: Sequence[tuple[int, str]] | None = None,
    pin: str | None = None,
    **fields: Any,
) -> Customer:
    """Change fields (only those given); ``phones``/``related`` replace the lists when given."""
    values = _fields(fields, creating=False)
    normalized = _phones(phones) if phones is not None else None
    return _update(
        actor,
        int(customer_id),
        values,
        normalized,
        list(related) if related is not None else None,
        _pin_hash(pin),
    )


def _get(cid: int) -> Customer:
    row = database().execute_sql(_SELECT + " WHERE c.id = ?", (cid,)).fetchone()
    if row is None:
        raise NotFound(f"客户不存在：{cid}")
    return _customer(row)


@db_task
def get_customer(customer_id: int) -> Customer:
    return _get(int(customer_id))


@db_task
def get_by_account(account_no: str) -> Customer | None:
    row = database().execute_sql(_SELECT + " WHERE c.account_no = ?", (_account(account_no),)).fetchone()
    return _customer(row) if row is not None else None


# ---- lookups and search --------------------------------------------------------------------------


@db_task
def _by_number(number: str) -> list[Customer]:
    rows = (
        database()
        .execute_sql(
            _SELECT
            + " JOIN customer_phone p ON p.customer_id = c.id WHERE p.number = ? ORDER BY c.id LIMIT 20",
            (number,),
        )
        .fetchall()
    )
    return [_customer(r) for r in rows]


def find_by_phone(raw: str) -> list[Customer]:
    """Customers with this phone (caller ID or typed, any format); InvalidInput if it is no number."""
    return _by_number(normalize_phone(raw))


_HIT = "SELECT c.id, c.account_no, c.name, c.address, c.region FROM customer c"


def _fts(column: str | None, value: str, limit: int) -> list[CustomerHit]:
    query = fts_phrase(value) if column is None else f"{column} : {fts_phrase(value)}"
    rows = (
        database()
        .execute_sql(
            _HIT + " WHERE c.id IN (SELECT rowid FROM customer_fts WHERE customer_fts MATCH ? LIMIT ?)"
            " ORDER BY c.id",
            (query, limit),
        )
        .fetchall()
    )
    return [_hit(r) for r in rows]


def _short_name(value: str, limit: int) -> list[CustomerHit]:
    # Exact name first, then the prefix range in index order (no sort of, say, every 王).
    low, high = prefix_bounds(value)
    db = database()
    rows = db.execute_sql(_HIT + " WHERE c.name = ? ORDER BY c.id LIMIT ?", (value, limit)).fetchall()
    rows += db.execute_sql(
        _HIT + " WHERE c.name > ? AND c.name < ? ORDER BY c.name, c.id LIMIT ?", (low, high, limit)
    ).fetchall()
    hits = [_hit(r) for r in rows][:limit]
    if len(value) == 2 and len(hits) < limit:
        seen = {h.id for h in hits}
        rows = db.execute_sql(
            _HIT + " JOIN customer_name_gram g ON g.customer_id = c.id WHERE g.gram = ?"
            " ORDER BY g.customer_id LIMIT ?",
            (value, limit),
        ).fetchall()
        hits += [h for h in map(_hit, rows) if h.id not in seen][: limit - len(hits)]
    return hits


def _short_region(value: str, limit: int) -> list[CustomerHit]:
    low, high = prefix_bounds(value)
    rows = (
        database()
        .execute_sql(
            _HIT + " WHERE c.region >= ? AND c.region < ? ORDER BY c.region, c.id LIMIT ?", (low, high, limit)
        )
        .fetchall()
    )
    return [_hit(r) for r in rows]


def _accounts(value: str, limit: int) -> list[CustomerHit]:
    low, high = prefix_bounds(value)
    rows = (
        database()
        .execute_sql(
            _HIT + " WHERE c.account_no >= ? AND c.account_no < ? ORDER BY c.account_no LIMIT ?",
            (low, high, limit),
        )
        .fetchall()
    )
    return [_hit(r) for r in rows]


@db_task
def search(query: str, *, field: str = "any", limit: int = SEARCH_LIMIT) -> list[CustomerHit]:
    """Customers whose name, address or account number contain ``query`` (see module doc).

    ``field``: 'any', 'name', 'address', 'account'. Never raises for odd text (quotes, %, FTS
    operators are matched literally); an empty or overlong text is InvalidInput.
    """
    value = search_text(query)
    choice(field, "查询字段", ("any", "name", "address", "account"))
    limit = max(1, min(int(limit), 200))
    hits: list[CustomerHit] = []
    if field in ("any", "account") and ACCOUNT_RE.fullmatch(value):
        hits += _accounts(value, limit)
        if field == "any" and value.isdigit():
            try:
                number = normalize_phone(value)
            except InvalidInput:
                number = ""
            if number:
                rows = (
                    database()
                    .execute_sql(
                        _HIT + " JOIN customer_phone p ON p.customer_id = c.id WHERE p.number = ? LIMIT ?",
                        (number, limit),
                    )
                    .fetchall()
                )
                hits += [_hit(r) for r in rows]
    if field == "account":
        return hits[:limit]
    if len(value) >= 3:
        hits += _fts({"any": None, "name": "name", "address": "address"}[field], value, limit)
    else:
        if field in ("any", "name"):
            hits += _short_name(value, limit)
        if field in ("any", "address"):
            hits += _short_region(value, limit)
    unique: dict[int, CustomerHit] = {}
    for h in hits:
        unique.setdefault(h.id, h)
    return list(unique.values())[:limit]


# ---- balance by PIN (IVR self-service) -----------------------------------------------------------


@dataclass(frozen=True)
class PinCheck:
    ok: bool
    reason: str  # 'ok', 'bad_credentials', 'locked', 'no_pin', 'ended'
    balance_fen: int | None = None
    attempts_left: int = 0
    end_call: bool = False  # the IVR says goodbye and hangs up


@db_task
def _pin_row(account: str) -> tuple[int, str | None, float] | None:
    row = (
        database()
        .execute_sql("SELECT id, pin_hash, pin_locked_until FROM customer WHERE account_no = ?", (account,))
        .fetchone()
    )
    return (int(row[0]), row[1], float(row[2])) if row is not None else None


@db_task
def _pin_outcome(actor: Actor, cid: int, ok: bool) -> int | None:
    db = database()
    with db.atomic():
        if ok:
            db.execute_sql("UPDATE customer SET pin_failures = 0, pin_locked_until = 0 WHERE id = ?", (cid,))
            balance = db.execute_sql("SELECT balance_fen FROM customer WHERE id = ?", (cid,)).fetchone()[0]
            audit.record(
                "customer_balance_query", actor=actor.username, source=actor.source, target=f"customer:{cid}"
            )
            return int(balance)
        failures = (
            int(db.execute_sql("SELECT pin_failures FROM customer WHERE id = ?", (cid,)).fetchone()[0]) + 1
        )
        locked = time.time() + PIN_LOCK_SECONDS if failures >= PIN_LOCK_FAILURES else 0.0
        db.execute_sql(
            "UPDATE customer SET pin_failures = ?, pin_locked_until = ? WHERE id = ?",
            (0 if locked else failures, locked, cid),
        )
        audit.record(
            "customer_pin_failed",
            actor=actor.username,
            source=actor.source,
            target=f"customer:{cid}",
            details={"consecutive_failures": failures, "locked": bool(locked)},
        )
        return None


@dataclass
class PinSession:
    """PIN attempts of one IVR call: ``balance(account, pin)`` up to ``max_attempts`` times."""

    actor: Actor = field(default_factory=lambda: Actor("ivr", "system", None, "ivr"))
    max_attempts: int = PIN_ATTEMPTS_PER_CALL
    failures: int = 0

    def balance(self, account_no: str, pin: str) -> PinCheck:
        if self.failures >= self.max_attempts:
            return PinCheck(False, "ended", end_call=True)
        try:
            account = _account(account_no)
        except InvalidInput:
            account = ""
        row = _pin_row(account) if account else None
        if row is not None and row[2] > time.time():
            self.failures = self.max_attempts
            return PinCheck(False, "locked", end_call=True)
        if row is not None and row[1] is None:
            return PinCheck(False, "no_pin", attempts_left=self.max_attempts - self.failures)
        candidate = pin if isinstance(pin, str) and len(pin) <= 16 else ""
        if row is None:
            users._verify_hash(users._dummy(), candidate)  # same cost: no account-number oracle
            ok = False
        else:
            assert row[1] is not None
            ok = bool(PIN_RE.fullmatch(candidate)) and users._verify_hash(row[1], candidate)[0]
        balance = _pin_outcome(self.actor, row[0], ok) if row is not None else None
        if ok:
            return PinCheck(True, "ok", balance, self.max_attempts - self.failures)
        self.failures += 1
        left = self.max_attempts - self.failures
        log.info("wrong account/PIN on IVR balance query (%d left in this call)", left)
        return PinCheck(False, "bad_credentials", None, left, end_call=left <= 0)


# ---- history hook --------------------------------------------------------------------------------

HistorySource = Callable[[int], list[dict[str, Any]]]
_history_sources: dict[str, HistorySource] = {}


def register_history_source(name: str, source: HistorySource) -> None:
    """Add a kind of history (contacts.py: 'calls', 'messages', 'surveys'; workorder.py: 'tickets')."""
    _history_sources[name] = source


@db_task
def history(customer_id: int) -> dict[str, list[dict[str, Any]]]:
    """What exists about a customer, newest first: {'tickets': [...], 'calls': [...], ...}; one trip
    to the database thread for all of it."""
    from appliance.crm import contacts, workorder  # noqa: F401  (they register their sources)

    get_customer(customer_id)  # NotFound for an unknown id
    out: dict[str, list[dict[str, Any]]] = {"calls": [], "tickets": []}
    for name, source in sorted(_history_sources.items()):
        out[name] = source(int(customer_id))
    return out
