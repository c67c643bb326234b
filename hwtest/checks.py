"""The acceptance checks, run on the board through the product's own Board/Channel API.

Order of a run: the board opens (and on the simulated board the loops are cabled), every port's line
state is read, the alarms (line-down ports) are listed, each loop is tested, one after the other
(E1 loops: hwtest/e1.py), then the board's resources are checked to be all released.

An analog loop is an FXO trunk port cabled to an FXS station port of the same board. Two calls
cross it, both rung by the FXS end: the first with FSK caller ID carries DTMF and a tone each way,
is recorded on the FXO end and hung up from the FXS end; the second with DTMF caller ID is hung
up from the FXO end.

The checks never own a channel (``Channel.claim``): a far hang-up reaches them as the ``Hangup``
raised by the channel operation they are waiting on, and only there.
"""

from __future__ import annotations

import logging
import random
from functools import partial
from pathlib import Path

import gevent

from appliance.voiceboard.board import Board
from appliance.voiceboard.channel import Channel, ChannelState, Play
from appliance.voiceboard.dahdi import DahdiError, DahdiSite, card_stats, signame
from appliance.voiceboard.errors import Hangup
from appliance.voiceboard.events import CidFormat, Kind, RecordReason

from .audio import scan_tones
from .common import (
    BoardWatch,
    Emit,
    LoopChecks,
    Result,
    Status,
    Text,
    _now,
    port_label,
    state_text,
    wait_until,
)
from .e1 import E1Loop, E1Rig, alarm_names
from .plan import DAHDI_BACKEND, Loop, LoopKind, Plan

log = logging.getLogger(__name__)

# Timeouts (seconds); module level so that tests can shorten them.
LINES_UP_WAIT = 3.0          # the looped ports' lines to come up after the board starts
CUT_SETTLE = 2.0             # sim fault injection: a cut cable to read as down
CID_WAIT = 12.0              # ringing with caller ID until the FXO end offers the call (2 ring cycles)
RING_TRIP_WAIT = 5.0         # the FXS end to see the FXO end's off-hook
DIGIT_WAIT = 5.0             # the first DTMF digit
INTERDIGIT_WAIT = 2.0        # between DTMF digits
TONE_WAIT = 3.0              # a tone to be detected on the other end
PLAY_END_WAIT = 3.0          # a tone to finish playing
RECORD_CLOSE_WAIT = 5.0      # a stopped recording to be closed and reported
HANGUP_WAIT = 6.0            # a hang-up to be seen on the other end
SETTLE_WAIT = 3.0            # between the two calls: both ends back to idle by themselves, else released
IDLE_WAIT = 10.0             # both ends of a loop back to idle at the end
STATS_WAIT = 5.0             # the board's plays/records/connections to drain
LOOP_TIMEOUT = 120.0         # one whole loop, whatever happens

BOARD_NAME = "hwtest"
DTMF_KEYS = "0123456789*#"
DTMF_LEN = 6
CID_NAME = "REXIAN HWTEST"
TONE_FXO_HZ = 1000           # the tone the FXO end sends
TONE_FXS_HZ = 1800           # the tone the FXS end sends (both clear of the DTMF and China call tones)
TONE_MS = 800
TONE_MIN_MS = 60             # detector: shortest tone reported
RECORD_MIN_TONE_MS = 400     # each tone must last this long in the recording
HANGUP_CAUSES_FXS = ("busy tone", "polarity reversal")   # how an FXS port hanging up reaches the FXO end
HANGUP_CAUSES_FXO = ("on-hook",)


# ------------------------------------------------------------------------------------------ board
def _describe_groups(board: Board) -> str:
    return ", ".join(f"{g.kind.name} {g.first}-{g.first + g.count - 1}" if g.count > 1 else
                     f"{g.kind.name} {g.first}" for g in board.groups)


def _on_card(plan: Plan) -> bool:
    return not plan.sim and plan.config.backend == DAHDI_BACKEND


def _open_card(plan: Plan) -> Board:
    """The real card: every port opened on its DAHDI channel, its signalling checked (DahdiError)."""
    cfg = plan.config
    return DahdiSite(cfg.spec, cfg.channels or None, BOARD_NAME, cfg.device).board


def _card_text(board: Board) -> Text:
    chans = [card_stats(board, ch.index) for ch in board.channels]
    sigs = sorted({signame(c["sigtype"]) for c in chans})
    first, last = chans[0]["channo"], chans[-1]["channo"]
    return Text(f"；DAHDI 通道 {first}-{last}，信令 {'/'.join(sigs)} 与端口类型相符",
                f"; DAHDI channels {first}-{last}, signalling {'/'.join(sigs)} fits every port")


def open_board(plan: Plan) -> tuple[Board | None, Result]:
    """Open the configured backend's board and check its ports (on a card: device, sigtype, law)."""
    check = Text("板卡检测", "board detected")
    backend = "sim" if plan.sim else plan.config.backend
    try:
        board = _open_card(plan) if _on_card(plan) else Board(BOARD_NAME, plan.config.spec)
    except DahdiError as exc:
        return None, Result(check, Status.FAIL, Text(
            f"端口 {exc.port}（DAHDI 通道 {exc.channo}）无法打开：{exc.reason}；请检查 dahdi_cfg 与 "
            f"/etc/dahdi/system.conf", f"port {exc.port} (DAHDI channel {exc.channo}) did not open: "
            f"{exc.reason}; check dahdi_cfg and /etc/dahdi/system.conf"))
    except Exception as exc:
        return None, Result(check, Status.FAIL, Text(f"{backend} 后端无法打开：{exc}",
                                                     f"the {backend} backend did not open: {exc}"))
    try:
        if plan.sim:
            for loop in plan.loops:     # the simulated loopback cables
                board.link_pair(board, loop.a, loop.b, 1)
        board.start()
        found = [Kind(ch.status()["kind"]) for ch in board.channels]
    except Exception as exc:
        board.stop()
        return None, Result(check, Status.FAIL, Text(f"{backend} 后端无法启动：{exc}",
                                                     f"the {backend} backend did not start: {exc}"))
    expected = list(plan.kinds)
    if found != expected:
        board.stop()
        wrong = [i for i, (f, e) in enumerate(zip(found, expected, strict=False)) if f != e]
        detail = (f"板卡有 {len(found)} 个通道，配置为 {len(expected)} 个 / the board has {len(found)} "
                  f"channels, the spec {len(expected)}") if len(found) != len(expected) else (
                  f"端口 {wrong[0]} 类型为 {found[wrong[0]].name}，配置为 {expected[wrong[0]].name} / port "
                  f"{wrong[0]} is {found[wrong[0]].name}, the spec says {expected[wrong[0]].name}")
        zh, _, en = detail.partition(" / ")
        return None, Result(check, Status.FAIL, Text(f"与配置 {plan.config.spec} 不符：{zh}",
                                                     f"does not match the spec {plan.config.spec}: {en}"))
    groups = _describe_groups(board)
    card = _card_text(board) if _on_card(plan) else Text("", "")
    return board, Result(check, Status.PASS, Text(
        f"{backend} 后端已打开：{len(found)} 个通道（{groups}），与配置相符{card.zh}",
        f"{backend} backend open: {len(found)} channels ({groups}), as the spec says{card.en}"))


def _reads_down(ch: Channel) -> bool:
    return ch.status()["line_up"] == 0 and not ch.line_up


def apply_cuts(board: Board, plan: Plan) -> list[Result]:
    """Sim fault injection (--cut): cut the cable of each port, and wait until it reads down."""
    results: list[Result] = []
    for port in plan.cuts:
        ch = board.channels[port]
        ch.cut(True)
        down = wait_until(partial(_reads_down, ch), CUT_SETTLE)
        results.append(Result(
            Text(f"故障注入：剪断端口 {port} 的线缆", f"fault injected: cable of port {port} cut"),
            Status.INFO,
            Text("--cut（仅模拟板卡）" + ("" if down else "；线路仍未断开"),
                 "--cut (simulated board only)" + ("" if down else "; the line still reads up"))))
    return results


def _looped_ports(plan: Plan) -> list[int]:
    return [p for loop in plan.loops for p in loop.ports]


def wait_lines_up(board: Board, plan: Plan) -> None:
    """Give the looped ports' lines LINES_UP_WAIT to come up (a cable just plugged in)."""
    ports = [board.channels[p] for p in _looped_ports(plan)]
    wait_until(lambda: all(ch.status()["line_up"] and ch.line_up for ch in ports), LINES_UP_WAIT)


def line_results(board: Board, plan: Plan) -> list[Result]:
    """One row per port: looped ports must be up and idle; the others are listed with their state."""
    results: list[Result] = []
    for ch in board.channels:
        label = port_label(ch)
        check = Text(f"{label.zh} 线路状态", f"{label.en} line state")
        try:
            up = bool(ch.status()["line_up"])
        except Exception as exc:
            results.append(Result(check, Status.FAIL, Text(f"无法读取：{exc}", f"cannot be read: {exc}")))
            continue
        line = Text("线路正常", "line up") if up else Text("线路断开", "line down")
        state = state_text(ch)
        loop = plan.loop_of(ch.index)
        if loop is None:
            results.append(Result(check, Status.INFO, Text(f"不在环路中：{line.zh}，{state.zh}",
                                                           f"in no loop: {line.en}, {state.en}")))
            continue
        other = loop.b if ch.index == loop.a else loop.a
        if not up:
            results.append(Result(check, Status.FAIL, Text(
                f"环路 {loop.label}：线路断开，请检查端口 {ch.index} 与端口 {other} 之间的环回线",
                f"loop {loop.label}: line down: check the loopback cable between ports {ch.index} "
                f"and {other}")))
        elif ch.state is not ChannelState.IDLE:
            results.append(Result(check, Status.FAIL, Text(
                f"环路 {loop.label}：线路正常但端口不空闲（{state.zh}），板卡是否正被其他程序使用？",
                f"loop {loop.label}: line up but the port is {state.en}: is the board in use "
                f"(rexian service running)?")))
        else:
            results.append(Result(check, Status.PASS, Text(
                f"环路 {loop.label}：线路正常，空闲", f"loop {loop.label}: line up, idle")))
    return results


def alarm_result(board: Board, plan: Plan) -> Result:
    """The line alarms as the maintenance views read them: which ports are down."""
    check = Text("告警读取", "alarms readable")
    try:
        down = [ch.index for ch in board.channels if not ch.status()["line_up"]]
        alarmed = [ch.index for ch in board.channels if card_stats(board, ch.index)["alarm"]] \
            if _on_card(plan) else []
    except Exception as exc:
        return Result(check, Status.FAIL, Text(f"无法读取告警：{exc}", f"cannot read the alarms: {exc}"))
    card = Text("", "")
    e1 = [(ch.index, alarm_names(ch.status()["alarm"])) for ch in board.channels if ch.kind is Kind.E1]
    e1 = [(port, names) for port, names in e1 if names]
    if e1:
        card = Text("；E1 告警：" + "，".join(f"端口 {p} {'/'.join(n)}" for p, n in e1),
                    "; E1 alarms: " + ", ".join(f"port {p} {'/'.join(n)}" for p, n in e1))
    if _on_card(plan):
        dahdi = Text(f"；DAHDI 告警端口 {'、'.join(map(str, alarmed))}" if alarmed else "；DAHDI 无告警",
                     f"; DAHDI alarm on ports {', '.join(map(str, alarmed))}" if alarmed
                     else "; no DAHDI alarm")
        card = Text(card.zh + dahdi.zh, card.en + dahdi.en)
    if not down:
        return Result(check, Status.PASS, Text(f"告警可读：没有线路断开的端口{card.zh}",
                                               f"alarms read: no port has its line down{card.en}"))
    looped = set(_looped_ports(plan))
    zh = "、".join(f"{p}" + ("(环路)" if p in looped else "") for p in down)
    en = ", ".join(f"{p}" + (" (looped)" if p in looped else "") for p in down)
    return Result(check, Status.PASS, Text(f"告警可读：线路断开的端口 {zh}{card.zh}",
                                           f"alarms read: line down on ports {en}{card.en}"))


def stats_result(board: Board) -> Result:
    """After the loops nothing may be left on the board: no play, record, open file or connection."""
    check = Text("板卡资源已释放", "board resources released")
    keys = ("active_plays", "active_records", "open_files", "connections", "conf_members")

    def leftovers() -> dict[str, int]:
        st = board.stats()
        return {k: st[k] for k in keys if st[k]}

    try:
        wait_until(lambda: not leftovers(), STATS_WAIT)
        left = leftovers()
        st = board.stats()
    except Exception as exc:
        return Result(check, Status.FAIL, Text(f"无法读取板卡统计：{exc}",
                                               f"cannot read the board stats: {exc}"))
    lost = st["events_lost"]
    if left or lost:
        items = ", ".join(f"{k}={v}" for k, v in left.items())
        if lost:
            items = f"{items}, events_lost={lost}" if items else f"events_lost={lost}"
        return Result(check, Status.FAIL, Text(f"{STATS_WAIT:.0f} 秒后仍有残留：{items}",
                                               f"still left after {STATS_WAIT:.0f} s: {items}"))
    return Result(check, Status.PASS, Text(
        "没有残留的放音、录音、打开的文件或连接；没有丢失事件",
        "no plays, records, open files or connections left; no events lost"))


# ------------------------------------------------------------------------------------ analog loops
def _ring_phone(fxs: Channel, number: str, name: str, fmt: CidFormat, timeout: float) -> Exception | None:
    """Ring until the far end goes off-hook: None, or why not (the ringer greenlet's value)."""
    try:
        fxs.ring(number, name, fmt, timeout=timeout)
    except Exception as exc:    # NoAnswer, Hangup (line down), an engine error: all are reasons to report
        return exc
    return None


class AnalogLoop(LoopChecks):
    """The checks of one FXO-FXS loopback cable."""

    def __init__(self, board: Board, loop: Loop, watch: BoardWatch, workdir: Path, rng: random.Random,
                 emit: Emit) -> None:
        self.board = board
        self.loop = loop
        self.watch = watch
        self.workdir = workdir
        self.rng = rng
        self.fxo = board.channels[loop.fxo]
        self.fxs = board.channels[loop.fxs]
        o, s, n = loop.fxo, loop.fxs, loop.label
        names = {
            "cid_fsk": Text(f"环路 {n} 来电显示 FSK", f"loop {n} caller ID (FSK)"),
            "answer": Text(f"环路 {n} 摘机应答（振铃截止）", f"loop {n} answer (ring trip)"),
            "dtmf_o2s": Text(f"环路 {n} DTMF {o}→{s}", f"loop {n} DTMF {o}→{s}"),
            "dtmf_s2o": Text(f"环路 {n} DTMF {s}→{o}", f"loop {n} DTMF {s}→{o}"),
            "tone_o2s": Text(f"环路 {n} 话音 {o}→{s}", f"loop {n} tone {o}→{s}"),
            "tone_s2o": Text(f"环路 {n} 话音 {s}→{o}", f"loop {n} tone {s}→{o}"),
            "record": Text(f"环路 {n} 端口 {o} 录音", f"loop {n} recording on port {o}"),
            "hangup_fxs": Text(f"环路 {n} 端口 {s} 挂机", f"loop {n} hang-up from port {s} (FXS)"),
            "cid_dtmf": Text(f"环路 {n} 来电显示 DTMF", f"loop {n} caller ID (DTMF)"),
            "hangup_fxo": Text(f"环路 {n} 端口 {o} 挂机", f"loop {n} hang-up from port {o} (FXO)"),
            "idle": Text(f"环路 {n} 结束后空闲", f"loop {n} idle afterwards"),
        }
        super().__init__(names, loop.label, emit)
        self._record_tag = 0
        self._record_error: Text | None = None

    # ------------------------------------------------------------------ the run
    def _line_down(self) -> Text | None:
        down = [ch for ch in (self.fxo, self.fxs) if not ch.status()["line_up"] or not ch.line_up]
        if not down:
            return None
        zh = "、".join(str(ch.index) for ch in down)
        en = ("port " if len(down) == 1 else "ports ") + ", ".join(str(ch.index) for ch in down)
        return Text(f"端口 {zh} 线路断开，请检查环回线", f"line down on {en}: check the loopback cable")

    def _run(self) -> None:
        down = self._line_down()
        if down is not None:
            self.not_tried(list(self.names), down)
            return
        # a port rung through a cable in the wrong port is back to idle once that ringing has stopped
        wait_until(lambda: all(ch.state is ChannelState.IDLE for ch in (self.fxo, self.fxs)), IDLE_WAIT)
        busy = [ch for ch in (self.fxo, self.fxs) if ch.state is not ChannelState.IDLE]
        if busy:
            self.not_tried(list(self.names), Text(
                "端口 " + "、".join(f"{ch.index}（{state_text(ch).zh}）" for ch in busy) + " 不空闲",
                "not idle: " + ", ".join(f"port {ch.index} ({ch.state.value})" for ch in busy)))
            return
        no_ring = self._first_call()
        self._settle()
        if no_ring is not None:
            self.not_tried(["cid_dtmf", "hangup_fxo"], no_ring)
        else:
            self._second_call()
        self._release()
        self.step("idle", self._idle)

    def _first_call(self) -> Text | None:
        """FSK caller ID, answer, DTMF and tones both ways, recording, hang-up from the FXS end.

        Returns why not if the FXO end did not ring at all (then a second call is pointless).
        """
        later = ["answer", "dtmf_o2s", "dtmf_s2o", "tone_o2s", "tone_s2o", "record", "hangup_fxs"]
        ringer, why = self._ring("cid_fsk", CidFormat.FSK)
        if ringer is None:
            self.not_tried(later, why)
            return why
        self.dropped = None
        if not self.step("answer", lambda: self._answer(ringer)):
            self.not_tried(later, Text("端口未应答", "the call was not answered"))
            self._release()
            return None
        self.step("dtmf_o2s", lambda: self._dtmf(self.fxo, self.fxs))
        self.step("dtmf_s2o", lambda: self._dtmf(self.fxs, self.fxo))
        self._start_record()
        self.step("tone_o2s", lambda: self._tone(self.fxo, self.fxs, TONE_FXO_HZ))
        self.step("tone_s2o", lambda: self._tone(self.fxs, self.fxo, TONE_FXS_HZ))
        self.step("record", self._recording)
        self.step("hangup_fxs", self._hangup_from_fxs)
        return None

    def _second_call(self) -> None:
        """DTMF caller ID, answer, hang-up from the FXO end."""
        self.dropped = None
        down = self._line_down()
        if down is not None:
            self.not_tried(["cid_dtmf", "hangup_fxo"], down)
            return
        ringer, why = self._ring("cid_dtmf", CidFormat.DTMF)
        if ringer is None:
            self.not_tried(["hangup_fxo"], why)
            return
        try:
            answered, why = self._answer(ringer)
        except Exception as exc:
            answered, why = False, Text(f"应答出错：{exc!r}", f"answer failed: {exc!r}")
        if not answered:
            self.not_tried(["hangup_fxo"], Text(f"第二次呼叫未接通：{why.zh}",
                                                f"call 2 not set up: {why.en}"))
            return
        self.step("hangup_fxo", self._hangup_from_fxo)

    # ------------------------------------------------------------------ steps
    def _ring(self, key: str, fmt: CidFormat) -> tuple[gevent.Greenlet | None, Text]:
        """Ring the FXO end from the FXS end with caller ID; the ringer greenlet if the FXO end rings."""
        o, s = self.fxo.index, self.fxs.index
        number = "1" + "".join(self.rng.choice("0123456789") for _ in range(10))
        name = CID_NAME if fmt is CidFormat.FSK else ""
        offered = self.watch.expect_offer(o)
        t0 = _now()
        ringer: gevent.Greenlet = gevent.spawn(_ring_phone, self.fxs, number, name, fmt,
                                               CID_WAIT + RING_TRIP_WAIT)
        gevent.wait([offered, ringer], timeout=CID_WAIT, count=1)
        dt = _now() - t0
        sent_zh = f"端口 {s} 发送 {number}" + (f"（{name}）" if name else "")
        sent_en = f"port {s} sent {number}" + (f" ({name})" if name else "")
        if offered.ready():
            got = (self.fxo.caller_id, self.fxo.caller_name, self.fxo.cid_format)
            if got == (number, name, fmt):
                self.record(key, True, Text(f"{sent_zh}，端口 {o} 在 {dt:.1f} 秒后正确解出",
                                            f"{sent_en}; port {o} decoded it exactly after {dt:.1f} s"))
            else:
                shown = " ".join(x for x in (got[0], got[1]) if x) or "-"
                fmt_name = got[2].name if got[2] is not None else "-"
                self.record(key, False, Text(f"{sent_zh}，端口 {o} 解出 {shown}（{fmt_name}）",
                                             f"{sent_en}; port {o} decoded {shown} ({fmt_name})"))
        elif ringer.ready():
            failure = ringer.value or ringer.exception
            why = Text(f"端口 {s} 无法振铃：{failure!r}", f"port {s} could not ring: {failure!r}")
            self.record(key, False, why)
            return None, why
        elif self.fxo.state is ChannelState.ALERTING:
            self.record(key, False, Text(f"{sent_zh}，端口 {o} 有振铃但 {CID_WAIT:.0f} 秒内未解出来电号码",
                                         f"{sent_en}; port {o} rang but decoded no caller ID within "
                                         f"{CID_WAIT:.0f} s"))
        else:
            elsewhere = [c.index for c in self.board.channels
                         if c.kind is Kind.FXO and c is not self.fxo and c.state is ChannelState.ALERTING]
            if elsewhere:
                why = Text(f"端口 {o} 在 {CID_WAIT:.0f} 秒内没有振铃，振铃的是端口 {elsewhere[0]}："
                           f"端口 {s} 的线接到了端口 {elsewhere[0]}？",
                           f"port {o} saw no ringing within {CID_WAIT:.0f} s but port {elsewhere[0]} rang: "
                           f"is port {s} cabled to port {elsewhere[0]}?")
            else:
                why = Text(f"端口 {o} 在 {CID_WAIT:.0f} 秒内没有检测到振铃：端口 {s} 是否接到端口 {o}？",
                           f"port {o} saw no ringing within {CID_WAIT:.0f} s: is port {s} cabled to "
                           f"port {o}?")
            self.record(key, False, why)
            self._stop_ringing(ringer)
            return None, why
        if self.fxo.state is not ChannelState.ALERTING:
            why = Text(f"端口 {o} 不在振铃状态（{self.fxo.state.value}）",
                       f"port {o} is not ringing ({self.fxo.state.value})")
            self._stop_ringing(ringer)
            return None, why
        return ringer, Text("", "")

    def _stop_ringing(self, ringer: gevent.Greenlet) -> None:
        ringer.kill(block=False)
        self.fxs.release("hwtest: ring stopped")

    def _answer(self, ringer: gevent.Greenlet) -> tuple[bool, Text]:
        o, s = self.fxo.index, self.fxs.index
        t0 = _now()
        self.fxo.answer()
        ringer.join(timeout=RING_TRIP_WAIT)
        dt = _now() - t0
        if ringer.ready() and ringer.value is None and self.fxs.state is ChannelState.UP:
            return True, Text(f"端口 {o} 摘机，端口 {s} 在 {dt:.2f} 秒后检测到（振铃截止）",
                              f"port {o} went off-hook; port {s} saw it (ring trip) after {dt:.2f} s")
        if not ringer.ready():
            self._stop_ringing(ringer)
            return False, Text(f"端口 {o} 摘机 {RING_TRIP_WAIT:.0f} 秒后端口 {s} 仍在振铃",
                               f"port {s} still ringing {RING_TRIP_WAIT:.0f} s after port {o} went off-hook")
        failure = ringer.value or ringer.exception or self.fxs.state.value
        return False, Text(f"端口 {s} 振铃结束但未检测到摘机：{failure!r}",
                           f"port {s} stopped ringing without seeing the off-hook: {failure!r}")

    def _dtmf(self, sender: Channel, receiver: Channel) -> tuple[bool, Text]:
        digits = "".join(self.rng.choice(DTMF_KEYS) for _ in range(DTMF_LEN))
        receiver.flush_digits()
        sender.send_dtmf(digits)
        got = receiver.collect_digits(DTMF_LEN, timeout=DIGIT_WAIT, interdigit=INTERDIGIT_WAIT,
                                      terminators="")
        a, b = sender.index, receiver.index
        if got == digits:
            return True, Text(f"端口 {a} 发送 {digits}，端口 {b} 收到 {got}",
                              f"port {a} sent {digits}, port {b} collected {got}")
        return False, Text(f"端口 {a} 发送 {digits}，端口 {b} 收到 {got or '（无）'}",
                           f"port {a} sent {digits}, port {b} collected {got or 'nothing'}")

    def _tone(self, sender: Channel, receiver: Channel, freq: int) -> tuple[bool, Text]:
        receiver.detect_tone(freq, 0, TONE_MIN_MS)
        t0 = _now()
        sender.start_play([Play.tone(freq, duration_ms=TONE_MS)])
        heard = receiver.wait_tone(freq, TONE_WAIT)
        dt = _now() - t0
        wait_until(lambda: sender.status()["playing"] == 0, PLAY_END_WAIT)
        a, b = sender.index, receiver.index
        if heard:
            return True, Text(f"端口 {b} 在 {dt:.2f} 秒后听到端口 {a} 的 {freq} Hz 音",
                              f"port {b} heard the {freq} Hz tone of port {a} after {dt:.2f} s")
        return False, Text(f"端口 {b} 在 {TONE_WAIT:.0f} 秒内没有听到端口 {a} 的 {freq} Hz 音",
                           f"port {b} did not hear the {freq} Hz tone of port {a} within {TONE_WAIT:.0f} s")

    def _record_path(self) -> Path:
        return self.workdir / f"loop-{self.loop.fxo}-{self.loop.fxs}.wav"

    def _start_record(self) -> None:
        if self.dropped is not None:
            return
        try:
            self._record_tag = self.fxo.start_record(self._record_path())
        except Exception as exc:
            self._record_error = Text(f"无法开始录音：{exc!r}", f"recording did not start: {exc!r}")

    def _recording(self) -> tuple[bool, Text]:
        if self._record_error is not None:
            return False, self._record_error
        o = self.fxo.index
        done = self.watch.expect_record(self._record_tag)
        self.fxo.stop_record()
        done.wait(RECORD_CLOSE_WAIT)
        if not done.ready():
            return False, Text(f"停止录音 {RECORD_CLOSE_WAIT:.0f} 秒后文件仍未关闭",
                               f"the recording was not closed {RECORD_CLOSE_WAIT:.0f} s after it was stopped")
        reason, duration_ms = done.get()
        if reason == RecordReason.ERROR:
            err = self.watch.record_errors.get(o, "")
            return False, Text(f"录音出错：{err}", f"recording failed: {err}")
        scan = scan_tones(self._record_path(), [TONE_FXO_HZ, TONE_FXS_HZ])
        secs = scan.duration_ms / 1000
        parts = ", ".join(f"{f} Hz {ms} ms" for f, ms in scan.longest_ms.items())
        missing = [f for f, ms in scan.longest_ms.items() if ms < RECORD_MIN_TONE_MS]
        if not missing:
            return True, Text(f"录音 {secs:.1f} 秒，含两个方向的音：{parts}",
                              f"recording of {secs:.1f} s holds both directions: {parts}")
        lacks = ", ".join(f"{f} Hz" for f in missing)
        return False, Text(f"录音 {secs:.1f} 秒（引擎报告 {duration_ms} ms）缺少 {lacks}"
                           f"（需 ≥ {RECORD_MIN_TONE_MS} ms）：{parts}",
                           f"recording of {secs:.1f} s (engine: {duration_ms} ms) lacks {lacks} "
                           f"(needs >= {RECORD_MIN_TONE_MS} ms): {parts}")

    def _hangup_from_fxs(self) -> tuple[bool, Text]:
        return self._hangup(self.fxs, self.fxo, HANGUP_CAUSES_FXS)

    def _hangup_from_fxo(self) -> tuple[bool, Text]:
        return self._hangup(self.fxo, self.fxs, HANGUP_CAUSES_FXO)

    def _hangup(self, leaving: Channel, staying: Channel, causes: tuple[str, ...]) -> tuple[bool, Text]:
        a, b = leaving.index, staying.index
        t0 = _now()
        leaving.release("hwtest: hangs up")
        try:
            staying.wait_hangup(HANGUP_WAIT)
        except Hangup as exc:
            dt = _now() - t0
            if exc.cause in causes:
                return True, Text(f"端口 {b} 在 {dt:.1f} 秒后检测到端口 {a} 挂机（{exc.cause}）",
                                  f"port {b} saw port {a} hang up ({exc.cause}) after {dt:.1f} s")
            return False, Text(f"端口 {b} 检测到通话结束，但原因是 {exc.cause}",
                               f"port {b} saw the call end, but by {exc.cause}")
        finally:
            staying.release("hwtest: call over")
        return False, Text(f"端口 {b} 在 {HANGUP_WAIT:.0f} 秒内没有检测到端口 {a} 挂机",
                           f"port {b} did not see port {a} hang up within {HANGUP_WAIT:.0f} s")

    def _leftovers(self) -> list[str]:
        left: list[str] = []
        for ch in (self.fxo, self.fxs):
            st = ch.status()
            what = [name for name, bad in (
                (ch.state.value, ch.state is not ChannelState.IDLE),
                ("off-hook", bool(st["hook"])), ("ringing", bool(st["ringing"])),
                ("playing", bool(st["playing"])), ("recording", bool(st["recording"])),
                ("connected", st["connected_to"] >= 0), ("listening", st["listening_to"] >= 0),
                ("in a conference", st["conf"] >= 0)) if bad]
            if what:
                left.append(f"{ch.index}: {', '.join(what)}")
        return left

    def _settle(self) -> None:
        """Between the calls: both ends back to idle (released if not)."""
        if self._line_down() is not None:
            self._release()
            return
        if not wait_until(lambda: not self._leftovers(), SETTLE_WAIT):
            self._release()
            wait_until(lambda: not self._leftovers(), SETTLE_WAIT)

    def _idle(self) -> tuple[bool, Text]:
        wait_until(lambda: not self._leftovers(), IDLE_WAIT)
        left = self._leftovers()
        o, s = self.fxo.index, self.fxs.index
        if not left:
            return True, Text(f"端口 {o} 和 {s} 空闲：挂机、无振铃、无放音录音、无连接",
                              f"ports {o} and {s} idle: on-hook, not ringing, nothing playing or recording, "
                              f"not connected")
        return False, Text(f"{IDLE_WAIT:.0f} 秒后仍有残留：端口 " + "；端口 ".join(left),
                           f"still left after {IDLE_WAIT:.0f} s: port " + "; port ".join(left))

    def _release(self) -> None:
        """Put both ends back whatever happened: a port cut mid-call is down but may still record."""
        for ch in (self.fxo, self.fxs):
            st = ch.status()
            if (ch.state is not ChannelState.IDLE or st["playing"] or st["recording"] or st["hook"]
                    or st["ringing"] or st["connected_to"] >= 0):
                try:
                    ch.release("hwtest: cleanup")
                except Exception:
                    log.exception("hwtest: releasing %s", ch.prefix)


# ------------------------------------------------------------------------------------- the run
def run_checks(plan: Plan, workdir: Path, emit: Emit, rng: random.Random | None = None) -> list[Result]:
    """Every check of the plan, in report order; ``emit`` sees each result as soon as it is known."""
    results: list[Result] = []

    def add(items: list[Result]) -> None:
        for r in items:
            results.append(r)
            emit(r)

    board, opened = open_board(plan)
    add([opened])
    if board is None:
        return results
    rng = rng or random.Random()
    running: list[gevent.Greenlet] = []
    e1rig: E1Rig | None = None
    try:
        board.call_handler = None     # calls offered on the FXO ends are the checks' to answer
        watch = BoardWatch(board)
        add(apply_cuts(board, plan))
        wait_lines_up(board, plan)
        add(line_results(board, plan))
        add([alarm_result(board, plan)])
        for loop in plan.loops:
            # One loop at a time: a ring, a tone or a hang-up that arrives on a port of the loop under
            # test can only have crossed that loop's cable, so a cable in the wrong port shows.
            check: AnalogLoop | E1Loop
            if loop.kind is LoopKind.E1:
                if e1rig is None:
                    e1rig = E1Rig(board, [lp for lp in plan.loops if lp.kind is LoopKind.E1])
                check = E1Loop(e1rig, loop, watch, emit)
            else:
                check = AnalogLoop(board, loop, watch, workdir, random.Random(rng.random()), emit)
            g = gevent.spawn(check.run)
            running.append(g)
            g.join(timeout=LOOP_TIMEOUT)
            g.kill(block=True, timeout=LOOP_TIMEOUT)
            if g.exception is not None and not isinstance(g.exception, gevent.GreenletExit):
                log.error("hwtest: loop %s checks crashed: %r", loop.label, g.exception)
                why = Text(f"环路检查出错：{g.exception!r}", f"the loop checks crashed: {g.exception!r}")
            else:
                why = Text(f"环路检查未在 {LOOP_TIMEOUT:.0f} 秒内完成",
                           f"the loop checks did not finish within {LOOP_TIMEOUT:.0f} s")
            results.extend(check.report(why))   # the loop emitted its results as they came
        add([stats_result(board)])
    finally:
        gevent.killall(running, block=True, timeout=LOOP_TIMEOUT)
        if e1rig is not None:
            e1rig.stop()
        board.stop()
    return results
