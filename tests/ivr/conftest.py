"""Fixtures of the IVR tests: the test prompt set, a fresh database, a simulated site with the IVR
answering its trunks, an in-memory CRM, and a scripted caller on the exchange side."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.crm import db
from appliance.voiceboard.prompts import PromptSet, build_test_set

from .caller import IvrSite, make_site


@pytest.fixture(scope="session")
def test_prompts(tmp_path_factory: pytest.TempPathFactory) -> PromptSet:
    out = tmp_path_factory.mktemp("ivr-prompts")
    build_test_set(out)
    return PromptSet(out)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "data"
    db.init_db(directory)
    yield directory
    db.close_db()


WEDNESDAY_10AM = _dt.datetime(2026, 12, 2, 10, 0)


@pytest.fixture
def ivr_site(test_prompts: PromptSet, data_dir: Path) -> Iterator[IvrSite]:
    s = make_site(test_prompts, data_dir, "fxo:4,fxs:2", WEDNESDAY_10AM)
    try:
        yield s
    finally:
        s.stop()
