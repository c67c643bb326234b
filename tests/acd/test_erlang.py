"""Erlang C against published values, an independent closed form, and the reference queue."""

from __future__ import annotations

import math
import random

import pytest

from appliance.acd import erlang


def _direct_wait_probability(n: int, a: float) -> float:
    """The textbook formula (reliability-anchors B.2), with the powers and factorials in logs."""
    logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(n)]
    top = n * math.log(a) - math.lgamma(n + 1) + math.log(n / (n - a))
    m = max([*logs, top])
    below = sum(math.exp(x - m) for x in logs)
    return math.exp(top - m) / (below + math.exp(top - m))


def test_published_example_20_erlangs() -> None:
    # 600 calls/h x 120 s = 20 E: "26 circuits give about 15 % probability of delay, 30 give 2.5 %",
    # average delay "3 s" (mcerlc.htm, via reliability-anchors B.2)
    assert 0.14 <= erlang.wait_probability(26, 20.0) <= 0.15
    assert erlang.wait_probability(30, 20.0) == pytest.approx(0.025, abs=0.0005)
    assert erlang.asa(26, 600 / 3600 * 120, 120) == pytest.approx(3.0, abs=0.15)


def test_erlang_b_table_value() -> None:
    # the classic table: 10 circuits offered 5 E block 1.84 % of calls
    assert erlang.erlang_b(10, 5.0) == pytest.approx(0.01838, abs=0.00001)
    assert erlang.erlang_b(1, 1.0) == pytest.approx(0.5)


@pytest.mark.parametrize(("agents", "pw", "sl20", "asa"), [(19, 0.37, 0.71, 30), (20, 0.26, 0.82, 15),
                                                             (21, 0.17, 0.89, 8)])
def test_twenty_seat_worked_example(agents: int, pw: float, sl20: float, asa: float) -> None:
    # 240 calls/h, AHT 240 s = 16 E (reliability-anchors B.2, the worked example for 20 seats)
    a = 240 / 3600 * 240
    assert erlang.wait_probability(agents, a) == pytest.approx(pw, abs=0.006)
    assert erlang.service_level(agents, a, 240, 20) == pytest.approx(sl20, abs=0.006)
    assert erlang.asa(agents, a, 240) == pytest.approx(asa, abs=0.6)


def test_agents_for_80_20_matches_the_capacity_notes() -> None:
    # 20 agents carry about 327 calls/h at AHT 180, 242 at 240, 192 at 300 (80/20)
    for calls_h, aht in ((327, 180), (242, 240), (192, 300)):
        assert erlang.agents_for(calls_h / 3600, aht, 20, 0.80) == 20
        assert erlang.agents_for((calls_h + 12) / 3600, aht, 20, 0.80) > 20, "capacity is the limit"


def test_stable_where_the_textbook_formula_overflows() -> None:
    # 1000 agents: 950**1000 and 1000! overflow a float; the recurrence needs neither
    for n, a in ((1000, 950.0), (300, 280.5), (5, 0.01), (26, 20.0)):
        assert erlang.wait_probability(n, a) == pytest.approx(_direct_wait_probability(n, a), rel=1e-9)
    with pytest.raises(OverflowError):
        _ = 950.0 ** 1000 / math.factorial(1000)


def test_overloaded_queue() -> None:
    assert erlang.wait_probability(16, 16.0) == 1.0
    assert erlang.service_level(15, 16.0, 240, 20) == 0.0
    assert erlang.asa(16, 16.0, 240) == math.inf
    assert erlang.wait_probability(3, 0.0) == 0.0
    with pytest.raises(ValueError):
        erlang.wait_probability(0, 1.0)
    with pytest.raises(ValueError):
        erlang.wait_probability(3, -1.0)


def test_fifo_reference_queue_by_hand() -> None:
    # one agent, a call every second, each handled for 2 s: each waits a second more than the last
    assert erlang.fifo_waits(1, [0, 1, 2], [2, 2, 2]) == [0, 1, 2]
    # two agents: the third call takes whichever agent frees first
    assert erlang.fifo_waits(2, [0, 0, 0.5], [3, 1, 1]) == [0, 0, 0.5]


def test_reference_queue_converges_to_erlang_c() -> None:
    # 20 agents at 16 E over ~100,000 calls (10 s AHT); the sampling sd of SL there is < 0.5 point
    s = erlang.simulate(20, 1.6, 10.0, 62_500, 100, random.Random(5))
    assert s.calls > 90_000
    assert s.traffic == pytest.approx(16.0, rel=0.02)
    assert 1 - s.service_level(0) == pytest.approx(erlang.wait_probability(20, s.traffic), abs=0.015)
    assert s.service_level(10 / 12) == pytest.approx(s.predicted_service_level(20, 10 / 12), abs=0.015)
    assert s.asa == pytest.approx(s.predicted_asa(20), rel=0.1)
