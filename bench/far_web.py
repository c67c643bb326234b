"""Far side of the web benchmark, in its own process: the phones on our stations answer, and on
SIGUSR1 the exchange rings our trunks with the given callers (caller ID), each caller holding a few
seconds after the appliance answers, then hanging up. Prints ``DONE`` when every call is over."""

from __future__ import annotations

import argparse
import random
import signal

import gevent
import gevent.event
import gevent.queue

from appliance.voiceboard.board import Board, opposite_spec
from appliance.voiceboard.channel import Channel
from appliance.voiceboard.errors import CallError, Hangup
from appliance.voiceboard.events import CidFormat, Kind
from appliance.voiceboard.sim import far_call_handler, ring_in


def caller(port: Channel, numbers: gevent.queue.Queue[str], rng: random.Random, talk: tuple[float, float],
           stats: dict[str, int]) -> None:
    gevent.sleep(rng.uniform(0.0, 3.0))             # callers do not all ring at once
    while True:
        try:
            number = numbers.get_nowait()
        except gevent.queue.Empty:
            return
        try:
            with gevent.Timeout(20, False):
                while port.busy:                    # the last call is still clearing
                    gevent.sleep(0.1)
            ring_in(port, number, "", CidFormat.DTMF, timeout=30)
            stats["answered"] += 1
            gevent.sleep(rng.uniform(*talk))
        except (Hangup, CallError) as exc:
            stats["failed"] += 1
            print(f"call {number} on line {port.index}: {type(exc).__name__}: {exc}", flush=True)
        finally:
            port.release("caller done")
        gevent.sleep(rng.uniform(1.0, 2.5))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--spec", required=True, help="the appliance's board spec")
    ap.add_argument("--numbers", required=True, help="comma-separated caller numbers, one call each")
    ap.add_argument("--talk", default="3,6", help="seconds a caller stays after the answer: min,max")
    ap.add_argument("--seed", type=int, default=6)
    args = ap.parse_args()
    board = Board("bench-web-far", opposite_spec(args.spec))
    board.call_handler = far_call_handler(phone_delay=0.3)
    board.link_connect(args.socket)
    board.start()
    go = gevent.event.Event()
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGUSR1, go.set)
    gevent.signal_handler(signal.SIGTERM, stop.set)
    print("UP", flush=True)
    go.wait()
    numbers: gevent.queue.Queue[str] = gevent.queue.Queue()
    for n in args.numbers.split(","):
        numbers.put(n)
    lo, hi = (float(x) for x in args.talk.split(","))
    rng = random.Random(args.seed)
    stats = {"answered": 0, "failed": 0}
    lines = [gevent.spawn(caller, port, numbers, random.Random(rng.random()), (lo, hi), stats)
             for port in board.of_kind(Kind.FXS)]
    gevent.joinall(lines)
    print(f"DONE answered={stats['answered']} failed={stats['failed']}", flush=True)
    stop.wait()
    board.stop()


if __name__ == "__main__":
    main()
