"""A customer's record lists his calls (with survey and recordings), messages and IVR ratings,
found under every form in which his numbers reach the box, and nobody else's."""

from __future__ import annotations

import time
from pathlib import Path

from appliance.crm import callrec, cdr, contacts, customer, messages
from appliance.crm.common import Actor

AGENT = Actor("alice", "agent")


def _call(call_id: str, caller: str, at: float, **fields: object) -> None:
    cdr.open_call(call_id, caller, "9556", "service", 0, at)
    cdr.update_call(call_id, {"ended_at": at + 60, **fields})


def test_caller_forms_cover_trunk_prefix_country_code_and_local_calls() -> None:
    assert contacts.caller_forms("13812345678") == [
        "13812345678", "013812345678", "8613812345678", "+8613812345678"]
    assert contacts.caller_forms("01065521234") == ["01065521234", "65521234"]       # Beijing: 3
    assert contacts.caller_forms("02487654321") == ["02487654321", "87654321"]       # Shenyang: 3
    assert contacts.caller_forms("04151234567") == ["04151234567", "1234567"]        # Dandong: 4
    assert contacts.caller_forms("95598") == ["95598"]


def test_record_lists_calls_recordings_surveys_and_messages(data_dir: Path) -> None:
    wang = customer.create_customer(AGENT, "100001", "王伟", phones=["138-1234-5678", "(024) 8765-4321"])
    other = customer.create_customer(AGENT, "100002", "李强", phones=["13900001111"])
    t = time.time() - 3600
    _call("c1", "13812345678", t, agent="1001", disposition="answered", talk_s=95.04, survey=5,
          transfers="1001>1002")
    _call("c2", "013812345678", t + 100, disposition="abandoned", wait_s=31.0)      # trunk prefix
    _call("c3", "87654321", t + 200, agent="1002", disposition="answered")         # local fixed line
    _call("c4", "13900001111", t + 300, agent="1001", disposition="answered")       # somebody else
    _call("c5", "13812345678", t + 400, agent="1001", direction="out", disposition="answered")
    rid = callrec.open_recording("c1", "1001", "13812345678", callrec.new_path("c1", 1, t), t, "acd")
    messages.add_message("m1", "13812345678", "repair", 12_300, str(data_dir / "m1.wav"))
    messages.add_message("m2", "13900001111", "complaint", 5_000, str(data_dir / "m2.wav"))
    messages.add_rating("c1", "13812345678", 4, "满意度")

    h = customer.history(wang.id)
    assert [c["call_id"] for c in h["calls"]] == ["c5", "c3", "c2", "c1"]            # newest first
    first = h["calls"][-1]
    assert (first["agent"], first["disposition_name"], first["talk_s"], first["survey"]) == (
        "1001", "已接通", 95.0, 5)
    assert first["recordings"] == [rid] and first["transfers"] == "1001>1002"
    assert h["calls"][0]["direction"] == "out"
    assert h["calls"][2]["disposition_name"] == "未接通即挂机" and h["calls"][2]["recordings"] == []
    assert [(m["category_name"], m["duration_s"]) for m in h["messages"]] == [("报修", 12.3)]
    assert [(s["call_id"], s["rating"]) for s in h["surveys"]] == [("c1", 4)]

    h2 = customer.history(other.id)
    assert [c["call_id"] for c in h2["calls"]] == ["c4"]
    assert [m["category_name"] for m in h2["messages"]] == ["投诉"] and h2["surveys"] == []


def test_a_customer_without_phones_has_no_contacts(data_dir: Path) -> None:
    nobody = customer.create_customer(AGENT, "100003", "赵敏")
    _call("c1", "", time.time())                      # a call without caller ID is nobody's
    h = customer.history(nobody.id)
    assert (h["calls"], h["messages"], h["surveys"]) == ([], [], [])
