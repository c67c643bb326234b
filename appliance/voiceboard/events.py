"""Board events as Python sees them (mirrors enum vb_event_type in drivers/csrc/vb.h)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class EventType(IntEnum):
    DTMF = 1
    PLAY_DONE = 2
    PLAY_ERROR = 3
    RECORD_DONE = 4
    HOOK = 5
    FLASH = 6
    RING = 7
    CALLERID = 8
    POLARITY = 9
    TONE = 10
    LINE = 11
    CAS = 12
    DIGITS_SENT = 13
    CMD_ERROR = 14
    LOG = 15
    OVERFLOW = 16
    ENERGY = 17
    ALARM = 18


class Kind(IntEnum):
    """Channel kinds (enum vb_kind)."""

    FXO = 1
    FXS = 2
    E1 = 3


class PlayReason(IntEnum):
    END = 0
    BARGE_IN = 1
    STOPPED = 2


class RecordReason(IntEnum):
    MAXTIME = 0
    SILENCE = 1
    DTMF = 2
    STOPPED = 3
    ERROR = 4


class CidFormat(IntEnum):
    FSK = 1
    DTMF = 2


class Tone(IntEnum):
    """China call-progress tones (enum vb_tone_id)."""

    DIAL = 1
    RINGBACK = 2
    BUSY = 3
    CONGESTION = 4
    BEEP = 5
    CALLWAIT = 6


@dataclass(frozen=True, slots=True)
class BoardEvent:
    type: EventType
    chan: int
    tag: int
    arg: int
    arg2: int
    time_ms: int
    text: str

    def describe(self) -> str:
        return (f"{self.type.name} chan={self.chan} tag={self.tag} arg={self.arg} arg2={self.arg2} "
                f"{self.text!r}")
