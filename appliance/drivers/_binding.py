"""The one thin binding of the C media engine (csrc/vb.h) for Python.

``ffi`` and ``lib`` come from the cffi extension ``appliance.drivers._vb``. Every command
returns 0 (or an index/id >= 0) or a negative ``VB_E*`` code; :func:`check` turns the
negative ones into typed exceptions. The outcome of a command is an event
(``vb_board_get_events``); :func:`read_events` decodes them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from appliance.drivers._vb import ffi, lib

__all__ = [
    "BadState",
    "Event",
    "FileError",
    "InvalidArgument",
    "LinkError",
    "NoSuchChannel",
    "PlayItem",
    "QueueFull",
    "VBError",
    "VBSystemError",
    "WrongKind",
    "check",
    "ffi",
    "lib",
    "play_items",
    "read_events",
]


class VBError(Exception):
    """A media engine call failed; ``code`` is the (positive) ``VB_E*`` code."""

    code: int = 0

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message or f"media engine error {code}")
        self.code = code


class InvalidArgument(VBError):
    """VB_EINVAL: a bad argument."""


class NoSuchChannel(VBError):
    """VB_ECHAN: no such channel."""


class WrongKind(VBError):
    """VB_EKIND: the operation is not valid for this channel kind."""


class QueueFull(VBError):
    """VB_EFULL: the command queue or a table is full."""


class BadState(VBError):
    """VB_ESTATE: the board or channel is not in a state for this."""


class VBSystemError(VBError):
    """VB_ESYS: a system call failed; ``errno`` is the engine's saved errno."""

    def __init__(self, code: int, message: str = "") -> None:
        self.errno = int(lib.vb_last_errno())
        detail = os.strerror(self.errno) if self.errno else "unknown"
        super().__init__(code, message or f"system error: {detail}")


class LinkError(VBError):
    """VB_ELINK: kinds do not pair, or a channel is already linked / not linked."""


class FileError(VBError):
    """VB_EFILE: a bad or unreadable file."""


_ERRORS: dict[int, tuple[type[VBError], str]] = {
    lib.VB_EINVAL: (InvalidArgument, "invalid argument"),
    lib.VB_ECHAN: (NoSuchChannel, "no such channel"),
    lib.VB_EKIND: (WrongKind, "operation not valid for this channel kind"),
    lib.VB_EFULL: (QueueFull, "queue or table full"),
    lib.VB_ESTATE: (BadState, "not in a state for this"),
    lib.VB_ESYS: (VBSystemError, ""),
    lib.VB_ELINK: (LinkError, "link error"),
    lib.VB_EFILE: (FileError, "bad or unreadable file"),
}


def check(rc: int) -> int:
    """Return ``rc`` if it is >= 0, else raise the matching :class:`VBError`."""
    rc = int(rc)
    if rc >= 0:
        return rc
    cls, text = _ERRORS.get(-rc, (VBError, ""))
    raise cls(-rc, text)


@dataclass(frozen=True)
class PlayItem:
    """One item of a play list (``vb_play_item_t``); ``kind`` is a ``VB_ITEM_*`` value."""

    kind: int
    path: str = ""
    digits: str = ""
    tone_id: int = 0
    f1: int = 0
    f2: int = 0
    level_dbm0: int = -10
    on_ms: int = 0
    off_ms: int = 0
    duration_ms: int = 0

    @classmethod
    def file(cls, path: str | os.PathLike[str]) -> PlayItem:
        return cls(kind=lib.VB_ITEM_FILE, path=os.fspath(path))

    @classmethod
    def tone(
        cls,
        f1: int,
        f2: int = 0,
        level_dbm0: int = -10,
        on_ms: int = 0,
        off_ms: int = 0,
        duration_ms: int = 0,
    ) -> PlayItem:
        return cls(
            kind=lib.VB_ITEM_TONE,
            f1=f1,
            f2=f2,
            level_dbm0=level_dbm0,
            on_ms=on_ms,
            off_ms=off_ms,
            duration_ms=duration_ms,
        )

    @classmethod
    def cptone(cls, tone_id: int, duration_ms: int = 0) -> PlayItem:
        return cls(kind=lib.VB_ITEM_CPTONE, tone_id=tone_id, duration_ms=duration_ms)

    @classmethod
    def dtmf(cls, digits: str, on_ms: int = 0, off_ms: int = 0) -> PlayItem:
        return cls(kind=lib.VB_ITEM_DTMF, digits=digits, on_ms=on_ms, off_ms=off_ms)

    @classmethod
    def silence(cls, duration_ms: int) -> PlayItem:
        return cls(kind=lib.VB_ITEM_SILENCE, duration_ms=duration_ms)


def play_items(items: Sequence[PlayItem]) -> tuple[Any, list[Any]]:
    """A ``vb_play_item_t[]`` for ``items`` and the list keeping its strings alive.

    Keep both referenced until ``vb_play`` has returned (it copies everything).
    """
    arr = ffi.new("vb_play_item_t[]", len(items))
    keep: list[Any] = [arr]
    for i, item in enumerate(items):
        c = arr[i]
        c.type = item.kind
        if item.path:
            buf = ffi.new("char[]", os.fsencode(item.path))
            keep.append(buf)
            c.path = buf
        if item.digits:
            buf = ffi.new("char[]", item.digits.encode("ascii"))
            keep.append(buf)
            c.digits = buf
        c.tone_id = item.tone_id
        c.f1 = item.f1
        c.f2 = item.f2
        c.level_dbm0 = item.level_dbm0
        c.on_ms = item.on_ms
        c.off_ms = item.off_ms
        c.duration_ms = item.duration_ms
    return arr, keep


@dataclass(frozen=True)
class Event:
    """A decoded ``vb_event_t``."""

    type: int
    chan: int
    tag: int
    arg: int
    arg2: int
    time_ms: int
    text: str


def read_events(board: Any, buf: Any, max_events: int | None = None) -> list[Event]:
    """Drain up to ``max_events`` events of ``board`` through ``buf`` (a ``vb_event_t[]``)."""
    n = check(lib.vb_board_get_events(board, buf, max_events if max_events is not None else len(buf)))
    out = []
    for i in range(n):
        e = buf[i]
        out.append(
            Event(
                int(e.type),
                int(e.chan),
                int(e.tag),
                int(e.arg),
                int(e.arg2),
                int(e.time_ms),
                ffi.string(e.text).decode("utf-8", "replace"),
            )
        )
    return out
