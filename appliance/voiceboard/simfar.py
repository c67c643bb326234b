"""The far side of the simulated board in its own process (demo and load tests).

    python -m appliance.voiceboard.simfar --socket var/run/board.sock --spec fxo:4,fxs:8 --callers 8

connects to the appliance's board over a Unix socket and plays the exchange
(it rings our trunks with caller ID; callers listen, press a digit, talk and
hang up) and the phones on our stations (they answer and stay until the
appliance releases them).  Runs in another process so it does not share the
appliance's CPU.
"""

from __future__ import annotations

import argparse
import logging
import random
import signal
import sys

import gevent
import gevent.event

from .board import Board, opposite_spec
from .channel import Channel, Play
from .errors import CallError, Hangup
from .events import CidFormat, Kind
from .prompts import decode_heard
from .sim import far_call_handler, random_caller_id, ring_in

log = logging.getLogger("simfar")

CALL_TALK_SECONDS = (10.0, 20.0)
MENU_WAIT = 12.0


KNOWN_SHARE = 0.8      # callers whose number is a known customer's (--known), the others unknown


def simulated_caller(port: Channel, rng: random.Random, digit: str, known: list[str] | None = None) -> None:
    """One caller: ring in with caller ID, listen, press a digit, talk, hang up."""
    number = rng.choice(known) if known and rng.random() < KNOWN_SHARE else random_caller_id(rng)
    fmt = rng.choice([CidFormat.FSK, CidFormat.DTMF])
    print(f"caller {number} rings line {port.index} ({fmt.name} caller ID)", flush=True)
    try:
        ring_in(port, number, cid_format=fmt, timeout=30)
        print(f"caller {number}: answered on line {port.index}", flush=True)
        port.heard = ""
        gevent.sleep(rng.uniform(2.0, 4.0))
        port.send_dtmf(digit)
        print(f"caller {number}: pressed {digit}", flush=True)
        port.play([Play.tone(440, duration_ms=int(rng.uniform(*CALL_TALK_SECONDS) * 1000), level_dbm0=-16)],
                  barge_in=False)
        heard = decode_heard(port.heard)
        print(f"caller {number}: hangs up (heard prompts: {heard or 'speech'})", flush=True)
    except Hangup as exc:
        print(f"caller {number}: call ended by the appliance ({exc.cause})", flush=True)
    except CallError as exc:
        print(f"caller {number}: {type(exc).__name__}: {exc}", flush=True)
    finally:
        port.release("caller done")


def caller_loop(board: Board, interval: float, seed: int, known: list[str] | None = None) -> None:
    rng = random.Random(seed)
    while True:
        gevent.sleep(rng.expovariate(1.0 / interval))
        free = [c for c in board.of_kind(Kind.FXS) if not c.busy and c.line_up]
        if not free:
            continue
        board.spawn(simulated_caller, rng.choice(free), rng, rng.choice("12"), known)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Rexian simulated exchange and phones")
    ap.add_argument("--socket", required=True, help="the appliance board's link socket")
    ap.add_argument("--spec", required=True, help="the APPLIANCE's board spec, e.g. fxo:4,fxs:8")
    ap.add_argument("--callers", type=float, default=0.0, help="mean seconds between callers (0: none)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--known", default="", help="comma-separated caller numbers of known customers")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s simfar %(levelname)s %(message)s")
    board = Board("far", opposite_spec(args.spec))
    board.call_handler = far_call_handler()
    board.link_connect(args.socket)
    board.start()
    if args.callers > 0:
        known = [n for n in args.known.split(",") if n.isdigit()]
        board.spawn(caller_loop, board, args.callers, args.seed, known)
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    gevent.signal_handler(signal.SIGINT, stop.set)
    stop.wait()
    board.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
