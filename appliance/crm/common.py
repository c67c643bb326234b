"""What the CRM services share: the actor of a change, errors with Chinese messages, input checks,
the clock (injectable for tests), and safe building blocks for text search.

Every refusal is a ``CrmError`` (a ValueError) whose message is Chinese and fit to show to an agent
or to read in a log; nothing a caller types can make a service crash with a database error.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

TZ_CN = _dt.timezone(_dt.timedelta(hours=8), "CST")  # serial numbers and displays use Beijing time
MAX_SEARCH = 64  # characters of a search text


class CrmError(ValueError):
    """A CRM operation was refused; ``str(exc)`` is a Chinese message fit to show."""


class InvalidInput(CrmError):
    pass


class NotFound(CrmError):
    pass


class PermissionDenied(CrmError):
    pass


@dataclass(frozen=True)
class Actor:
    """Who makes a change, for the audit log and the work-order steps."""

    username: str
    role: str = "agent"
    team_id: int | None = None  # the technician team of a technician
    source: str = "web"  # 'web', 'ivr', 'console', 'system'


SYSTEM = Actor("system", "system", None, "system")

# ---- clock ---------------------------------------------------------------------------------------

_clock: Callable[[], _dt.datetime] = lambda: _dt.datetime.now(_dt.UTC)  # noqa: E731


def set_clock(clock: Callable[[], _dt.datetime] | None) -> None:
    """Replace the clock (tests); ``None`` restores the real one. The clock returns an aware datetime."""
    global _clock
    _clock = clock if clock is not None else (lambda: _dt.datetime.now(_dt.UTC))


def now() -> _dt.datetime:
    return _clock().astimezone(_dt.UTC)


def iso(moment: _dt.datetime) -> str:
    """UTC ISO 8601 with offset, fixed width (so that stored times compare as text)."""
    return moment.astimezone(_dt.UTC).isoformat(timespec="seconds")


def now_iso() -> str:
    return iso(now())


# ---- input checks --------------------------------------------------------------------------------

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")


def text(value: object, label: str, limit: int, *, required: bool = False, multiline: bool = False) -> str:
    """A cleaned text field: stripped, NFC, no control characters; refused when too long or missing."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{label}必须是文字")
    cleaned = unicodedata.normalize("NFC", value).strip()
    if not multiline and ("\n" in cleaned or "\r" in cleaned or "\t" in cleaned):
        cleaned = re.sub(r"\s+", " ", cleaned)
    if _CONTROL_RE.search(cleaned):
        raise InvalidInput(f"{label}含有控制字符")
    if required and not cleaned:
        raise InvalidInput(f"{label}不能为空")
    if len(cleaned) > limit:
        raise InvalidInput(f"{label}过长：最多{limit}个字，现在{len(cleaned)}个字")
    return cleaned


def integer(value: object, label: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{label}必须是整数")
    if not low <= value <= high:
        raise InvalidInput(f"{label}超出范围（{low}～{high}）")
    return value


def choice(value: object, label: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInput(f"{label}无效：{value!r}，可选 {'、'.join(allowed)}")
    return str(value)


def search_text(value: object) -> str:
    """A search text: cleaned and bounded; empty is refused."""
    return text(value, "查询内容", MAX_SEARCH, required=True)


# ---- search building blocks ----------------------------------------------------------------------


def fts_phrase(value: str) -> str:
    """An FTS5 query matching ``value`` literally (one quoted phrase): no FTS syntax gets through."""
    return '"' + value.replace('"', '""') + '"'


def like_escape(value: str) -> str:
    """``value`` for ``LIKE ? ESCAPE '\\'``: %, _ and \\ match themselves."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def prefix_bounds(value: str) -> tuple[str, str]:
    """(low, high) such that ``low <= col < high`` is ``col LIKE value || '%'`` with an index (BINARY)."""
    return value, value + "\U0010ffff"


def bigrams(value: str) -> list[str]:
    """The 2-character substrings of ``value`` after its first character (see customer.py)."""
    return sorted({value[i : i + 2] for i in range(1, len(value) - 1)})
