"""Fixtures: a simulated site (our board + the far side on virtual cables) and the test prompts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from appliance.voiceboard.prompts import PromptSet, build_test_set
from appliance.voiceboard.sim import SimulatedSite


@pytest.fixture(scope="session")
def test_prompts(tmp_path_factory: pytest.TempPathFactory) -> PromptSet:
    out = tmp_path_factory.mktemp("prompts")
    build_test_set(out)
    return PromptSet(out)


@pytest.fixture
def site() -> Iterator[SimulatedSite]:
    s = SimulatedSite("fxo:2,fxs:3", name="t")
    s.start()
    try:
        yield s
    finally:
        s.stop()
