"""The service puts E1 ports under R2: a China No.1 call from the exchange reaches the attendant."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_service import write_config

from appliance.service import ConfigError, Service, load_config
from appliance.voiceboard.r2 import ExchangeState, R2Channel, ScriptedExchange

from .conftest import wait_for


def test_service_answers_an_r2_call_with_the_greeting(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path, "inproc", spec="e1:2,fxs:2"))
    svc = Service(cfg)
    svc.start()
    try:
        assert len(svc.spans) == 1 and isinstance(svc.board.channels[0], R2Channel)
        assert svc.far_board is not None
        x = ScriptedExchange(svc.far_board, 0)
        try:
            x.call("13800138000", "95566001")
            assert x.wait_state(ExchangeState.ANSWERED, timeout=15) is ExchangeState.ANSWERED
            far = svc.far_board.channels[0]
            wait_for(lambda: len(far.heard) >= 4, 10, "the caller hears the greeting prompt")
            assert svc.attendant.calls >= 1
            x.clear()
            assert x.wait_state(ExchangeState.IDLE, timeout=10) is ExchangeState.IDLE
        finally:
            x.close()
    finally:
        svc.stop()


def test_bad_dnis_length_is_a_config_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "none", spec="e1:2")
    cfg.write_text(cfg.read_text(encoding="utf-8") + "[e1]\ndnis_len = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"e1\.dnis_len"):
        load_config(cfg)
