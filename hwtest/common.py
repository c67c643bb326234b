"""What every hwtest check shares: the bilingual texts, results, waits and the board watch."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import gevent
from gevent.event import AsyncResult

from appliance.voiceboard.board import Board
from appliance.voiceboard.channel import Channel, ChannelState
from appliance.voiceboard.errors import Hangup

log = logging.getLogger(__name__)

POLL = 0.05                  # polling period of the waits on line state and counters


class Status(Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    NOT_RUN = "NOT RUN"     # a check this build cannot do (E1 without R2): not a pass
    INFO = "INFO"           # a listing, not a check (a port in no loop, a fault injected by --cut)


@dataclass(frozen=True)
class Text:
    """The same words for the technician in Chinese and in English."""

    zh: str
    en: str

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


@dataclass(frozen=True)
class Result:
    check: Text
    status: Status
    reason: Text

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS


Emit = Callable[[Result], None]


def _now() -> float:
    # Not the loop's cached time (gevent's loop.now()): it is stale until the loop next runs, and a
    # deadline taken from it can be over before the first wait.
    return time.monotonic()


def wait_until(cond: Callable[[], bool], timeout: float) -> bool:
    """Poll ``cond`` every POLL seconds (the hub runs meanwhile); True once it holds."""
    deadline = _now() + timeout
    while not cond():
        if _now() >= deadline:
            return False
        gevent.sleep(POLL)
    return True


STATE_ZH = {
    ChannelState.IDLE: "空闲", ChannelState.ALERTING: "来电振铃", ChannelState.OFFHOOK: "摘机",
    ChannelState.RINGING: "振铃", ChannelState.DIALING: "拨号", ChannelState.UP: "通话中",
    ChannelState.CLEARING: "拆线中", ChannelState.DOWN: "断开",
}


def state_text(ch: Channel) -> Text:
    return Text(STATE_ZH[ch.state], ch.state.value)


def port_label(ch: Channel) -> Text:
    return Text(f"端口 {ch.index}({ch.kind.name})", f"port {ch.index} ({ch.kind.name})")


class BoardWatch:
    """Board events the checks wait for: calls offered on a port, recordings closed."""

    def __init__(self, board: Board) -> None:
        self._offers: dict[int, AsyncResult] = {}
        self._records: dict[int, AsyncResult] = {}
        self.record_errors: dict[int, str] = {}
        board.subscribe(self._on_event)

    def expect_offer(self, port: int) -> AsyncResult:
        result: AsyncResult = AsyncResult()
        self._offers[port] = result
        return result

    def expect_record(self, tag: int) -> AsyncResult:
        result: AsyncResult = AsyncResult()
        self._records[tag] = result
        return result

    def _on_event(self, name: str, channel: Channel, **data: Any) -> None:
        if name == "call.offered":
            offer = self._offers.pop(channel.index, None)
            if offer is not None:
                offer.set(channel)
        elif name == "channel.record_error":
            self.record_errors[channel.index] = str(data.get("text", ""))
        elif name == "channel.record_done":
            done = self._records.pop(int(data["tag"]), None)
            if done is not None:
                done.set((int(data["reason"]), int(data["duration_ms"])))


class LoopChecks:
    """The bookkeeping of one loop's checks (analog or E1): each check ``key`` of ``names`` is run
    by ``step`` once, emitted as soon as it is known, and reported in ``names`` order."""

    names: dict[str, Text]
    label: str

    def __init__(self, names: dict[str, Text], label: str, emit: Emit) -> None:
        self.names = names
        self.label = label
        self.emit = emit
        self.results: dict[str, Result] = {}
        self.dropped: Text | None = None       # why the call in progress is gone

    def record(self, key: str, ok: bool, reason: Text) -> None:
        if key in self.results:
            return
        result = Result(self.names[key], Status.PASS if ok else Status.FAIL, reason)
        self.results[key] = result
        self.emit(result)

    def not_tried(self, keys: list[str], why: Text) -> None:
        for key in keys:
            self.record(key, False, Text(f"未测试：{why.zh}", f"not tried: {why.en}"))

    def unfinished(self, why: Text) -> None:
        self.not_tried([k for k in self.names if k not in self.results], why)

    def step(self, key: str, fn: Callable[[], tuple[bool, Text]]) -> bool:
        """Run one check of the call in progress; a dropped call fails it and every later one."""
        if self.dropped is not None:
            self.not_tried([key], self.dropped)
            return False
        try:
            ok, reason = fn()
        except Hangup as exc:
            self.dropped = Text(f"通话中断（{exc.cause}）", f"the call dropped ({exc.cause})")
            ok, reason = False, self.dropped
        except Exception as exc:
            log.exception("hwtest: loop %s: %s failed", self.label, key)
            ok, reason = False, Text(f"出错：{exc!r}", f"error: {exc!r}")
        self.record(key, ok, reason)
        return ok

    def run(self) -> None:
        """Every check of the loop (run it in its own greenlet; kill it to stop the loop)."""
        try:
            self._run()
        finally:
            self._release()

    def report(self, unfinished: Text) -> list[Result]:
        """The loop's results in order; a check that never ran (loop stopped) fails with ``unfinished``."""
        self.unfinished(unfinished)
        return [self.results[key] for key in self.names]

    def _run(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError
