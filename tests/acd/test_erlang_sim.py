"""The real ACD under Poisson load agrees with Erlang C: 20 auto-answer agents at 16 Erlangs.

Calls come in on 4 E1 spans (120 trunks, R2 China: a trunk is held ~4 s of MF set-up before the
call reaches the ACD, so 16 E of agents need ~50 trunks on average and up to ~80). 20 agents work
auto-answer headsets held off-hook by the far side, so no ring time distorts the wait. Time is
scaled: mean handling 2 s instead of 240 s (x 1/120), so the 80/20 threshold is 20/120 s. The
caller hangs up so that his agent is held Exp(2 s) from the offer (appliance/acd/erlang_load.py).
Measured from the CDRs: the wait of a call is its time in queue until an agent is seized (CDR
``wait_s - ring_s``), its handling the agent's time on it (beep ``ring_s`` + ``talk_s`` + wrap-up
0); the arrival rate and the mean handling time are the measured ones. Two checks:

1. Against the reference queue fed the *same* calls (arrival instants and handling times as the
   ACD measured them, first come first served by 20 agents, appliance/acd/erlang.fifo_waits): a
   work-conserving FIFO ACD gives the same waits up to its reaction time (ms), so the tolerance is
   tight (1.5 points of service level, 10 ms of ASA). An agent left idle while a caller waits, a
   caller served out of turn, or a slow dispatch would show here.
2. Against Erlang C from the measured rate and handling time. ~500 calls of a queue at 80 %
   occupancy are few: busy periods make the waits correlated, and the sampling sd of the service
   level is ~8 points (not the binomial 2). The tolerance is therefore taken from 1,000 runs of the
   reference M/M/20 queue with the same protocol (start empty, same warm-up and window, Erlang C
   from each run's own measured rate and AHT): the measured gap must lie within the central 99 %
   of theirs, the run is not compared with a guess. The 2,000-call version is ``./build.sh bench acd``.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest

from appliance.acd import erlang
from appliance.acd.erlang_load import E1Site, ErlangLoad
from appliance.acd.service import ACD
from appliance.crm import cdr
from appliance.voiceboard.prompts import PromptSet

from .conftest import config, wait_for

AGENTS = 20
AHT = 2.0                       # seconds (scaled 240 s)
TRAFFIC = 16.0                  # Erlangs
T = AHT * 20 / 240              # the 20 s of "80/20" in the same scale
WARMUP = 10.0                   # seconds of arrivals not counted (the queue starts empty)
WINDOW = 55.0                   # seconds of counted arrivals (~440 calls)
WAITED = 0.01                   # a call "waited" if its queue time is longer (CDR times are in ms)
SEED = 20261202
REFERENCE_RUNS = 1000


@pytest.fixture
def e1site() -> Iterator[E1Site]:
    s = E1Site(spans=4, stations=AGENTS)
    s.start()
    try:
        yield s
    finally:
        s.stop()


def _acd(site: E1Site, prompts: PromptSet) -> ACD:
    agents = [{"id": str(1001 + i), "station": port, "mode": "auto_answer"}
              for i, port in enumerate(site.stations)]
    cfg = config({"max_length": 200, "max_wait": 600.0}, agents=AGENTS, wrapup=0.0, agent_list=agents)
    acd = ACD(site.board, prompts, cfg)
    site.board.call_handler = acd.handle
    acd.start()
    site.headsets_on()
    wait_for(lambda: all(a.headset_up for a in acd.agents.values()), 10, "every headset held by the ACD")
    return acd


def _reference_gaps(rate: float) -> dict[str, list[float]]:
    """(measured - Erlang C) of runs of the ideal queue under the test's protocol."""
    gaps: dict[str, list[float]] = {"sl": [], "pw": []}
    rng = random.Random(SEED)
    for _ in range(REFERENCE_RUNS):
        s = erlang.simulate(AGENTS, rate, AHT, WARMUP + WINDOW, WARMUP, rng)
        gaps["sl"].append(s.service_level(T) - s.predicted_service_level(AGENTS, T))
        gaps["pw"].append((1 - s.service_level(WAITED)) - erlang.wait_probability(AGENTS, s.traffic))
        gevent.sleep(0)                 # ~1 ms a run: the hub keeps going
    return gaps


def _central(xs: list[float], share: float = 0.99) -> tuple[float, float]:
    xs = sorted(xs)
    cut = (1 - share) / 2
    return xs[int(cut * len(xs))], xs[min(len(xs) - 1, int((1 - cut) * len(xs)))]


def test_service_level_and_asa_agree_with_erlang_c(e1site: E1Site, test_prompts: PromptSet,
                                                   data_dir: Path) -> None:
    acd = _acd(e1site, test_prompts)
    rate = TRAFFIC / AHT
    load = ErlangLoad(acd, e1site.exchanges, rate, AHT, WARMUP + WINDOW + 1.0, seed=SEED)
    try:
        callers = load.run()
    finally:
        acd.stop()
    assert load.blocked == 0, f"{load.blocked} arrivals found all {e1site.trunks} trunks busy"
    failed = [c for c in callers if c.failed]
    assert not failed, f"{len(failed)} callers failed, first: {failed[0]}"

    rows = cdr.calls_between(0.0, math.inf)
    assert len(rows) == len(callers), "one CDR per call"
    assert {r.disposition for r in rows} == {"answered"}, "Erlang C has no abandon: every call answered"
    arrivals = [r.enqueued_at or 0.0 for r in rows]
    waits = [max(0.0, r.wait_s - r.ring_s) for r in rows]
    handling = [r.ring_s + r.talk_s + r.wrapup_s for r in rows]
    start = arrivals[0] + WARMUP
    measured = erlang.sample_of(arrivals, handling, waits, start, start + WINDOW)
    replay = erlang.sample_of(arrivals, handling, erlang.fifo_waits(AGENTS, arrivals, handling),
                              start, start + WINDOW)
    counted = [h for a, h in zip(arrivals, handling, strict=True) if start <= a < start + WINDOW]
    beep = statistics.mean(r.ring_s for r in rows)
    cv2 = statistics.pvariance(counted) / measured.aht ** 2
    report: dict[str, Any] = {
        "calls": measured.calls, "rate": round(measured.rate, 3), "aht": round(measured.aht, 3),
        "traffic": round(measured.traffic, 2), "beep": round(beep, 3), "handling_cv2": round(cv2, 2),
        "clearing": round(load.clearing, 3),
        "sl": round(measured.service_level(T), 4), "sl_replay": round(replay.service_level(T), 4),
        "sl_erlang": round(measured.predicted_service_level(AGENTS, T), 4),
        "asa": round(measured.asa, 4), "asa_replay": round(replay.asa, 4),
        "asa_erlang": round(measured.predicted_asa(AGENTS), 4),
        "pw": round(1 - measured.service_level(WAITED), 4),
        "pw_erlang": round(erlang.wait_probability(AGENTS, measured.traffic), 4),
        "peak_trunks": load.peak_trunks}
    print("erlang sim:", report)
    expected = rate * WINDOW                        # Poisson: sd sqrt(expected)
    assert abs(measured.calls - expected) < 4 * math.sqrt(expected), f"not the rate asked for: {report}"
    assert 0.9 * AHT < measured.aht < 1.1 * AHT, f"the agents are not held the time asked for: {report}"

    # 1. the ACD is the ideal FIFO queue of these very calls, to its reaction time
    assert abs(measured.service_level(T) - replay.service_level(T)) <= 0.015, report
    assert abs(measured.asa - replay.asa) <= 0.01, report

    # 2. Erlang C, within the spread of an ideal queue measured the same way
    gaps = _reference_gaps(rate)
    lo, hi = _central(gaps["sl"])
    gap = measured.service_level(T) - measured.predicted_service_level(AGENTS, T)
    assert lo <= gap <= hi, \
        f"SL {gap:+.3f} from Erlang C, outside the ideal queue's [{lo:+.3f}, {hi:+.3f}]: {report}"
    lo, hi = _central(gaps["pw"])
    gap = float(report["pw"]) - float(report["pw_erlang"])
    assert lo <= gap <= hi, f"P_w {gap:+.3f} from Erlang C, outside [{lo:+.3f}, {hi:+.3f}]: {report}"
