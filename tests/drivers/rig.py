"""A small harness for the engine tests: real boards, real cables, plain polling (no gevent)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from appliance.drivers._binding import Event, PlayItem, check, ffi, lib, play_items, read_events
from appliance.voiceboard import wavscan
from appliance.voiceboard.wavscan import longest_run as longest_run  # re-exported for the driver tests
from appliance.voiceboard.wavscan import read_wav as read_wav

FXO = lib.VB_KIND_FXO
FXS = lib.VB_KIND_FXS
E1 = lib.VB_KIND_E1


class Board:
    """One engine board; events are collected into ``events`` by :meth:`poll`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.h = lib.vb_board_init(name.encode())
        assert self.h != ffi.NULL
        self.events: list[Event] = []
        self._buf = ffi.new("vb_event_t[]", 512)
        self.freed = False

    def add(self, kind: int, count: int) -> int:
        return check(lib.vb_board_add_channels(self.h, kind, count))

    def start(self) -> None:
        check(lib.vb_board_start(self.h))

    def poll(self) -> None:
        if not self.freed:
            self.events.extend(read_events(self.h, self._buf))

    def free(self) -> None:
        if not self.freed:
            self.freed = True
            lib.vb_board_free(self.h)

    def stats(self) -> Any:
        st = ffi.new("vb_board_stats_t *")
        check(lib.vb_board_stats(self.h, st))
        return st

    def status(self, chan: int) -> Any:
        st = ffi.new("vb_chan_status_t *")
        check(lib.vb_chan_status(self.h, chan, st))
        return st

    def play(self, chan: int, items: list[PlayItem], tag: int = 1, flags: int = 0) -> None:
        arr, keep = play_items(items)
        check(lib.vb_play(self.h, chan, tag, arr, len(items), flags))
        del keep

    def find(self, etype: int, chan: int | None = None, **kw: object) -> list[Event]:
        out = []
        for e in self.events:
            if e.type != etype or (chan is not None and e.chan != chan):
                continue
            if all(getattr(e, k) == v for k, v in kw.items()):
                out.append(e)
        return out


class Rig:
    """Boards under test; frees them all at the end."""

    def __init__(self) -> None:
        self.boards: list[Board] = []

    def board(self, name: str, *chans: tuple[int, int]) -> Board:
        b = Board(name)
        for kind, n in chans:
            b.add(kind, n)
        self.boards.append(b)
        return b

    def start(self) -> None:
        for b in self.boards:
            b.start()

    def poll(self) -> None:
        for b in self.boards:
            b.poll()

    def run(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.poll()
            time.sleep(0.01)
        self.poll()

    def wait(
        self,
        board: Board,
        etype: int,
        chan: int | None = None,
        timeout: float = 3.0,
        pred: Callable[[Event], bool] | None = None,
        **kw: object,
    ) -> Event:
        """The first event of ``board`` matching, waiting for it if needed (events stay in the list)."""
        end = time.monotonic() + timeout
        while True:
            self.poll()
            for e in board.find(etype, chan, **kw):
                if pred is None or pred(e):
                    return e
            if time.monotonic() > end:
                raise AssertionError(
                    f"{board.name}: no event type {etype} chan {chan} {kw} within "
                    f"{timeout}s; got {board.events}"
                )
            time.sleep(0.01)

    def wait_until(self, cond: Callable[[], bool], timeout: float = 3.0, what: str = "") -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise AssertionError(f"timed out waiting for {what or cond}")
            self.poll()
            time.sleep(0.01)
        self.poll()

    def close(self) -> None:
        for b in self.boards:
            b.free()


def tone_on(board: Board, chan: int, freq: int) -> list[Event]:
    return board.find(lib.VB_EV_TONE, chan, arg=freq, arg2=1)


def digits(board: Board, chan: int) -> str:
    return "".join(chr(e.arg) for e in board.find(lib.VB_EV_DTMF, chan))


def tone_blocks(samples: list[int], freq: float, min_ratio: float = 0.5) -> list[bool]:
    """Per 20 ms block: does ``freq`` carry at least ``min_ratio`` of the block's energy (Goertzel)?"""
    return wavscan.tone_blocks(samples, freq, min_ratio, min_energy=1e4)
