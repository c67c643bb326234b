"""What callers leave with the IVR: voicemail / after-hours messages (留言) and survey ratings.

Tables ``ivr_message`` and ``ivr_survey`` (migration 7 in db.py). A message row holds the caller's
number, its category (the record node's ``kind``: voicemail, complaint, repair, consultation...),
the duration and the recording's file name RELATIVE to the data dir (the IVR names the file; no
path ever comes from a user). Every write is audited; all functions run on the database thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from appliance.crm import audit
from appliance.crm.common import InvalidInput, NotFound, now_iso
from appliance.crm.db import data_dir, database, db_task

MAX_FIELD = 64
CATEGORY_NAMES = {"voicemail": "留言", "complaint": "投诉", "repair": "报修", "consultation": "咨询"}


@dataclass(frozen=True)
class Message:
    id: int
    at: str
    call_id: str
    caller: str
    category: str
    duration_ms: int
    recording: str          # relative to the data dir
    heard: bool

    @property
    def category_name(self) -> str:
        return CATEGORY_NAMES.get(self.category, self.category)


def _short(value: object, label: str) -> str:
    text = str(value or "")
    if len(text) > MAX_FIELD or any(ord(ch) < 32 for ch in text):
        raise InvalidInput(f"{label}无效")
    return text


def _relative(recording: str) -> str:
    path = Path(recording)
    base = data_dir().resolve()
    try:
        return str(path.resolve().relative_to(base))
    except ValueError:
        raise InvalidInput("录音文件不在数据目录中") from None


@db_task
def add_message(call_id: str, caller: str, category: str, duration_ms: int, recording: str) -> Message:
    """Store a message the IVR recorded (``recording``: the file it wrote under the data dir)."""
    if not isinstance(duration_ms, int) or duration_ms < 0:
        raise InvalidInput("时长无效")
    values = (now_iso(), _short(call_id, "呼叫编号"), _short(caller, "来电号码"), _short(category, "类别"),
              duration_ms, _relative(recording))
    db = database()
    with db.atomic():
        cur = db.execute_sql("INSERT INTO ivr_message(at, call_id, caller, category, duration_ms, recording)"
                             " VALUES (?, ?, ?, ?, ?, ?)", values)
        mid = int(cur.lastrowid)
        audit.record("ivr_message", actor="ivr", source="ivr", target=f"message:{mid}",
                     details={"caller": values[2], "category": values[3], "duration_ms": duration_ms})
    return Message(mid, values[0], values[1], values[2], values[3], duration_ms, values[5], False)


@db_task
def list_messages(limit: int = 100, *, unheard_only: bool = False) -> list[Message]:
    sql = ("SELECT id, at, call_id, caller, category, duration_ms, recording, heard FROM ivr_message"
           + (" WHERE heard = 0" if unheard_only else "") + " ORDER BY id DESC LIMIT ?")
    rows = database().execute_sql(sql, (max(1, min(int(limit), 1000)),)).fetchall()
    return [Message(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7])) for r in rows]


@db_task
def get_message(message_id: int) -> Message:
    rows = database().execute_sql("SELECT id, at, call_id, caller, category, duration_ms, recording, heard "
                                  "FROM ivr_message WHERE id = ?", (int(message_id),)).fetchall()
    if not rows:
        raise NotFound("留言不存在")
    r = rows[0]
    return Message(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7]))


def recording_path(message: Message) -> Path:
    """The absolute path of a message's recording, refused unless it lies inside the data dir."""
    base = data_dir().resolve()
    path = (base / message.recording).resolve()
    if not path.is_relative_to(base):
        raise InvalidInput("录音文件不在数据目录中")
    return path


@db_task
def note_played(message_id: int, actor: str) -> None:
    """Audit that ``actor`` listened to a message (a caller's voice is personal data)."""
    audit.record("ivr_message_played", actor=actor, source="web", target=f"message:{int(message_id)}")


@db_task
def mark_heard(message_id: int, actor: str) -> None:
    db = database()
    with db.atomic():
        if db.execute_sql("UPDATE ivr_message SET heard = 1 WHERE id = ?", (int(message_id),)).rowcount != 1:
            raise InvalidInput("留言不存在")
        audit.record("ivr_message_heard", actor=actor, source="web", target=f"message:{int(message_id)}")


@db_task
def add_rating(call_id: str, caller: str, rating: int, question: str) -> int:
    """Store a post-call survey rating (the key the caller pressed)."""
    if not isinstance(rating, int) or not 0 <= rating <= 9:
        raise InvalidInput("评价无效")
    values = (now_iso(), _short(call_id, "呼叫编号"), _short(caller, "来电号码"), rating,
              _short(question, "问题"))
    db = database()
    with db.atomic():
        cur = db.execute_sql(
            "INSERT INTO ivr_survey(at, call_id, caller, rating, question) VALUES (?, ?, ?, ?, ?)", values)
        sid = int(cur.lastrowid)
        audit.record("ivr_survey", actor="ivr", source="ivr", target=f"survey:{sid}",
                     details={"rating": rating})
    return sid


@db_task
def ratings(limit: int = 100) -> list[tuple[str, str, int]]:
    rows = database().execute_sql("SELECT call_id, caller, rating FROM ivr_survey ORDER BY id DESC LIMIT ?",
                                  (max(1, min(int(limit), 1000)),)).fetchall()
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]
