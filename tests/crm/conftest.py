"""A fresh crm database in a temporary data dir for each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.crm import db


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "data"
    db.init_db(directory)
    yield directory
    db.close_db()
