"""Fixtures: a simulated site (our board + exchange + phones), a fresh database, an ACD on them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest

from appliance.acd.model import AcdConfig, parse_config
from appliance.acd.service import ACD
from appliance.crm import db
from appliance.voiceboard.channel import Channel
from appliance.voiceboard.prompts import PromptSet, build_test_set
from appliance.voiceboard.sim import SimulatedSite

SPEC = "fxo:3,fxs:3"        # ports 0-2 trunks, 3-5 stations
STATIONS = (3, 4, 5)


@pytest.fixture(scope="session")
def test_prompts(tmp_path_factory: pytest.TempPathFactory) -> PromptSet:
    out = tmp_path_factory.mktemp("prompts")
    build_test_set(out)
    return PromptSet(out)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "data"
    db.init_db(directory)
    yield directory
    db.close_db()


@pytest.fixture
def site() -> Iterator[SimulatedSite]:
    s = SimulatedSite(SPEC, name="acd")
    s.start()
    try:
        yield s
    finally:
        s.stop()


def wait_for(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while not cond():
            gevent.sleep(0.02)


def config(queue: dict[str, Any] | None = None, agents: int = 2,
           extra_queues: list[dict[str, Any]] | None = None, **acd: Any) -> AcdConfig:
    """An [acd] config: queue "service" with agents 1001.. (not logged in unless they have a station)."""
    q = {"name": "service", "strategy": "longest_idle", "agents": [str(1001 + i) for i in range(agents)],
         "ring_timeout": 4.0, "max_wait": 60.0, "announce_every": 30.0, **(queue or {})}
    raw: dict[str, Any] = {"wrapup": 0.5, **acd,
                           "queues": [q, *(extra_queues or [])],
                           "agents": acd.pop("agent_list", None) or
                           [{"id": str(1001 + i), "name": f"agent{i}"} for i in range(agents)]}
    cfg = parse_config({"acd": raw})
    assert cfg is not None
    return cfg


class Harness:
    """An ACD on the simulated board, with phones the test drives."""

    def __init__(self, site: SimulatedSite, prompts: PromptSet, cfg: AcdConfig) -> None:
        self.site = site
        self.acd = ACD(site.board, prompts, cfg)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.acd.events.subscribe(lambda name, **data: self.events.append((name, data)))
        site.board.call_handler = self.acd.handle
        self.acd.start()

    def phone(self, station: int) -> Channel:
        return self.site.far.channels[station]

    def exchange(self, trunk: int) -> Channel:
        return self.site.far.channels[trunk]

    def stop(self) -> None:
        self.acd.stop()


@pytest.fixture
def make_acd(site: SimulatedSite, test_prompts: PromptSet,
             data_dir: Path) -> Iterator[Callable[[AcdConfig], Harness]]:
    made: list[Harness] = []

    def make(cfg: AcdConfig) -> Harness:
        h = Harness(site, test_prompts, cfg)
        made.append(h)
        return h

    yield make
    for h in made:
        h.stop()
