"""Far side of the r2 benchmark, in its own process: the exchange calls our 4 E1 spans.

Calls arrive at RATE per second on free channels (China No.1 with ANI, 8-digit DNIS), are held
HOLD seconds once answered, then cleared forward.  Runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import signal

import gevent
import gevent.event

from appliance.voiceboard.board import Board, opposite_spec
from appliance.voiceboard.r2 import ExchangeState, ScriptedExchange


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--spec", required=True)
    ap.add_argument("--rate", type=float, default=5.0)
    ap.add_argument("--hold", type=float, default=8.0)
    args = ap.parse_args()
    board = Board("bench-far", opposite_spec(args.spec))
    board.link_connect(args.socket)
    board.start()
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    while not all(c.line_up for c in board.channels):
        gevent.sleep(0.1)
    exchanges = [ScriptedExchange(board, i) for i in range(len(board.channels))]
    busy: set[int] = set()

    def call(i: int, n: int) -> None:
        x = exchanges[i]
        try:
            x.call(f"1380{n:07d}", f"9556{n % 10000:04d}")
            if x.wait_state(ExchangeState.ANSWERED, ExchangeState.FAILED, ExchangeState.REJECTED,
                            timeout=20) is ExchangeState.ANSWERED:
                gevent.sleep(args.hold)
            x.clear()
            x.wait_state(ExchangeState.IDLE, timeout=10)
        finally:
            busy.discard(i)

    n = 0
    nxt = 0
    while not stop.is_set():
        free = [i for i in range(len(exchanges)) if i not in busy]
        if free:
            i = free[nxt % len(free)]
            nxt += 7
            busy.add(i)
            n += 1
            gevent.spawn(call, i, n)
        stop.wait(1.0 / args.rate)
    for x in exchanges:
        x.clear()
    gevent.sleep(0.5)
    for x in exchanges:
        x.close()
    board.stop()


if __name__ == "__main__":
    main()
