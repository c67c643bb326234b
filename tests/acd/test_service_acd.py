"""The service sends inbound trunk calls (analog FXO and E1 under R2) to the ACD's default queue."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.crm import cdr
from appliance.service import ConfigError, Service, load_config
from appliance.voiceboard.events import CidFormat
from appliance.voiceboard.prompts import build_test_set
from appliance.voiceboard.r2 import ExchangeState, ScriptedExchange
from appliance.voiceboard.sim import exchange_hangup, ring_in

from .conftest import wait_for

ACD_TOML = """
[acd]
default_queue = "service"
wrapup = 1

[[acd.queues]]
name = "service"
strategy = "longest_idle"
agents = ["1001"]
ring_timeout = 10

[[acd.agents]]
id = "1001"
name = "张三"
station = {station}
"""


def _config(tmp: Path, spec: str, station: int) -> Path:
    prompts = tmp / "prompts"
    build_test_set(prompts)
    cfg = tmp / "rexian.toml"
    cfg.write_text(
        f'[board]\nbackend = "sim"\nspec = "{spec}"\nfar = "inproc"\n'
        f'[data]\ndir = "{tmp}/data"\n[prompts]\ndir = "{prompts}"\n' + ACD_TOML.format(station=station),
        encoding="utf-8")
    return cfg


def test_fxo_call_goes_to_the_queue_and_reaches_the_agent(tmp_path: Path) -> None:
    svc = Service(load_config(_config(tmp_path, "fxo:1,fxs:2", 1)))
    svc.start()
    try:
        assert svc.acd is not None and svc.far_board is not None
        assert svc.acd.agent_info("1001")["state"] == "ready", "configured agents start logged in"
        exch = svc.far_board.channels[0]
        ring_in(exch, "13800138000", "", CidFormat.FSK, timeout=20)
        wait_for(lambda: svc.acd is not None and svc.acd.agent_info("1001")["state"] == "talking", 15,
                 "the agent's phone answers")
        assert svc.far_board.channels[1].caller_id == "13800138000"
        exchange_hangup(exch, "busy")
        wait_for(lambda: svc.acd is not None and svc.acd.agent_info("1001")["state"] != "talking", 8, "over")
        svc.acd.flush()
        assert cdr.recent_calls(1)[0].disposition == "answered"
    finally:
        svc.stop()


def test_r2_call_goes_to_the_queue_with_its_ani(tmp_path: Path) -> None:
    svc = Service(load_config(_config(tmp_path, "e1:2,fxs:2", 2)))
    svc.start()
    try:
        assert svc.acd is not None and svc.far_board is not None
        x = ScriptedExchange(svc.far_board, 0)
        try:
            x.call("13900139000", "95566001")
            assert x.wait_state(ExchangeState.ANSWERED, timeout=15) is ExchangeState.ANSWERED
            wait_for(lambda: svc.acd is not None and svc.acd.agent_info("1001")["state"] == "talking", 15,
                     "the agent answers the E1 call")
            assert svc.far_board.channels[2].caller_id == "13900139000"
            x.clear()
            assert x.wait_state(ExchangeState.IDLE, timeout=10) is ExchangeState.IDLE
        finally:
            x.close()
        svc.acd.flush()
        rec = cdr.recent_calls(1)[0]
        assert (rec.caller, rec.dnis, rec.disposition) == ("13900139000", "95566001", "answered")
    finally:
        svc.stop()


def test_acd_config_errors_name_the_key(tmp_path: Path) -> None:
    cfg = _config(tmp_path, "fxo:1,fxs:2", 0)          # port 0 is a trunk
    with pytest.raises(ConfigError, match="station 0 is not an FXS port"):
        load_config(cfg)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('"longest_idle"', '"lottery"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="strategy"):
        load_config(cfg)
