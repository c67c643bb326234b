"""The one SQLite database of the appliance: connection, migrations, backup, restore.

One file, ``<data_dir>/rexian.db``, opened through peewee (``database_proxy`` is what every crm
model names; ``init_db(data_dir)`` binds it).

Durability (reliability-anchors A.1): ``journal_mode=WAL`` with ``synchronous=FULL``. In WAL mode
FULL syncs the WAL on every commit, so a commit that returned survives a power cut or an OS crash
(on storage that honours fsync); NORMAL would stay consistent but could lose the last acknowledged
commits. ``foreign_keys=1`` and a ``busy_timeout`` are set on every connection.

Schema changes are numbered migrations (``MIGRATIONS``, a list of functions). ``PRAGMA
user_version`` records how many have been applied. Each runs in its own transaction together with
the ``user_version`` bump, so a failing migration leaves the database exactly at the previous
version. A database whose version is newer than this code (e.g. after an A/B rollback) is refused.

Threads and the hub: SQLite calls block (a commit with synchronous=FULL waits for fsync, which on
flash can take tens of ms), so none runs on the hub. All database work goes to ONE database thread
(``run_db`` / the ``@db_task`` decorator), which owns the connection: the calling greenlet waits, the
hub keeps running, and since the thread runs one task at a time, a task is never interleaved with
another greenlet's queries (a task is a natural unit of work; wrap it in ``database.atomic()`` when
it writes more than once). Long read-only work -- backup, integrity_check, the copy and check of a
restore -- runs in gevent's general threadpool (``off_hub``) on its own sqlite3 connection, so the
database thread stays free: in WAL mode readers never block the writer. The backup is stepped
(``BACKUP_PAGES`` pages, then a ``BACKUP_SLEEP`` pause) so that it also leaves I/O to the calls.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import gevent
import gevent.lock
import gevent.threadpool
from peewee import DatabaseProxy, SqliteDatabase

log = logging.getLogger(__name__)

DB_FILENAME = "rexian.db"
BUSY_TIMEOUT_MS = 1000          # only threadpool readers share the file; WAL readers never block us
BACKUP_PAGES = 256              # pages per backup step (1 MiB with 4 KiB pages)
BACKUP_SLEEP = 0.005            # seconds between backup steps, in the worker thread
BACKUP_SUFFIX_PART = ".part"
RESTORE_SUFFIX = ".restore"
BAK_SUFFIX = ".bak"

PRAGMAS: list[tuple[str, object]] = [
    ("journal_mode", "wal"),
    ("synchronous", "full"),    # every acknowledged commit is on disk (see module doc)
    ("foreign_keys", 1),
    ("busy_timeout", BUSY_TIMEOUT_MS),
]

database_proxy = DatabaseProxy()

T = TypeVar("T")
P = ParamSpec("P")
Migration = Callable[[SqliteDatabase], None]


class DatabaseError(Exception):
    """Base of this module's errors."""


class MigrationError(DatabaseError):
    """A migration failed; the database stays at the version it had before it."""


class SchemaTooNew(DatabaseError):
    """The database was written by newer firmware than this code."""


class RestoreError(DatabaseError):
    """The file offered for restore was refused; nothing was changed."""


class NotInitialized(DatabaseError):
    """init_db() has not been called."""


# ---- migrations ----------------------------------------------------------------------------------------
# Migrations are SQL, not the current models: a migration must keep meaning what it meant when it shipped.
# Statements that cannot run inside a transaction (VACUUM, journal_mode) do not belong here.


def _m001_users(db: SqliteDatabase) -> None:
    db.execute_sql(
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            username TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL,
            password_changed_at TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            failed_count INTEGER NOT NULL DEFAULT 0,
            last_failed_at REAL NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL DEFAULT 0
        )"""
    )
    db.execute_sql("CREATE INDEX users_role ON users(role)")


def _m002_audit_log(db: SqliteDatabase) -> None:
    db.execute_sql(
        """CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            source TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '{}'
        )"""
    )
    db.execute_sql("CREATE INDEX audit_log_at ON audit_log(at)")
    # Append-only, enforced by the database itself (ASVS 5.0 V16.4.2): no UPDATE, no DELETE.
    for verb in ("UPDATE", "DELETE"):
        db.execute_sql(
            f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )


def _m003_acd(db: SqliteDatabase) -> None:
    """The ACD: call detail records, the queue log, agents' persisted state (appliance/crm/cdr.py)."""
    db.execute_sql(
        """CREATE TABLE acd_cdr (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            call_id TEXT NOT NULL UNIQUE,
            caller TEXT NOT NULL DEFAULT '',
            dnis TEXT NOT NULL DEFAULT '',
            queue TEXT NOT NULL DEFAULT '',
            final_queue TEXT NOT NULL DEFAULT '',
            priority INTEGER NOT NULL DEFAULT 0,
            agent TEXT NOT NULL DEFAULT '',
            enqueued_at REAL,
            offered_at REAL,
            answered_at REAL,
            ended_at REAL,
            wait_s REAL NOT NULL DEFAULT 0,
            ring_s REAL NOT NULL DEFAULT 0,
            talk_s REAL NOT NULL DEFAULT 0,
            wrapup_s REAL NOT NULL DEFAULT 0,
            offers INTEGER NOT NULL DEFAULT 0,
            disposition TEXT NOT NULL DEFAULT '',
            overflow_to TEXT NOT NULL DEFAULT '',
            ended_by TEXT NOT NULL DEFAULT ''
        )"""
    )
    db.execute_sql("CREATE INDEX acd_cdr_enqueued ON acd_cdr(enqueued_at)")
    db.execute_sql("CREATE INDEX acd_cdr_open ON acd_cdr(ended_at)")
    db.execute_sql(
        """CREATE TABLE acd_queue_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            call_id TEXT NOT NULL DEFAULT '',
            queue TEXT NOT NULL DEFAULT '',
            agent TEXT NOT NULL DEFAULT '',
            event TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT ''
        )"""
    )
    db.execute_sql("CREATE INDEX acd_queue_log_at ON acd_queue_log(at)")
    db.execute_sql("CREATE INDEX acd_queue_log_call ON acd_queue_log(call_id)")
    db.execute_sql(
        """CREATE TABLE acd_agent_state (
            agent_id TEXT PRIMARY KEY,
            station INTEGER,
            mode TEXT NOT NULL DEFAULT 'ring',
            state TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            updated_at REAL NOT NULL
        )"""
    )


def _m004_crm(db: SqliteDatabase) -> None:
    """Customers, work orders (工单) and their steps, technician teams, the knowledge base (issue 6).

    Search: FTS5 trigram tables (external content) for texts of 3+ characters; trigram cannot match
    1-2 characters, so names also have a plain index (prefix search: 王, 王伟 -> 王伟东) and a bigram
    table of the non-leading 2-character parts of each name (伟东 -> 王伟东). See customer.py.
    """
    statements = [
        """CREATE TABLE customer (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            account_no TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            gender TEXT NOT NULL DEFAULT '',
            email TEXT NOT NULL DEFAULT '',
            address TEXT NOT NULL DEFAULT '',
            region TEXT NOT NULL DEFAULT '',
            region_code TEXT NOT NULL DEFAULT '',
            household_size INTEGER NOT NULL DEFAULT 0,
            floor INTEGER NOT NULL DEFAULT 0,
            meter_type TEXT NOT NULL DEFAULT '',
            grade TEXT NOT NULL DEFAULT 'normal',
            notes TEXT NOT NULL DEFAULT '',
            balance_fen INTEGER NOT NULL DEFAULT 0,
            pin_hash TEXT,
            pin_failures INTEGER NOT NULL DEFAULT 0,
            pin_locked_until REAL NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX customer_name ON customer(name)",
        "CREATE INDEX customer_region ON customer(region)",
        """CREATE TABLE customer_phone (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            customer_id INTEGER NOT NULL REFERENCES customer(id) ON DELETE CASCADE,
            number TEXT NOT NULL,
            raw TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT '',
            UNIQUE (customer_id, number)
        )""",
        "CREATE INDEX customer_phone_number ON customer_phone(number)",
        """CREATE TABLE customer_name_gram (
            gram TEXT NOT NULL,
            customer_id INTEGER NOT NULL REFERENCES customer(id) ON DELETE CASCADE,
            PRIMARY KEY (gram, customer_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX customer_name_gram_customer ON customer_name_gram(customer_id)",
        """CREATE TABLE customer_relation (
            customer_id INTEGER NOT NULL REFERENCES customer(id) ON DELETE CASCADE,
            related_id INTEGER NOT NULL REFERENCES customer(id) ON DELETE CASCADE,
            relation TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (customer_id, related_id)
        ) WITHOUT ROWID""",
        """CREATE VIRTUAL TABLE customer_fts USING fts5(
            name, address, account_no, content='customer', content_rowid='id', tokenize='trigram')""",
        """CREATE TRIGGER customer_fts_ai AFTER INSERT ON customer BEGIN
            INSERT INTO customer_fts(rowid, name, address, account_no)
            VALUES (new.id, new.name, new.address, new.account_no); END""",
        """CREATE TRIGGER customer_fts_ad AFTER DELETE ON customer BEGIN
            INSERT INTO customer_fts(customer_fts, rowid, name, address, account_no)
            VALUES ('delete', old.id, old.name, old.address, old.account_no); END""",
        """CREATE TRIGGER customer_fts_au AFTER UPDATE OF name, address, account_no ON customer BEGIN
            INSERT INTO customer_fts(customer_fts, rowid, name, address, account_no)
            VALUES ('delete', old.id, old.name, old.address, old.account_no);
            INSERT INTO customer_fts(rowid, name, address, account_no)
            VALUES (new.id, new.name, new.address, new.account_no); END""",
        """CREATE TABLE tech_team (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            leader_name TEXT NOT NULL DEFAULT '',
            leader_mobile TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE tech_team_member (
            username TEXT PRIMARY KEY,
            team_id INTEGER NOT NULL REFERENCES tech_team(id) ON DELETE CASCADE
        )""",
        """CREATE TABLE wo_time_limit (
            type TEXT PRIMARY KEY,
            minutes INTEGER NOT NULL
        )""",
        """CREATE TABLE wo_serial (
            day TEXT PRIMARY KEY,
            last INTEGER NOT NULL
        )""",
        """CREATE TABLE work_order (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            serial TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            priority TEXT NOT NULL DEFAULT 'normal',
            state TEXT NOT NULL,
            customer_id INTEGER REFERENCES customer(id) ON DELETE SET NULL,
            caller_phone TEXT NOT NULL DEFAULT '',
            customer_type TEXT NOT NULL DEFAULT '',
            problem_type TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            description TEXT NOT NULL DEFAULT '',
            address TEXT NOT NULL DEFAULT '',
            team_id INTEGER REFERENCES tech_team(id),
            final_answer TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            due_at TEXT NOT NULL,
            escalated INTEGER NOT NULL DEFAULT 0,
            closed_at TEXT,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX work_order_customer ON work_order(customer_id, created_at)",
        "CREATE INDEX work_order_team_state ON work_order(team_id, state)",
        "CREATE INDEX work_order_open_due ON work_order(due_at) WHERE state NOT IN ('answered', 'closed')",
        """CREATE TABLE work_order_step (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            order_id INTEGER NOT NULL REFERENCES work_order(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            from_state TEXT NOT NULL,
            to_state TEXT NOT NULL,
            team_id INTEGER,
            note TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX work_order_step_order ON work_order_step(order_id, id)",
        """CREATE TABLE kb_category (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL UNIQUE,
            parent_id INTEGER REFERENCES kb_category(id)
        )""",
        """CREATE TABLE kb_article (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            category_id INTEGER REFERENCES kb_category(id),
            title TEXT NOT NULL,
            body TEXT NOT NULL DEFAULT '',
            keywords TEXT NOT NULL DEFAULT '',
            pinned INTEGER NOT NULL DEFAULT 0,
            views INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX kb_article_category ON kb_article(category_id)",
        "CREATE INDEX kb_article_pinned ON kb_article(pinned) WHERE pinned",
        """CREATE TABLE kb_gram (
            gram TEXT NOT NULL,
            article_id INTEGER NOT NULL REFERENCES kb_article(id) ON DELETE CASCADE,
            PRIMARY KEY (gram, article_id)
        ) WITHOUT ROWID""",
        """CREATE VIRTUAL TABLE kb_fts USING fts5(
            title, body, keywords, content='kb_article', content_rowid='id', tokenize='trigram')""",
        """CREATE TRIGGER kb_fts_ai AFTER INSERT ON kb_article BEGIN
            INSERT INTO kb_fts(rowid, title, body, keywords)
            VALUES (new.id, new.title, new.body, new.keywords);
            END""",
        """CREATE TRIGGER kb_fts_ad AFTER DELETE ON kb_article BEGIN
            INSERT INTO kb_fts(kb_fts, rowid, title, body, keywords)
            VALUES ('delete', old.id, old.title, old.body, old.keywords); END""",
        """CREATE TRIGGER kb_fts_au AFTER UPDATE OF title, body, keywords ON kb_article BEGIN
            INSERT INTO kb_fts(kb_fts, rowid, title, body, keywords)
            VALUES ('delete', old.id, old.title, old.body, old.keywords);
            INSERT INTO kb_fts(rowid, title, body, keywords)
            VALUES (new.id, new.title, new.body, new.keywords);
            END""",
        """CREATE TABLE kb_question (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            question TEXT NOT NULL,
            phone TEXT NOT NULL DEFAULT '',
            asked_at TEXT NOT NULL,
            asked_by TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'open',
            article_id INTEGER REFERENCES kb_article(id) ON DELETE SET NULL,
            answered_at TEXT,
            answered_by TEXT
        )""",
        "CREATE INDEX kb_question_status ON kb_question(status, id)",
    ]
    for sql in statements:
        db.execute_sql(sql)


def _m005_ivr_flows(db: SqliteDatabase) -> None:
    """IVR call flows (appliance/crm/flowstore.py): every saved version, and the active one per flow."""
    db.execute_sql(
        """CREATE TABLE ivr_flows (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            flow_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            body TEXT NOT NULL,
            valid INTEGER NOT NULL DEFAULT 0,
            problems TEXT NOT NULL DEFAULT '[]',
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL DEFAULT '',
            UNIQUE (flow_id, version)
        )"""
    )
    db.execute_sql(
        """CREATE TABLE ivr_active (
            flow_id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            activated_at TEXT NOT NULL,
            activated_by TEXT NOT NULL DEFAULT '',
            FOREIGN KEY (flow_id, version) REFERENCES ivr_flows (flow_id, version)
        )"""
    )
    # A saved version is never changed, and only a version the validator passed can be activated.
    db.execute_sql(
        "CREATE TRIGGER ivr_flows_no_update BEFORE UPDATE ON ivr_flows "
        "BEGIN SELECT RAISE(ABORT, 'ivr_flows versions are immutable'); END"
    )
    for verb in ("INSERT", "UPDATE"):
        db.execute_sql(
            f"CREATE TRIGGER ivr_active_valid_{verb.lower()} BEFORE {verb} ON ivr_active "
            "WHEN (SELECT valid FROM ivr_flows WHERE flow_id = NEW.flow_id AND version = NEW.version) "
            "IS NOT 1 "
            "BEGIN SELECT RAISE(ABORT, 'only a valid flow version can be activated'); END"
        )


def _m006_web(db: SqliteDatabase) -> None:
    """Web sessions (appliance/crm/session.py): the SHA-256 of the cookie token, never the token."""
    db.execute_sql(
        """CREATE TABLE web_session (
            token_hash TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            role TEXT NOT NULL,
            csrf TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_seen REAL NOT NULL,
            ip TEXT NOT NULL DEFAULT ''
        )"""
    )
    db.execute_sql("CREATE INDEX web_session_user ON web_session(username)")


def _m007_ivr_messages(db: SqliteDatabase) -> None:
    """Callers' messages and survey ratings from the IVR (appliance/crm/messages.py)."""
    db.execute_sql(
        """CREATE TABLE ivr_message (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            call_id TEXT NOT NULL DEFAULT '',
            caller TEXT NOT NULL DEFAULT '',
            category TEXT NOT NULL,
            duration_ms INTEGER NOT NULL,
            recording TEXT NOT NULL,
            heard INTEGER NOT NULL DEFAULT 0
        )"""
    )
    db.execute_sql("CREATE INDEX ivr_message_heard ON ivr_message(heard, id)")
    db.execute_sql(
        """CREATE TABLE ivr_survey (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            call_id TEXT NOT NULL DEFAULT '',
            caller TEXT NOT NULL DEFAULT '',
            rating INTEGER NOT NULL,
            question TEXT NOT NULL DEFAULT ''
        )"""
    )


def _m008_prompts(db: SqliteDatabase) -> None:
    """The prompt library (appliance/crm/promptstore.py): every uploaded or spoken version of a prompt;
    the newest version of a name is the one calls hear. Files live under the data dir, named by us."""
    db.execute_sql(
        """CREATE TABLE ivr_prompt (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            version INTEGER NOT NULL,
            file TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            original_type TEXT NOT NULL DEFAULT '',
            original_bytes INTEGER NOT NULL DEFAULT 0,
            duration_ms INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL DEFAULT '',
            UNIQUE (name, version)
        )"""
    )
    db.execute_sql(
        "CREATE TRIGGER ivr_prompt_no_update BEFORE UPDATE ON ivr_prompt "
        "BEGIN SELECT RAISE(ABORT, 'ivr_prompt versions are immutable'); END"
    )


def _m009_call_control(db: SqliteDatabase) -> None:
    """Agent call control: hold time, transfer chain, direction, survey in the CDR; the recording
    index (appliance/crm/callrec.py)."""
    for column in ("hold_s REAL NOT NULL DEFAULT 0", "transfers TEXT NOT NULL DEFAULT ''",
                   "direction TEXT NOT NULL DEFAULT 'in'", "survey INTEGER"):
        db.execute_sql(f"ALTER TABLE acd_cdr ADD COLUMN {column}")
    db.execute_sql(
        """CREATE TABLE call_recording (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            call_id TEXT NOT NULL,
            agent TEXT NOT NULL DEFAULT '',
            caller TEXT NOT NULL DEFAULT '',
            path TEXT NOT NULL UNIQUE,
            started_at REAL NOT NULL,
            ended_at REAL,
            duration_s REAL NOT NULL DEFAULT 0,
            started_by TEXT NOT NULL DEFAULT ''
        )"""
    )
    db.execute_sql("CREATE INDEX call_recording_call ON call_recording(call_id)")
    db.execute_sql("CREATE INDEX call_recording_started ON call_recording(started_at)")


def _m010_contacts_and_reminders(db: SqliteDatabase) -> None:
    """A customer's calls, messages and survey ratings by his numbers (appliance/crm/contacts.py);
    a work order's reminder before its time limit (appliance/crm/deadline.py)."""
    db.execute_sql("ALTER TABLE work_order ADD COLUMN reminded INTEGER NOT NULL DEFAULT 0")
    db.execute_sql("CREATE INDEX acd_cdr_caller ON acd_cdr(caller, enqueued_at)")
    db.execute_sql("CREATE INDEX ivr_message_caller ON ivr_message(caller)")
    db.execute_sql("CREATE INDEX ivr_survey_caller ON ivr_survey(caller)")


def _m011_acd_config(db: SqliteDatabase) -> None:
    """Queues and agents edited on the web, every version kept (appliance/crm/acdconf.py)."""
    db.execute_sql(
        """CREATE TABLE acd_config (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            body TEXT NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT ''
        )"""
    )
    db.execute_sql(
        "CREATE TRIGGER acd_config_no_update BEFORE UPDATE ON acd_config "
        "BEGIN SELECT RAISE(ABORT, 'acd_config versions are immutable'); END"
    )


MIGRATIONS: list[Migration] = [_m001_users, _m002_audit_log, _m003_acd, _m004_crm, _m005_ivr_flows,
                               _m006_web, _m007_ivr_messages, _m008_prompts, _m009_call_control,
                               _m010_contacts_and_reminders, _m011_acd_config]
SCHEMA_VERSION = len(MIGRATIONS)


# ---- state ---------------------------------------------------------------------------------------------


@dataclass
class _State:
    data_dir: Path | None = None
    database: SqliteDatabase | None = None
    migrations: Sequence[Migration] = tuple(MIGRATIONS)
    pool: gevent.threadpool.ThreadPool | None = None


_state = _State()
_on_db_thread = threading.local()
# One backup, restore, wipe or integrity check at a time (they use files beside the live database).
_exclusive = gevent.lock.RLock()


@dataclass(frozen=True)
class _Outcome:
    value: Any = None
    error: BaseException | None = None


def _capture(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Outcome:
    # An exception is carried back to the calling greenlet and raised there (gevent would also
    # print it as an unhandled error of the worker thread).
    try:
        return _Outcome(fn(*args, **kwargs))
    except Exception as exc:
        return _Outcome(error=exc)


def _unwrap(outcome: _Outcome) -> Any:
    if outcome.error is not None:
        raise outcome.error
    return outcome.value


def off_hub(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in gevent's general threadpool; the calling greenlet waits, the hub runs."""
    return cast(T, _unwrap(gevent.get_hub().threadpool.apply(_capture, (fn, args, {}))))


def _in_db_thread(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Outcome:
    _on_db_thread.active = True
    return _capture(fn, args, kwargs)


def run_db(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on the database thread (directly if already there)."""
    if getattr(_on_db_thread, "active", False):
        return fn(*args, **kwargs)
    if _state.pool is None:
        _state.pool = gevent.threadpool.ThreadPool(1)
    return cast(T, _unwrap(_state.pool.apply(_in_db_thread, (fn, args, kwargs))))


def db_task(fn: Callable[P, T]) -> Callable[P, T]:
    """Decorator: calls of ``fn`` run on the database thread."""
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        return run_db(fn, *args, **kwargs)

    return wrapper


def open_database(path: Path) -> SqliteDatabase:
    """A peewee database for ``path`` with the appliance's pragmas (not connected yet)."""
    return SqliteDatabase(str(path), pragmas=PRAGMAS, timeout=BUSY_TIMEOUT_MS / 1000)


def init_db(data_dir: Path, migrations: Sequence[Migration] | None = None) -> SqliteDatabase:
    """Open (creating if needed) ``<data_dir>/rexian.db``, bind ``database_proxy``, migrate."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    close_db()
    db = open_database(data_dir / DB_FILENAME)
    database_proxy.initialize(db)
    _state.data_dir = data_dir
    _state.database = db
    _state.migrations = tuple(MIGRATIONS if migrations is None else migrations)
    run_db(_open_and_migrate, db)
    return db


def _open_and_migrate(db: SqliteDatabase) -> None:
    db.connect(reuse_if_open=True)
    migrate(db, _state.migrations)


@db_task
def close_db() -> None:
    """Close the database thread's connection, if one is open."""
    if _state.database is not None and not _state.database.is_closed():
        _state.database.close()


def database() -> SqliteDatabase:
    if _state.database is None:
        raise NotInitialized("crm database not initialised: call init_db(data_dir) first")
    return _state.database


def db_path() -> Path:
    if _state.data_dir is None:
        raise NotInitialized("crm database not initialised: call init_db(data_dir) first")
    return _state.data_dir / DB_FILENAME


def data_dir() -> Path:
    if _state.data_dir is None:
        raise NotInitialized("crm database not initialised: call init_db(data_dir) first")
    return _state.data_dir


@db_task
def execute(sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    """Run one SQL statement on the database thread; its rows."""
    return [tuple(row) for row in database().execute_sql(sql, tuple(params)).fetchall()]


@db_task
def user_version(db: SqliteDatabase | None = None) -> int:
    """The number of migrations applied to the open database."""
    cursor = (db or database()).execute_sql("PRAGMA user_version")
    return int(cursor.fetchone()[0])


@db_task
def migrate(db: SqliteDatabase | None = None, migrations: Sequence[Migration] | None = None) -> int:
    """Apply the migrations not applied yet; returns the new version.

    Each migration and its ``user_version`` bump share one transaction: if the migration raises,
    everything it did is rolled back and MigrationError is raised, the version unchanged.
    """
    db = db or database()
    steps = list(_state.migrations if migrations is None else migrations)
    current = user_version(db)
    if current > len(steps):
        raise SchemaTooNew(f"database schema version {current} is newer than this firmware's {len(steps)}")
    for number in range(current + 1, len(steps) + 1):
        step = steps[number - 1]
        try:
            with db.atomic():
                step(db)
                db.execute_sql(f"PRAGMA user_version = {int(number)}")
        except Exception as exc:
            raise MigrationError(
                f"migration {number} ({getattr(step, '__name__', step)}) failed, database left at "
                f"version {number - 1}: {exc}"
            ) from exc
        log.info("database migrated to version %d (%s)", number, getattr(step, "__name__", step))
    return len(steps)


# ---- file helpers (run in worker threads) ---------------------------------------------------------------


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _raw_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _check_file(path: Path) -> tuple[list[str], int]:
    """(problems, user_version) of a database file; problems is empty when the file is sound."""
    try:
        conn = _raw_connect(path)
    except sqlite3.Error as exc:
        return [f"cannot open: {exc}"], 0
    try:
        conn.execute("PRAGMA query_only = 1")
        rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check(100)")]
        problems = [] if rows == ["ok"] else rows
        for table, rowid, parent, _fk in conn.execute("PRAGMA foreign_key_check"):
            problems.append(f"foreign key violation: {table} row {rowid} -> {parent}")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        return problems, version
    except sqlite3.Error as exc:
        return [f"not a sound SQLite database: {exc}"], 0
    finally:
        conn.close()


def _backup_worker(source: Path, target: Path) -> None:
    part = target.with_name(target.name + BACKUP_SUFFIX_PART)
    part.unlink(missing_ok=True)
    src = _raw_connect(source)
    try:
        dst = sqlite3.connect(str(part), isolation_level=None)
        try:
            def pause(_status: int, _remaining: int, _total: int) -> None:
                time.sleep(BACKUP_SLEEP)   # worker thread: gives the disk (and the GIL) back

            src.backup(dst, pages=BACKUP_PAGES, progress=pause)
            # A self-contained single file (no -wal beside it), whatever the source's journal mode.
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    _fsync_file(part)
    os.replace(part, target)
    _fsync_dir(target.parent)


def _prepare_restore(source: Path, staged: Path, code_version: int) -> int:
    """Copy ``source`` to ``staged``, fsync it, check it; returns its version or raises RestoreError."""
    staged.unlink(missing_ok=True)
    try:
        shutil.copyfile(source, staged)
        _fsync_file(staged)
    except OSError as exc:
        staged.unlink(missing_ok=True)
        raise RestoreError(f"cannot read {source.name}: {exc.strerror or exc}") from None
    problems, version = _check_file(staged)
    reason = ""
    if problems:
        reason = "integrity check failed: " + "; ".join(problems[:3])
    elif version > code_version:
        reason = f"its schema version {version} is newer than this firmware's {code_version}"
    elif version < 1:
        reason = "it is not a Rexian database (schema version 0)"
    if reason:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(staged) + suffix).unlink(missing_ok=True)
        raise RestoreError(f"{source.name} refused: {reason}")
    return version


# ---- backup, integrity, restore, wipe --------------------------------------------------------------------


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    problems: list[str]     # integrity_check of the written copy; empty when sound

    @property
    def ok(self) -> bool:
        return not self.problems


def backup_to(target: Path) -> BackupResult:
    """Online backup of the live database to ``target`` (written as ``target.part``, then renamed).

    Copies with sqlite3's backup API in steps of BACKUP_PAGES pages with BACKUP_SLEEP pauses, in
    gevent's threadpool, then runs integrity_check on the copy. The database stays usable throughout.
    """
    source = db_path()
    target = Path(target)
    with _exclusive:
        off_hub(_backup_worker, source, target)
        problems, _version = off_hub(_check_file, target)
    return BackupResult(target, target.stat().st_size, problems)


def integrity_check(path: Path | None = None) -> list[str]:
    """``PRAGMA integrity_check`` + ``foreign_key_check`` of the live database (or of ``path``),
    in the threadpool; returns the problems found, empty when sound."""
    with _exclusive:
        problems, _version = off_hub(_check_file, Path(path) if path is not None else db_path())
    return problems


def schema_version_of(path: Path) -> int:
    """user_version of a database file (0 if it is not a readable database)."""
    _problems, version = off_hub(_check_file, Path(path))
    return version


@dataclass(frozen=True)
class RestoreResult:
    version: int        # schema version of the restored file (before migrating it up)
    backup: Path        # where the replaced database was kept


def restore_from(source: Path) -> RestoreResult:
    """Replace the live database with the backup file ``source``, keeping the old one as ``.bak``.

    The file is copied next to the database and fsynced, then checked (integrity_check, a Rexian
    schema version not newer than this code's); a refused file raises RestoreError and changes
    nothing. The swap itself -- a hard link of the old file to ``rexian.db.bak``, then a rename of
    the checked copy over ``rexian.db``, both atomic -- runs on the database thread with the
    connection closed, so no query sees a half-swapped database. Older backups are then migrated up
    to the current schema (if that fails, the old database is put back).
    """
    live = db_path()
    staged = live.with_name(live.name + RESTORE_SUFFIX)
    with _exclusive:
        version = off_hub(_prepare_restore, Path(source), staged, len(_state.migrations))
        bak = run_db(_swap_in, database(), live, staged)
    log.warning("database restored from %s (schema version %d); previous kept as %s", source, version, bak)
    return RestoreResult(version, bak)


def _swap_in(db: SqliteDatabase, live: Path, staged: Path) -> Path:
    bak = live.with_name(live.name + BAK_SUFFIX)
    if not db.is_closed():
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(bak) + suffix).unlink(missing_ok=True)
    link = bak.with_name(bak.name + ".tmp")
    link.unlink(missing_ok=True)
    try:
        os.link(live, link)
    except OSError as exc:
        staged.unlink(missing_ok=True)
        db.connect(reuse_if_open=True)
        raise RestoreError(f"cannot keep the current database as {bak.name}: {exc}") from None
    os.replace(link, bak)
    wal = Path(str(live) + "-wal")
    if wal.exists() and wal.stat().st_size:   # close() normally checkpoints it away; else it is .bak's
        os.replace(wal, Path(str(bak) + "-wal"))
    wal.unlink(missing_ok=True)
    Path(str(live) + "-shm").unlink(missing_ok=True)
    os.replace(staged, live)
    _fsync_dir(live.parent)
    try:
        db.connect(reuse_if_open=True)
        migrate(db)
    except Exception:
        db.close()
        os.replace(bak, live)
        _fsync_dir(live.parent)
        db.connect(reuse_if_open=True)
        raise
    return bak


def wipe(*, include_backups: bool = False) -> None:
    """Factory reset of the database: delete it (and its ``.bak``), start an empty migrated one.

    With ``include_backups`` the ``<data_dir>/backups`` directory goes too (it holds the same
    personal data). Recordings are not this module's business.
    """
    live = db_path()
    with _exclusive:
        if include_backups:
            off_hub(shutil.rmtree, live.parent / "backups", True)
        run_db(_wipe_files, database(), live)
    log.warning("database wiped (factory reset)")


def _wipe_files(db: SqliteDatabase, live: Path) -> None:
    db.close()
    for base in (live, live.with_name(live.name + BAK_SUFFIX), live.with_name(live.name + RESTORE_SUFFIX)):
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(base) + suffix).unlink(missing_ok=True)
    _fsync_dir(live.parent)
    db.connect(reuse_if_open=True)
    migrate(db)
