"""Minimal attendant: the call flow the appliance runs until the IVR and ACD land.

An incoming trunk call is answered, hears the greeting and menu, presses a
digit, is told it is being transferred, and is bridged to the first free
station whose phone answers.  The call is recorded (both directions) under
the data dir.  Either side hanging up releases both.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import gevent

from appliance.voiceboard.board import Board
from appliance.voiceboard.channel import Channel, Play
from appliance.voiceboard.errors import CallError, ChannelBusy, Hangup, NoAnswer
from appliance.voiceboard.events import CidFormat, Kind, Tone
from appliance.voiceboard.prompts import PromptSet

log = logging.getLogger(__name__)

MENU_DIGIT_TIMEOUT = 6.0
STATION_RING_TIMEOUT = 20.0


class Attendant:
    """Answers trunk calls and connects them to stations."""

    def __init__(self, board: Board, prompts: PromptSet, recordings: Path,
                 report: Callable[[str], None] = print) -> None:
        self.board = board
        self.prompts = prompts
        self.recordings = recordings
        self.report = report
        self.calls = 0

    def prompt(self, *names: str) -> list[Play | str]:
        items: list[Play | str] = []
        for name in names:
            path = self.prompts.path(name)
            if path is not None:
                items.append(str(path))
        return items

    def handle(self, ch: Channel) -> None:
        if ch.kind is Kind.FXS:
            self._station_offhook(ch)
        elif ch.kind in (Kind.FXO, Kind.E1):     # E1: an R2 call offered by its span
            self._trunk_call(ch)

    def _station_offhook(self, station: Channel) -> None:
        station.claim()
        station.play([Play.cptone(Tone.DIAL, 10000)], barge_in=True)
        station.wait_hangup(30)

    def _trunk_call(self, trunk: Channel) -> None:
        self.calls += 1
        call_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{trunk.index}-{self.calls}"
        pre = f"[call {call_id}]"
        self.report(f"{pre} incoming on line {trunk.index}, caller id {trunk.caller_id or 'unknown'}")
        station: Channel | None = None
        try:
            trunk.answer()
            trunk.play(self.prompt("welcome", "menu"), barge_in=True)
            digit = trunk.collect_digits(1, timeout=MENU_DIGIT_TIMEOUT)   # a barge-in digit counts
            self.report(f"{pre} caller pressed {digit or 'nothing'}")
            trunk.play(self.prompt("transfer"), barge_in=False)
            station = self._ring_station(trunk, pre)
            if station is None:
                trunk.play(self.prompt("all_busy", "goodbye"), barge_in=False)
                return
            day = self.recordings / time.strftime("%Y-%m-%d")
            day.mkdir(parents=True, exist_ok=True)
            trunk.bridge(station)
            trunk.start_record(day / f"{call_id}.wav")
            self.report(f"{pre} bridged to station {station.index}, recording")
            trunk.wait_hangup()
        except Hangup as exc:
            self.report(f"{pre} ended: {exc.cause}")
            raise
        except CallError as exc:
            self.report(f"{pre} failed: {exc}")
        finally:
            if station is not None:
                station.release("call ended")
            trunk.release("call ended")

    def _ring_station(self, trunk: Channel, pre: str) -> Channel | None:
        trunk.start_play([Play.cptone(Tone.RINGBACK)])
        try:
            for station in list(self.board.idle(Kind.FXS)):
                station.claim()
                answered = False
                try:
                    station.ring(trunk.caller_id, cid_format=trunk.cid_format or CidFormat.FSK,
                                 timeout=STATION_RING_TIMEOUT)
                    answered = True
                    return station
                except (NoAnswer, ChannelBusy) as exc:
                    self.report(f"{pre} station {station.index}: {exc}")
                    gevent.sleep(0)
                finally:
                    if not answered:
                        station.release("not answered")
            return None
        finally:
            trunk.stop_play()
