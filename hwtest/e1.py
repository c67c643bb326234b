"""The checks of an E1 loop: two E1 timeslots joined by a crossover cable (span to span).

One end (``a``) is the product's own R2 side (openr2 1.3.3, China variant, under an
:class:`R2Span`); the other (``b``) plays the telephone exchange with the scripted China No.1
signalling of ``r2x.c``. On a card both run on DAHDI CAS channels, so a pass means the span is in
sync, CAS bits and R2 MF tones cross the cable both ways, and the audio path works: what the
product needs from the card for real calls.

Order: the timeslot is in sync without alarm; the exchange calls us (ANI, DNIS and category
delivered, answer); DTMF and a tone each way; the exchange clears forward; we call the exchange
(DNIS and ANI sent, answer); the exchange clears back; both ends idle.
"""

from __future__ import annotations

import logging

from appliance.voiceboard.board import Board
from appliance.voiceboard.channel import Channel, ChannelState, Play
from appliance.voiceboard.errors import CallError, Hangup
from appliance.voiceboard.r2 import (
    ExchangeAnswer,
    ExchangeState,
    R2Channel,
    R2Span,
    ScriptedExchange,
    alarm_names,
)

from .common import BoardWatch, Emit, LoopChecks, Text, wait_until
from .plan import Loop

log = logging.getLogger(__name__)

# Timeouts (seconds); module level so that tests can shorten them.
SYNC_WAIT = 5.0              # the timeslot to come up without alarm (frames, then no RAI)
SETUP_WAIT = 15.0            # seizure to call offered / answered (China R2 MF takes ~4 s)
TONE_WAIT = 3.0
DIGIT_WAIT = 5.0
INTERDIGIT_WAIT = 2.0
CLEAR_WAIT = 6.0
IDLE_WAIT = 10.0

ANI = "13800138000"          # the test caller the exchange presents
DNIS = "95566001"            # the number it dials (and the one we dial back)
OUR_ANI = "075512345678"     # what we send when the exchange asks for our number
CATEGORY = 1                 # national subscriber (KD/II-1)
CATEGORY_NAME = "National Subscriber"
DTMF = "159#*0"
TONE_A_HZ = 1000
TONE_B_HZ = 1800
TONE_MS = 800


def names(loop: Loop) -> dict[str, Text]:
    a, b, n = loop.a, loop.b, loop.label
    return {
        "sync": Text(f"E1 环路 {n} 同步（无告警）", f"E1 loop {n} in sync (no alarm)"),
        "inbound": Text(f"E1 环路 {n} 呼入 {b}→{a}（主叫、被叫、类别）",
                        f"E1 loop {n} call in {b}→{a} (ANI, DNIS, category)"),
        "answer": Text(f"E1 环路 {n} 应答", f"E1 loop {n} answer"),
        "dtmf_a2b": Text(f"E1 环路 {n} DTMF {a}→{b}", f"E1 loop {n} DTMF {a}→{b}"),
        "dtmf_b2a": Text(f"E1 环路 {n} DTMF {b}→{a}", f"E1 loop {n} DTMF {b}→{a}"),
        "tone_a2b": Text(f"E1 环路 {n} 话音 {a}→{b}", f"E1 loop {n} tone {a}→{b}"),
        "tone_b2a": Text(f"E1 环路 {n} 话音 {b}→{a}", f"E1 loop {n} tone {b}→{a}"),
        "clear_forward": Text(f"E1 环路 {n} 前向拆线", f"E1 loop {n} clear forward"),
        "outbound": Text(f"E1 环路 {n} 呼出 {a}→{b}（被叫、主叫）",
                         f"E1 loop {n} call out {a}→{b} (DNIS, ANI)"),
        "clear_back": Text(f"E1 环路 {n} 后向拆线", f"E1 loop {n} clear back"),
        "idle": Text(f"E1 环路 {n} 结束后空闲", f"E1 loop {n} idle afterwards"),
    }


class E1Rig:
    """The R2 span over the ``a`` ends of every E1 loop and a scripted exchange on each ``b`` end."""

    def __init__(self, board: Board, loops: list[Loop]) -> None:
        self.board = board
        self.span = R2Span(board, [lp.a for lp in loops], dnis_len=len(DNIS), name="hwtest-e1")
        self.span.start()
        self.exchanges = {lp.b: ScriptedExchange(board, lp.b) for lp in loops}
        for x in self.exchanges.values():
            x.configure(dnis_len=len(DNIS), ani_after=len(DNIS), answer=ExchangeAnswer.ANSWER, answer_ms=300)

    def stop(self) -> None:
        for x in self.exchanges.values():
            x.close()
        self.span.stop()


class E1Loop(LoopChecks):
    """The checks of one E1 loop; ``emit`` sees each result as soon as it is known."""

    def __init__(self, rig: E1Rig, loop: Loop, watch: BoardWatch, emit: Emit) -> None:
        self.rig = rig
        self.loop = loop
        self.watch = watch
        super().__init__(names(loop), loop.label, emit)
        ch = rig.board.channels[loop.a]
        assert isinstance(ch, R2Channel)
        self.ours: R2Channel = ch
        self.far: Channel = rig.board.channels[loop.b]
        self.x = rig.exchanges[loop.b]

    # ------------------------------------------------------------------ the run
    def _run(self) -> None:
        if not self.step("sync", self._sync):
            self.unfinished(Text("时隙未同步", "the timeslot is not in sync"))
            return
        if self.step("inbound", self._inbound) and self.step("answer", self._answer):
            self.step("dtmf_a2b", lambda: self._dtmf(self.ours, self.far))
            self.step("dtmf_b2a", lambda: self._dtmf(self.far, self.ours))
            self.step("tone_a2b", lambda: self._tone(self.ours, self.far, TONE_A_HZ))
            self.step("tone_b2a", lambda: self._tone(self.far, self.ours, TONE_B_HZ))
            self.step("clear_forward", self._clear_forward)
        self.dropped = None
        self._release()
        if self.step("outbound", self._outbound):
            self.step("clear_back", self._clear_back)
        self.dropped = None
        self._release()
        self.step("idle", self._idle)
        self.unfinished(Text("前一步失败", "an earlier step failed"))

    def _sync(self) -> tuple[bool, Text]:
        ends = (self.ours, self.far)
        wait_until(lambda: all(c.status()["line_up"] and not c.status()["alarm"] for c in ends), SYNC_WAIT)
        bad = [(c.index, c.status()) for c in ends if not c.status()["line_up"] or c.status()["alarm"]]
        if not bad:
            return True, Text("两端线路正常，无红、蓝、黄告警", "both ends up, no red, blue or yellow alarm")
        parts = [f"{i}: {'/'.join(alarm_names(st['alarm'])) or 'line down'}" for i, st in bad]
        return False, Text("告警：" + "；".join(parts) + "，请检查 E1 交叉线与时钟",
                           "alarm: " + "; ".join(parts) + ": check the E1 crossover cable and the clock")

    def _inbound(self) -> tuple[bool, Text]:
        offered = self.watch.expect_offer(self.loop.a)
        self.x.call(ANI, DNIS, CATEGORY)
        if not wait_until(offered.ready, SETUP_WAIT):
            return False, Text(f"{SETUP_WAIT:.0f} 秒内未收到呼叫（交换机状态 {self.x.state.name}）",
                               f"no call offered within {SETUP_WAIT:.0f} s (exchange {self.x.state.name})")
        got = (self.ours.caller_id, self.ours.dnis, self.ours.category_name)
        if got != (ANI, DNIS, CATEGORY_NAME):
            return False, Text(
                f"收到 主叫 {got[0]} 被叫 {got[1]} 类别 {got[2]}，应为 {ANI} {DNIS} {CATEGORY_NAME}",
                f"got ANI {got[0]} DNIS {got[1]} category {got[2]}, sent {ANI} {DNIS} {CATEGORY_NAME}")
        cat, took = self.ours.category_name, self.ours.setup_s
        return True, Text(f"主叫 {ANI}、被叫 {DNIS}、类别 {cat}，用时 {took:.1f} 秒",
                          f"ANI {ANI}, DNIS {DNIS}, {cat}, in {took:.1f} s")

    def _answer(self) -> tuple[bool, Text]:
        self.ours.answer()
        state = self.x.wait_state(ExchangeState.ANSWERED, ExchangeState.FAILED, ExchangeState.IDLE,
                                  timeout=SETUP_WAIT)
        if state is ExchangeState.ANSWERED:
            return True, Text("交换机收到应答信号", "the exchange saw our answer")
        return False, Text(f"交换机状态 {state.name if state else '无'}", f"the exchange is {state}")

    def _dtmf(self, sender: Channel, receiver: Channel) -> tuple[bool, Text]:
        receiver.flush_digits()
        sender.send_dtmf(DTMF)
        got = receiver.collect_digits(len(DTMF), timeout=DIGIT_WAIT, interdigit=INTERDIGIT_WAIT,
                                      terminators="")
        a, b = sender.index, receiver.index
        ok = got == DTMF
        return ok, Text(f"端口 {a} 发送 {DTMF}，端口 {b} 收到 {got or '（无）'}",
                        f"port {a} sent {DTMF}, port {b} collected {got or 'nothing'}")

    def _tone(self, sender: Channel, receiver: Channel, freq: int) -> tuple[bool, Text]:
        receiver.detect_tone(freq, 0, 60)
        sender.start_play([Play.tone(freq, duration_ms=TONE_MS)])
        heard = receiver.wait_tone(freq, TONE_WAIT)
        wait_until(lambda: sender.status()["playing"] == 0, TONE_WAIT)
        a, b = sender.index, receiver.index
        if heard:
            return True, Text(f"端口 {b} 听到端口 {a} 的 {freq} Hz 音",
                              f"port {b} heard the {freq} Hz tone of port {a}")
        return False, Text(f"端口 {b} 没有听到端口 {a} 的 {freq} Hz 音",
                           f"port {b} did not hear the {freq} Hz tone of port {a}")

    def _clear_forward(self) -> tuple[bool, Text]:
        self.x.clear()
        gone = wait_until(lambda: not self.ours.in_call and self.ours.state is ChannelState.IDLE, CLEAR_WAIT)
        idle = self.x.wait_state(ExchangeState.IDLE, timeout=CLEAR_WAIT) is ExchangeState.IDLE
        if gone and idle:
            return True, Text("交换机拆线，本端释放并回到空闲",
                              "the exchange cleared; our end released, idle")
        ours, far = self.ours.state.value, self.x.state.name
        return False, Text(f"拆线后本端 {ours}，交换机 {far}",
                           f"after the clear our end is {ours}, the exchange {far}")

    def _outbound(self) -> tuple[bool, Text]:
        try:
            ch = self.rig.span.dial(DNIS, ani=OUR_ANI, category=CATEGORY, channel=self.ours)
        except CallError as exc:
            return False, Text(f"呼出失败：{exc}", f"the call failed: {exc}")
        ch.owner = None     # the checks never own a channel: a clear-back reaches them as Hangup
        got = self.x.received()
        if got != (OUR_ANI, DNIS, CATEGORY) or ch is not self.ours:
            return False, Text(f"交换机收到 {got}", f"the exchange received {got}")
        return True, Text(f"交换机收到被叫 {DNIS}、主叫 {OUR_ANI} 并应答", f"the exchange got DNIS {DNIS}, "
                          f"ANI {OUR_ANI}, and answered")

    def _clear_back(self) -> tuple[bool, Text]:
        self.x.clear()
        try:
            self.ours.wait_hangup(CLEAR_WAIT)
        except Hangup:
            self.ours.release("hwtest: cleared back")
            idle = self.x.wait_state(ExchangeState.IDLE, timeout=CLEAR_WAIT) is ExchangeState.IDLE
            if idle and wait_until(lambda: self.ours.state is ChannelState.IDLE, CLEAR_WAIT):
                return True, Text("被叫挂机，本端收到后向拆线并释放",
                                  "the called end hung up; we saw the clear-back and released")
        return False, Text(f"{CLEAR_WAIT:.0f} 秒内未收到后向拆线", f"no clear-back within {CLEAR_WAIT:.0f} s")

    def _idle(self) -> tuple[bool, Text]:
        ok = wait_until(lambda: self.ours.available and self.x.state is ExchangeState.IDLE, IDLE_WAIT)
        if ok:
            return True, Text(f"端口 {self.loop.a} 和 {self.loop.b} 空闲",
                              f"ports {self.loop.a} and {self.loop.b} idle")
        return False, Text(f"{IDLE_WAIT:.0f} 秒后本端 {self.ours.state.value}，交换机 {self.x.state.name}",
                           f"after {IDLE_WAIT:.0f} s our end is {self.ours.state.value}, the exchange "
                           f"{self.x.state.name}")

    def _release(self) -> None:
        if self.ours.in_call or self.ours.state is not ChannelState.IDLE:
            try:
                self.ours.release("hwtest: cleanup")
            except Exception:
                log.exception("hwtest: releasing %s", self.ours.prefix)
        if self.x.state is not ExchangeState.IDLE:
            self.x.clear()
        wait_until(lambda: not self.ours.in_call and self.x.state is ExchangeState.IDLE, CLEAR_WAIT)
