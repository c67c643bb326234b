"""The service puts inbound trunk calls into the active IVR flow when [ivr] enabled = true."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pytest

from appliance.service import ConfigError, Service, ivr_settings, load_config
from appliance.voiceboard.events import CidFormat
from appliance.voiceboard.prompts import PromptSet, decode_heard
from appliance.voiceboard.sim import exchange_hangup, ring_in

from .caller import wait_for

WORK_HOURS = _dt.datetime(2026, 12, 2, 10, 0)     # a Wednesday morning: the default flow is open


def open_hours(svc: Service) -> None:
    """The default flow's schedule reads the IVR's clock: pin it inside work hours (else a test run
    after 18:00 meets the after-hours menu)."""
    if svc.ivr is not None:
        svc.ivr.clock = lambda: WORK_HOURS


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
    open_hours(svc)
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
    open_hours(svc)
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


ACD_ONE_AGENT = ('[acd]\nwrapup = 1\n[[acd.queues]]\nname = "service"\nagents = ["1001"]\n'
                 '[[acd.agents]]\nid = "1001"\nname = "张丽"\n')


@pytest.mark.parametrize("signed_in", [True, False])
def test_agent_key_hands_the_caller_to_the_acd(tmp_path: Path, test_prompts: PromptSet,
                                               signed_in: bool) -> None:
    """Key 0 in the IVR: the ACD offers the caller to a signed-in agent (the station rings, the phone
    answers, they talk); with nobody signed in the caller comes straight back to the IVR, which
    takes a message (never a dead queue)."""
    ivr = '[ivr]\nenabled = true\ntransfer_allow = ["95001", "95002"]\n'
    acd = ACD_ONE_AGENT + ("station = 2\n" if signed_in else "")
    svc = Service(load_config(config(tmp_path, test_prompts, ivr + acd)))
    svc.start()
    open_hours(svc)
    try:
        assert svc.ivr is not None and svc.acd is not None and svc.far_board is not None
        exch = svc.far_board.channels[0]
        exch.heard = ""
        ring_in(exch, "13800138000", "", CidFormat.DTMF, timeout=20)
        wait_for(lambda: "main_menu" in decode_heard(exch.heard), 20, "the main menu")
        exch.send_dtmf("0")
        if signed_in:
            wait_for(lambda: svc.acd is not None and svc.acd.agent_info("1001")["state"] == "talking", 20,
                     "the agent to take the caller")
            assert svc.acd.agent_info("1001")["calls"] == 1
        else:
            wait_for(lambda: "leave_message" in decode_heard(exch.heard), 20, "the IVR's message box")
            assert "all_busy" in decode_heard(exch.heard)
            assert svc.acd.agent_info("1001")["state"] == "logged_out"
        exchange_hangup(exch, "busy")
    finally:
        svc.stop()
