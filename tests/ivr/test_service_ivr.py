"""The service puts inbound trunk calls into the active IVR flow when [ivr] enabled = true."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.service import ConfigError, Service, ivr_settings, load_config
from appliance.voiceboard.events import CidFormat
from appliance.voiceboard.prompts import PromptSet, decode_heard
from appliance.voiceboard.sim import exchange_hangup, ring_in

from .caller import wait_for


def config(tmp: Path, prompts: PromptSet, ivr: str) -> Path:
    cfg = tmp / "rexian.toml"
    cfg.write_text(
        f'[board]\nbackend = "sim"\nspec = "fxo:2,fxs:1"\nfar = "inproc"\n'
        f'[data]\ndir = "{tmp}/data"\n[prompts]\ndir = "{prompts.directory}"\n{ivr}', encoding="utf-8")
    return cfg


def test_ivr_settings(tmp_path: Path, test_prompts: PromptSet) -> None:
    cfg = load_config(config(tmp_path, test_prompts, ""))
    assert ivr_settings(cfg) == (False, "default", [])
    cfg = load_config(config(tmp_path, test_prompts, '[ivr]\nenabled = true\ntransfer_allow = ["95001"]\n'))
    assert ivr_settings(cfg) == (True, "default", ["95001"])
    cfg = load_config(config(tmp_path, test_prompts, "[ivr]\ntransfer_allow = [95001]\n"))
    with pytest.raises(ConfigError, match="transfer_allow"):
        ivr_settings(cfg)


def test_service_answers_with_the_default_flow(tmp_path: Path, test_prompts: PromptSet) -> None:
    ivr = '[ivr]\nenabled = true\ntransfer_allow = ["95001", "95002"]\n'
    svc = Service(load_config(config(tmp_path, test_prompts, ivr)))
    svc.start()
    try:
        assert svc.ivr is not None and svc.ivr.active is not None
        assert svc.ivr.active.label == "default@v1"
        assert svc.far_board is not None
        exch = svc.far_board.channels[0]
        exch.heard = ""
        ring_in(exch, "13800138000", "", CidFormat.DTMF, timeout=20)
        wait_for(lambda: decode_heard(exch.heard)[:2] == ["welcome", "record_notice"], 15, "the IVR greeting")
        exchange_hangup(exch, "busy")
    finally:
        svc.stop()


def test_without_the_on_call_numbers_allowed_the_attendant_answers(tmp_path: Path,
                                                                   test_prompts: PromptSet) -> None:
    svc = Service(load_config(config(tmp_path, test_prompts, "[ivr]\nenabled = true\n")))
    svc.start()
    try:
        assert svc.ivr is None, "the default flow cannot run: its emergency numbers are not allowed"
        assert svc.far_board is not None
        exch = svc.far_board.channels[1]
        exch.heard = ""
        ring_in(exch, "13800138000", "", CidFormat.DTMF, timeout=20)
        wait_for(lambda: decode_heard(exch.heard)[:2] == ["welcome", "menu"], 15, "the attendant's greeting")
        exchange_hangup(exch, "busy")
    finally:
        svc.stop()
