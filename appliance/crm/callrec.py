"""Call recordings: the index of the files the ACD records, and the paths it may write.

Table ``call_recording`` (migration 9 in db.py). The ACD asks ``new_path(call_id, n)`` for a file
name: always ``recordings/YYYYMMDD/<call id>-<n>.wav`` under the data dir, built from the call id
the ACD made (checked against a strict pattern), never from user input. A row is opened when the
recording starts and closed with its duration when it stops; ``recording_file(id)`` gives the web
the file of one row by id (no path in any request). Every write is audited; the functions run on
the database thread.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.crm import audit
from appliance.crm.common import InvalidInput
from appliance.crm.db import data_dir, database, db_task

RECORDINGS = "recordings"
_CALL_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


@dataclass(frozen=True)
class Recording:
    id: int
    call_id: str
    agent: str
    caller: str
    path: str               # relative to the data dir
    started_at: float
    ended_at: float | None
    duration_s: float
    started_by: str


def new_path(call_id: str, n: int, at: float | None = None) -> Path:
    """The absolute file for the ``n``-th recording of ``call_id`` (its directory is created)."""
    if not _CALL_ID.fullmatch(call_id) or n < 1:
        raise InvalidInput("录音文件名无效")
    day = time.strftime("%Y%m%d", time.localtime(at if at is not None else time.time()))
    directory = data_dir() / RECORDINGS / day
    directory.mkdir(parents=True, exist_ok=True)
    return directory / f"{call_id}-{n}.wav"


def _relative(path: Path) -> str:
    base = data_dir().resolve()
    try:
        return str(path.resolve().relative_to(base / RECORDINGS).as_posix())
    except ValueError:
        raise InvalidInput("录音文件不在数据目录中") from None


@db_task
def open_recording(call_id: str, agent: str, caller: str, path: Path, started_at: float,
                   started_by: str) -> int:
    rel = _relative(path)
    cur = database().execute_sql(
        "INSERT INTO call_recording(call_id, agent, caller, path, started_at, started_by) "
        "VALUES (?, ?, ?, ?, ?, ?)", (call_id, agent, caller, rel, started_at, started_by))
    rid = int(cur.lastrowid)
    audit.record("call_recording", actor=started_by or "acd", source="acd", target=f"recording:{rid}",
                 details={"call": call_id, "agent": agent})
    return rid


@db_task
def close_recording(rid: int, ended_at: float, duration_s: float) -> None:
    database().execute_sql(
        "UPDATE call_recording SET ended_at = ?, duration_s = ? WHERE id = ? AND ended_at IS NULL",
        (ended_at, round(max(0.0, duration_s), 3), rid))


def _row(r: tuple[Any, ...]) -> Recording:
    return Recording(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), float(r[5]),
                     None if r[6] is None else float(r[6]), float(r[7]), str(r[8]))


_COLUMNS = "id, call_id, agent, caller, path, started_at, ended_at, duration_s, started_by"


@db_task
def recordings_of(call_id: str) -> list[Recording]:
    rows = database().execute_sql(f"SELECT {_COLUMNS} FROM call_recording WHERE call_id = ? ORDER BY id",
                                  (call_id,)).fetchall()
    return [_row(r) for r in rows]


@db_task
def recent_recordings(limit: int = 100) -> list[Recording]:
    rows = database().execute_sql(f"SELECT {_COLUMNS} FROM call_recording ORDER BY id DESC LIMIT ?",
                                  (limit,)).fetchall()
    return [_row(r) for r in rows]


@db_task
def recording_file(rid: int) -> Path | None:
    """The file of recording ``rid`` (None: no such row, or the file is not inside the data dir)."""
    row = database().execute_sql("SELECT path FROM call_recording WHERE id = ?", (rid,)).fetchone()
    if row is None:
        return None
    base = (data_dir() / RECORDINGS).resolve()
    path = (base / str(row[0])).resolve()
    return path if path.is_relative_to(base) else None


ALAW_BYTES_PER_S = 8000
WAV_HEADER = 44             # the engine's A-law WAV header (RIFF + fmt + data)


@db_task
def close_open_recordings(ended_at: float) -> int:
    """At start-up: recordings a crash cut keep their file (the A-law WAV is readable as written);
    their duration is taken from the file's size."""
    db = database()
    rows = db.execute_sql("SELECT id, path FROM call_recording WHERE ended_at IS NULL").fetchall()
    base = data_dir() / RECORDINGS
    for rid, rel in rows:
        try:
            size = (base / str(rel)).stat().st_size
        except OSError:
            size = 0
        duration = max(0, size - WAV_HEADER) / ALAW_BYTES_PER_S
        db.execute_sql("UPDATE call_recording SET ended_at = ?, duration_s = ? WHERE id = ?",
                       (ended_at, round(duration, 3), rid))
    return len(rows)
