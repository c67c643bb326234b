"""Line editing for the serial console, byte by byte, robust to garbage.

Enter (CR, LF or CRLF) ends a line; Backspace/DEL erases a character; Ctrl-U erases the line; Ctrl-C
cancels the line; Ctrl-D on an empty line is end of input (log out). ANSI escape sequences (arrow keys)
are swallowed. Every other control byte -- NUL (which is what a break reads as), XON/XOFF, bell... -- is
ignored. Bytes are decoded as UTF-8 with errors='replace', so noise at the wrong baud rate becomes
U+FFFD, which is kept in the line (the session refuses a garbled line) and echoed as '?'. A line longer
than ``max_len`` characters is cut there and marked as overflowed; the rest is dropped until Enter.
"""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass
from typing import Literal

MAX_LINE = 256          # characters in one input line
MAX_ESCAPE = 16         # bytes of one escape sequence before it is abandoned

BS, CTRL_C, CTRL_D, CTRL_U, ESC, DEL = "\x08", "\x03", "\x04", "\x15", "\x1b", "\x7f"
BELL = "\x07"
REPLACEMENT = "\ufffd"


@dataclass(frozen=True)
class Event:
    kind: Literal["line", "cancel", "eof"]
    text: str = ""
    overflow: bool = False      # the line was longer than max_len and was cut


def _width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


class LineEditor:
    """Feed it bytes with ``push``; it returns an Event when a line is done and collects the echo."""

    def __init__(self, max_len: int = MAX_LINE) -> None:
        self.max_len = max_len
        self.secret = False         # echo nothing (passwords)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf: list[str] = []
        self._overflow = False
        self._escape = 0            # 0: none; >0: bytes seen in the current escape sequence
        self._after_cr = False
        self._echo: list[str] = []

    def reset(self, secret: bool = False) -> None:
        """Start a new line (the decoder keeps any half-received character)."""
        self.secret = secret
        self._buf.clear()
        self._overflow = False

    @property
    def pending(self) -> str:
        return "".join(self._buf)

    def take_echo(self) -> str:
        out = "".join(self._echo)
        self._echo.clear()
        return out

    def push(self, byte: int) -> Event | None:
        event = None
        for ch in self._decoder.decode(bytes((byte,))):
            event = self._char(ch) or event
        return event

    def _char(self, ch: str) -> Event | None:
        after_cr, self._after_cr = self._after_cr, False
        if self._escape and ch not in ("\r", "\n", CTRL_C):
            self._escape_char(ch)
            return None
        self._escape = 0
        if ch == "\r" or ch == "\n":
            if ch == "\n" and after_cr:
                return None                 # the LF of CRLF
            self._after_cr = ch == "\r"
            self._echo.append("\r\n")
            event = Event("line", "".join(self._buf), self._overflow)
            self.reset(self.secret)
            return event
        if ch == CTRL_C:
            self._echo.append("^C\r\n")
            self.reset(self.secret)
            return Event("cancel")
        if ch == CTRL_D:
            if not self._buf:
                return Event("eof")
            return None
        if ch in (BS, DEL):
            if self._buf:
                gone = self._buf.pop()
                if not self.secret:
                    w = _width(gone)
                    self._echo.append("\b" * w + " " * w + "\b" * w)
            return None
        if ch == CTRL_U:
            if not self.secret:
                w = sum(_width(c) for c in self._buf)
                self._echo.append("\b" * w + " " * w + "\b" * w)
            self._buf.clear()
            return None
        if ch == ESC:
            self._escape = 1
            return None
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") and ch != REPLACEMENT:
            return None                     # NUL (break), other C0/C1 controls, format characters
        if len(self._buf) >= self.max_len:
            if not self._overflow:
                self._echo.append(BELL)
            self._overflow = True
            return None
        self._buf.append(ch)
        if not self.secret:
            self._echo.append("?" if ch == REPLACEMENT else ch)
        return None

    def _escape_char(self, ch: str) -> None:
        self._escape += 1
        if self._escape == 2 and ch in "[O":
            return                          # CSI or SS3: parameters follow
        if self._escape == 2 or "\x40" <= ch <= "\x7e" or self._escape > MAX_ESCAPE:
            self._escape = 0                # final byte (or a two-byte sequence, or too long)
