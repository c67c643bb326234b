"""The recording index: file names the ACD may write, crash recovery, and no file outside the data dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.crm import audit, callrec
from appliance.crm.common import InvalidInput
from appliance.crm.db import database


def test_names_come_from_the_call_id_only(data_dir: Path) -> None:
    path = callrec.new_path("20261202-101500-3-abc123", 2, at=0.0)
    assert path.parent.parent == data_dir / "recordings" and path.name == "20261202-101500-3-abc123-2.wav"
    for bad in ("../../etc/passwd", "a/b", "", "x" * 65, "呼叫"):
        with pytest.raises(InvalidInput):
            callrec.new_path(bad, 1)


def test_a_recording_cut_by_a_crash_is_closed_with_its_duration_from_the_file(data_dir: Path) -> None:
    path = callrec.new_path("20261202-101500-3-abc123", 1)
    path.write_bytes(b"\0" * (callrec.WAV_HEADER + 3 * callrec.ALAW_BYTES_PER_S))   # 3 s written
    rid = callrec.open_recording("20261202-101500-3-abc123", "1001", "13800138000", path, 100.0, "")
    assert callrec.recordings_of("20261202-101500-3-abc123")[0].ended_at is None
    assert callrec.close_open_recordings(500.0) == 1
    rec = callrec.recordings_of("20261202-101500-3-abc123")[0]
    assert rec.ended_at == 500.0 and rec.duration_s == 3.0
    assert callrec.recording_file(rid) == path.resolve()
    assert any(r.action == "call_recording" for r in audit.recent(5))


def test_a_row_pointing_outside_the_data_dir_gives_no_file(data_dir: Path) -> None:
    database().execute_sql("INSERT INTO call_recording(call_id, path, started_at) "
                           "VALUES ('x', '../../etc/passwd', 1)")
    rid = database().execute_sql("SELECT id FROM call_recording WHERE call_id = 'x'").fetchone()[0]
    assert callrec.recording_file(rid) is None
    assert callrec.recording_file(99999) is None
    with pytest.raises(InvalidInput):
        callrec.open_recording("y", "", "", Path("/etc/passwd"), 1.0, "")
