"""Far-side behaviour for ACD tests: phones that answer (or not), callers that ring in and listen."""

from __future__ import annotations

import gevent
from gevent.event import AsyncResult

from appliance.voiceboard.channel import Channel, ChannelState, Play
from appliance.voiceboard.errors import CallError, Hangup
from appliance.voiceboard.events import CidFormat, Kind, Tone
from appliance.voiceboard.prompts import decode_heard
from appliance.voiceboard.sim import SimulatedSite, ring_in


class Phones:
    """The far board's handler: every station phone that rings is logged; some pick up.

    ``answer[port]`` = seconds before the phone at station ``port`` picks up (absent: never).
    """

    def __init__(self, site: SimulatedSite, answer: dict[int, float] | None = None,
                 exchange_answer: float | None = None) -> None:
        self.site = site
        self.answer: dict[int, float] = dict(answer or {})
        self.exchange_answer = exchange_answer   # our trunk dials out: the called party answers after
        self.dialled: list[tuple[int, str]] = []
        self.rang: list[tuple[int, float, str]] = []        # (port, loop time, caller id shown)
        self.hung_up: list[tuple[int, float]] = []
        site.far.call_handler = self.handle

    def handle(self, ch: Channel) -> None:
        if ch.kind is Kind.FXS and self.exchange_answer is not None:
            self._exchange(ch, self.exchange_answer)
            return
        if ch.kind is not Kind.FXO:
            return
        now = gevent.get_hub().loop.now()
        self.rang.append((ch.index, now, ch.caller_id))
        delay = self.answer.get(ch.index)
        while delay is None:            # not picked up (the test may decide to answer later)
            if ch.state is not ChannelState.ALERTING:
                return
            gevent.sleep(0.1)
            delay = self.answer.get(ch.index)
        gevent.sleep(delay)
        if ch.state is not ChannelState.ALERTING:
            return
        try:
            ch.answer()
            ch.wait_hangup()
        except (Hangup, CallError):
            pass
        finally:
            self.hung_up.append((ch.index, gevent.get_hub().loop.now()))

    def _exchange(self, port: Channel, answer_after: float) -> None:
        """Our trunk went off-hook to dial: dial tone, the number, ringback, answer (polarity)."""
        try:
            port.start_play([Play.cptone(Tone.DIAL)])
            number = port.collect_digits(20, timeout=5, interdigit=1.0, terminators="")
            port.stop_play()
            self.dialled.append((port.index, number))
            port.start_play([Play.cptone(Tone.RINGBACK)])
            gevent.sleep(answer_after)
            port.stop_play()
            port.answer()
            port.wait_hangup()
        except (Hangup, CallError):
            pass

    def ports_rung(self) -> list[int]:
        return [p for p, _, _ in self.rang]


def call_in(site: SimulatedSite, trunk: int, caller: str) -> AsyncResult:
    """The exchange rings our trunk ``trunk`` with caller ID in a greenlet; the result is set on answer."""
    exch = site.far.channels[trunk]
    answered: AsyncResult = AsyncResult()

    def run() -> None:
        try:
            ring_in(exch, caller, "", CidFormat.FSK, timeout=20)
            answered.set(gevent.get_hub().loop.now())
        except Exception as exc:
            answered.set_exception(exc)

    gevent.spawn(run)
    return answered


def heard(ch: Channel) -> list[str]:
    return decode_heard(ch.heard)

