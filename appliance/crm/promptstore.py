"""The prompt library's index: every version of every prompt an administrator uploaded or had spoken.

Table ``ivr_prompt`` (migration 8 in db.py). A row is immutable (a trigger refuses UPDATE); a new
upload of a name is its next version, and the newest version of a name is the one calls hear, so a
refused upload never touches what plays. ``file`` is RELATIVE to the data dir and always a name this
code generated (``prompts/<random hex>.wav``): nothing a user typed or uploaded names a file. Every
write is audited. All functions run on the database thread.

The crm layer does not know audio: the IVR's prompt library (appliance/ivr/promptlib.py) checks and
converts the file, then calls ``add_version`` with what it wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from appliance.crm import audit
from appliance.crm.common import InvalidInput, NotFound, now_iso
from appliance.crm.db import data_dir, database, db_task

PROMPT_DIR = "prompts"          # under the data dir
NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
FILE_RE = re.compile(r"prompts/[0-9a-f]{16,64}\.wav")
SOURCES = ("upload", "tts")
SOURCE_NAMES = {"upload": "上传", "tts": "文字转语音"}


@dataclass(frozen=True)
class StoredPrompt:
    id: int
    name: str
    version: int
    file: str               # relative to the data dir
    source: str
    original_type: str
    original_bytes: int
    duration_ms: int
    sha256: str
    text: str
    created_at: str
    created_by: str

    @property
    def source_name(self) -> str:
        return SOURCE_NAMES.get(self.source, self.source)

    def path(self) -> Path:
        """The file's absolute path (inside the data dir by construction: see FILE_RE)."""
        return data_dir().resolve() / self.file


_COLUMNS = ("id, name, version, file, source, original_type, original_bytes, duration_ms, sha256, text, "
            "created_at, created_by")


def _row(r: tuple[object, ...]) -> StoredPrompt:
    return StoredPrompt(int(str(r[0])), str(r[1]), int(str(r[2])), str(r[3]), str(r[4]), str(r[5]),
                        int(str(r[6])), int(str(r[7])), str(r[8]), str(r[9]), str(r[10]), str(r[11]))


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name or ""):
        raise InvalidInput("语音名称无效：须为小写字母开头的1～40个字符（a-z 0-9 _）")
    return name


def prompt_dir() -> Path:
    return data_dir() / PROMPT_DIR


@db_task
def add_version(name: str, file: str, *, source: str, original_type: str, original_bytes: int,
                duration_ms: int, sha256: str, text: str = "", created_by: str) -> StoredPrompt:
    """Index a converted prompt file as the next version of ``name`` (it plays from now on)."""
    check_name(name)
    if not FILE_RE.fullmatch(file):
        raise InvalidInput("语音文件名无效")
    if source not in SOURCES:
        raise InvalidInput("来源无效")
    if not (data_dir() / file).is_file():
        raise InvalidInput("语音文件不存在")
    db = database()
    with db.atomic():
        (latest,) = db.execute_sql("SELECT COALESCE(MAX(version), 0) FROM ivr_prompt WHERE name = ?",
                                   (name,)).fetchone()
        version = int(latest) + 1
        values = (name, version, file, source, original_type[:16], int(original_bytes), int(duration_ms),
                  sha256, text[:500], now_iso(), created_by[:64])
        cur = db.execute_sql(
            "INSERT INTO ivr_prompt (name, version, file, source, original_type, original_bytes, duration_ms,"
            " sha256, text, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        pid = int(cur.lastrowid)
        audit.record("ivr.prompt.add", actor=created_by, source="web", target=f"prompt:{name}@v{version}",
                     details={"id": pid, "source": source, "type": original_type, "bytes": original_bytes,
                              "duration_ms": duration_ms, "sha256": sha256})
    return StoredPrompt(pid, name, version, file, source, str(values[4]), int(original_bytes),
                        int(duration_ms), sha256, str(values[8]), str(values[9]), str(values[10]))


@db_task
def note_refused(name: str, reason: str, by: str, *, size: int, source: str) -> None:
    """Audit a refused upload or text (someone offering a program as a prompt is worth a trace)."""
    audit.record("ivr.prompt.refused", actor=by, source="web", target=f"prompt:{name[:40]}",
                 details={"reason": reason[:200], "bytes": int(size), "source": source})


@db_task
def get(prompt_id: int) -> StoredPrompt:
    rows = database().execute_sql(f"SELECT {_COLUMNS} FROM ivr_prompt WHERE id = ?",
                                  (int(prompt_id),)).fetchall()
    if not rows:
        raise NotFound("语音不存在")
    return _row(tuple(rows[0]))


@db_task
def current() -> dict[str, StoredPrompt]:
    """The newest version of every name: what calls hear."""
    rows = database().execute_sql(
        f"SELECT {_COLUMNS} FROM ivr_prompt p WHERE version = "
        "(SELECT MAX(version) FROM ivr_prompt q WHERE q.name = p.name) ORDER BY name").fetchall()
    return {str(r[1]): _row(tuple(r)) for r in rows}


@db_task
def versions(name: str) -> list[StoredPrompt]:
    """Every version of ``name``, newest first."""
    rows = database().execute_sql(f"SELECT {_COLUMNS} FROM ivr_prompt WHERE name = ? ORDER BY version DESC",
                                  (check_name(name),)).fetchall()
    return [_row(tuple(r)) for r in rows]


@db_task
def count() -> int:
    (n,) = database().execute_sql("SELECT COUNT(*) FROM ivr_prompt").fetchone()
    return int(n)
