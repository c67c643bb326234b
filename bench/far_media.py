"""Far side of the media benchmark, in its own process: every line talks (tone + DTMF) all the time."""

from __future__ import annotations

import argparse
import signal

import gevent
import gevent.event

from appliance.voiceboard.board import Board, opposite_spec
from appliance.voiceboard.channel import Play


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--spec", required=True)
    args = ap.parse_args()
    board = Board("bench-far", opposite_spec(args.spec))
    board.link_connect(args.socket)
    board.start()
    talk = [Play.dtmf("159#", 80, 80), Play.tone(440, duration_ms=2000, f2=620, level_dbm0=-18),
            Play.silence(300)] * 10
    for ch in board.channels:
        ch.start_play(talk)
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    stop.wait()
    board.stop()


if __name__ == "__main__":
    main()
