"""The simulated board's far side: the exchange and the phones on virtual cables.

``SimulatedSite`` builds our board and a far board in the opposite role and
cables every port to its counterpart (in process, for tests).  The far board
runs the same engine: its FXS ports are the central office's line cards
(ring with caller ID, dial tone, answer and disconnect supervision) and its
FXO ports are the phones on our stations (they ring, go off-hook, dial,
flash, hang up).  ``python -m appliance.voiceboard.simfar`` runs the far side
in another process over a Unix socket.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable

import gevent

from .board import Board, opposite_spec
from .channel import Channel, ChannelState, Play
from .errors import CallError, Hangup
from .events import CidFormat, Kind, Tone

log = logging.getLogger(__name__)

PHONE_ANSWER_DELAY = 1.0      # seconds a simulated phone rings before it is picked up
EXCHANGE_DIGIT_TIMEOUT = 4.0  # the exchange's wait for dialled digits
LINES_UP_WAIT = 3.0           # seconds for the in-process cables to come up


class SimulatedSite:
    """Our board plus its far side, every port cabled to its counterpart, in one process."""

    def __init__(self, spec: str, name: str = "rexian") -> None:
        self.board = Board(name, spec)
        self.far = Board(f"{name}-far", opposite_spec(spec))
        self.board.link_pair(self.far)

    def start(self, timeout: float = LINES_UP_WAIT) -> None:
        """Start both boards and wait until every cable is up."""
        self.board.start()
        self.far.start()
        with gevent.Timeout(timeout, RuntimeError("the simulated cables did not come up")):
            while not all(c.line_up for c in self.board.channels + self.far.channels):
                gevent.sleep(0.02)

    def stop(self) -> None:
        self.board.stop()
        self.far.stop()

    def __enter__(self) -> SimulatedSite:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def far_of(self, channel: Channel) -> Channel:
        """The far-side channel at the other end of ``channel``'s cable."""
        return self.far.channels[channel.index]


def ring_in(exchange_port: Channel, caller_id: str, name: str = "",
            cid_format: CidFormat = CidFormat.FSK, timeout: float = 30.0) -> None:
    """The exchange rings our line with caller ID until we answer (raises NoAnswer)."""
    exchange_port.ring(caller_id, name, cid_format, timeout=timeout)


def exchange_hangup(exchange_port: Channel, method: str = "busy") -> None:
    """The caller hangs up: the exchange signals it by busy tone or by polarity reversal."""
    if method == "polarity":
        exchange_port.set_polarity(not exchange_port.status()["polarity"])
        exchange_port.owner = None
        return
    exchange_port.release("caller hung up")   # an FXS port that is up plays busy tone


def exchange_line(port: Channel, answer_after: float = 2.0,
                  busy_numbers: frozenset[str] = frozenset()) -> None:
    """Call handler for an exchange port whose FXO end went off-hook: dial tone, digits, answer."""
    port.start_play([Play.cptone(Tone.DIAL)])
    number = port.collect_digits(20, timeout=EXCHANGE_DIGIT_TIMEOUT, interdigit=2.0, terminators="")
    port.stop_play()
    log.info("%s exchange: dialled %r", port.prefix, number)
    if not number:
        port.play([Play.cptone(Tone.BUSY, 5000)], barge_in=False)
        return
    if number in busy_numbers:
        port.start_play([Play.cptone(Tone.BUSY)])
        port.wait_hangup(60)
        return
    port.start_play([Play.cptone(Tone.RINGBACK)])
    gevent.sleep(answer_after)
    port.stop_play()
    port.answer()                                   # polarity reversal = answer supervision
    port.wait_hangup()


def phone_autoanswer(phone: Channel, delay: float = PHONE_ANSWER_DELAY,
                     then: Callable[[Channel], None] | None = None) -> None:
    """Call handler for a simulated phone: pick up after ``delay``, then run ``then`` or stay on."""
    gevent.sleep(delay)
    if phone.state is not ChannelState.ALERTING:
        return
    phone.answer()
    if then is not None:
        then(phone)
    else:
        phone.wait_hangup()


def random_caller_id(rng: random.Random) -> str:
    return "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))


def far_call_handler(phone_delay: float = PHONE_ANSWER_DELAY) -> Callable[[Channel], None]:
    """The far board's handler: phones answer their ringing, exchange ports serve dialling trunks."""

    def handle(ch: Channel) -> None:
        try:
            if ch.kind is Kind.FXO:
                phone_autoanswer(ch, phone_delay)
            elif ch.kind is Kind.FXS:
                exchange_line(ch)
        except (Hangup, CallError):
            pass

    return handle
