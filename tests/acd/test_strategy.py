"""Routing decisions over many calls: the strategies as pure functions of the agents' stats."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from typing import Any, cast

import pytest

from appliance.acd.model import AcdConfigError, Priority, QueueConfig, Strategy, parse_config
from appliance.acd.queue import Queue, QueuedCall
from appliance.acd.strategy import AgentStats, choose

CALLS = 500


def _agents(n: int) -> list[AgentStats]:
    return [AgentStats(f"a{i}", idle_since=float(i), order=i) for i in range(n)]


def test_round_robin_takes_turns_in_member_order() -> None:
    agents = _agents(4)
    last, picks = -1, []
    for _ in range(CALLS):
        (a,) = choose(Strategy.ROUND_ROBIN, agents, last)
        picks.append(a.id)
        last = a.order
    assert picks[:8] == ["a0", "a1", "a2", "a3"] * 2
    assert Counter(picks) == {f"a{i}": CALLS // 4 for i in range(4)}


def test_round_robin_skips_busy_agents_and_wraps() -> None:
    agents = _agents(4)
    free = [agents[0], agents[3]]                 # a1 and a2 on calls
    assert choose(Strategy.ROUND_ROBIN, free, last_order=0)[0].id == "a3"
    assert choose(Strategy.ROUND_ROBIN, free, last_order=3)[0].id == "a0"


def test_longest_idle_always_picks_the_agent_free_longest() -> None:
    rng = random.Random(5)
    agents = {a.id: a for a in _agents(5)}
    clock = 10.0
    counts: Counter[str] = Counter()
    for _ in range(CALLS):
        free = [a for a in agents.values() if rng.random() < 0.7] or list(agents.values())
        (a,) = choose(Strategy.LONGEST_IDLE, free, -1)
        assert a.idle_since == min(f.idle_since for f in free)
        counts[a.id] += 1
        clock += rng.uniform(1, 5)
        agents[a.id] = replace(a, idle_since=clock, calls=a.calls + 1)   # talks, then free again
    assert min(counts.values()) > CALLS / 5 * 0.6, counts


def test_fewest_calls_evens_out_the_load() -> None:
    agents = {a.id: replace(a, calls=c) for a, c in zip(_agents(3), (40, 0, 15), strict=True)}
    for _ in range(CALLS):
        (a,) = choose(Strategy.FEWEST_CALLS, list(agents.values()), -1)
        assert a.calls == min(x.calls for x in agents.values())
        agents[a.id] = replace(a, calls=a.calls + 1)
    calls = sorted(a.calls for a in agents.values())
    assert calls[-1] - calls[0] <= 1 and sum(calls) == CALLS + 55


def test_skills_prefer_the_highest_level_then_longest_idle() -> None:
    rng = random.Random(7)
    agents = [AgentStats("expert", 5.0, level=5), AgentStats("mid1", 1.0, level=3),
              AgentStats("mid2", 2.0, level=3), AgentStats("novice", 0.0, level=1)]
    picks: Counter[str] = Counter()
    for _ in range(CALLS):
        free = [a for a in agents if rng.random() < 0.5]
        if not free:
            continue
        (a,) = choose(Strategy.SKILLS, free, -1)
        best = max(f.level for f in free)
        assert a.level == best
        assert a.idle_since == min(f.idle_since for f in free if f.level == best)
        picks[a.id] += 1
    assert picks["expert"] > picks["mid1"] > picks["mid2"] > picks["novice"] > 0


def test_ring_all_offers_every_free_agent() -> None:
    agents = _agents(6)
    assert {a.id for a in choose(Strategy.RING_ALL, agents, -1)} == {a.id for a in agents}
    assert choose(Strategy.RING_ALL, [], -1) == []


def test_config_priority_and_errors() -> None:
    cfg = parse_config({"acd": {
        "vip_callers": ["13900000001"], "emergency_dnis": ["95566119"],
        "queues": [{"name": "gas", "strategy": "skills", "skill": "gas", "overflow": "voicemail"}],
        "agents": [{"id": "1", "skills": {"gas": 3}}]}})
    assert cfg is not None
    assert cfg.priority_of("13900000001") is Priority.VIP
    assert cfg.priority_of("13900000002", "95566119") is Priority.EMERGENCY
    assert cfg.priority_of("13900000002", "95566000") is Priority.NORMAL
    assert parse_config({"board": {}}) is None
    bad = [
        ({"queues": [{"name": "q", "strategy": "random"}], "agents": [{"id": "1"}]}, "strategy"),
        ({"queues": [{"name": "q", "agents": ["9"]}], "agents": [{"id": "1"}]}, "unknown agent"),
        ({"queues": [{"name": "q", "overflow": "nowhere"}], "agents": [{"id": "1"}]}, "overflow"),
        ({"queues": [{"name": "q", "strategy": "skills"}], "agents": [{"id": "1"}]}, "skill"),
        ({"queues": [{"name": "q"}], "agents": [{"id": "1", "station": 3}, {"id": "2", "station": 3}]},
         "two agents"),
        ({"queues": [{"name": "q"}], "agents": [{"id": "1", "mode": "telepathy"}]}, "mode"),
    ]
    for raw, needle in bad:
        with pytest.raises(AcdConfigError, match=needle):
            parse_config({"acd": raw})


def test_queue_order_emergency_then_vip_then_fifo() -> None:
    q = Queue(QueueConfig("q", max_length=600))
    rng = random.Random(3)
    made = []
    for seq in range(CALLS):
        prio = rng.choice([Priority.NORMAL] * 6 + [Priority.VIP] * 3 + [Priority.EMERGENCY])
        call = QueuedCall(f"c{seq}", cast(Any, None), "1", "", prio, seq, float(seq))
        made.append(call)
        q.add(call, float(seq))
    order = [(c.priority, c.seq) for c in q.calls]
    expected = sorted(((c.priority, c.seq) for c in made), key=lambda p: (-p[0], p[1]))
    assert order == expected
    assert q.full is False and q.ahead_of(q.calls[10]) == 10
    q.remove(q.calls[0])
    assert q.ahead_of(q.calls[10]) == 10 and len(q.calls) == CALLS - 1
