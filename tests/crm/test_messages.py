"""The IVR's message list and survey ratings: bad input refused in Chinese, nothing outside the data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.crm import audit, messages
from appliance.crm.common import InvalidInput


def test_a_recording_outside_the_data_dir_is_refused(data_dir: Path, tmp_path: Path) -> None:
    inside = data_dir / "voicemail" / "m.wav"
    inside.parent.mkdir(parents=True)
    inside.write_bytes(b"RIFF")
    msg = messages.add_message("c1", "13800138000", "repair", 2300, str(inside))
    assert msg.recording == "voicemail/m.wav" and msg.category_name == "报修"
    for bad in (str(tmp_path / "elsewhere.wav"), str(data_dir / ".." / "x.wav"), "/etc/passwd"):
        with pytest.raises(InvalidInput, match="数据目录"):
            messages.add_message("c2", "13800138000", "repair", 100, bad)
    assert [m.id for m in messages.list_messages()] == [msg.id]
    assert any(r.action == "ivr_message" for r in audit.recent(5))


def test_bad_fields_and_ratings_are_refused(data_dir: Path) -> None:
    with pytest.raises(InvalidInput, match="来电号码"):
        messages.add_message("c1", "1\n2", "repair", 10, str(data_dir / "a.wav"))
    with pytest.raises(InvalidInput, match="时长"):
        messages.add_message("c1", "138", "repair", -5, str(data_dir / "a.wav"))
    with pytest.raises(InvalidInput, match="评价"):
        messages.add_rating("c1", "138", 12, "q")
    with pytest.raises(InvalidInput, match="留言不存在"):
        messages.mark_heard(999, "li.na")
    assert messages.add_rating("c1", "138", 5, "q") > 0 and messages.ratings() == [("c1", "138", 5)]
