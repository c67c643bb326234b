"""Call recording: both sides mixed in one A-law WAV per recording, indexed in the database.

The recording is taken on the caller's trunk: the engine mixes what the caller says (rx) with what
he hears (tx: the agent, a consulted colleague, a barging leader — not a whisper, which the caller
does not hear). The mode comes from the agent (``record`` in [[acd.agents]]) or else the queue:
``always`` (the notice is part of the caller's first hold prompt, the recording starts as the
agent is connected), ``on_demand`` (the agent starts and stops it from the desk; the caller hears
the notice when it starts) or ``never``. Files are named by crm.callrec from the call id; the index
row is opened as the recording starts, so a crash leaves a readable file and a row closed at the
next start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from appliance.crm import callrec

from .errors import AcdError
from .model import RecordMode

if TYPE_CHECKING:
    from .agent import Agent
    from .queue import QueuedCall
    from .service import ACD

log = logging.getLogger(__name__)

MAX_RECORDING_S = 4 * 3600.0


@dataclass
class _Active:
    rid: int | None
    started: float
    n: int


class Recorder:
    def __init__(self, acd: ACD) -> None:
        self.acd = acd
        self._active: dict[str, _Active] = {}
        self._count: dict[str, int] = {}

    def mode(self, call: QueuedCall, agent: Agent | None) -> RecordMode:
        if agent is not None and agent.cfg.record is not None:
            return agent.cfg.record
        q = self.acd.queues.get(call.last_queue or call.wanted_queue or self.acd.cfg.default_queue)
        return q.cfg.record if q is not None else RecordMode.ALWAYS

    def active(self, call: QueuedCall) -> bool:
        return call.id in self._active

    def start(self, call: QueuedCall, by: str, notice: bool) -> None:
        """Start recording the call (``notice``: the caller first hears that it is recorded)."""
        if call.id in self._active:
            raise AcdError("这通电话已在录音")
        n = self._count.get(call.id, 0) + 1
        self._count[call.id] = n
        try:
            path = callrec.new_path(call.id, n, self.acd.wall())
        except (OSError, ValueError) as exc:
            log.error("%s recording not started: %s", call.prefix, exc)
            raise AcdError("录音目录不可写，录音未开始") from None
        if notice and self.acd.prompts is not None:
            notice_path = self.acd.prompts.path("record_notice")
            if notice_path is not None:
                call.trunk.start_play([notice_path])
        try:
            call.trunk.start_record(path, max_s=MAX_RECORDING_S)
        except Exception as exc:                  # the engine refused (disk, file, channel state)
            log.error("%s recording not started: %s", call.prefix, exc)
            raise AcdError("录音启动失败（磁盘满或通道故障），请联系维护人员") from None
        active = _Active(None, self.acd.clock(), n)
        self._active[call.id] = active
        agent = call.agent.id if call.agent is not None else ""

        def opened() -> None:
            active.rid = callrec.open_recording(call.id, agent, call.caller, path, self.acd.wall(), by)
        self.acd.submit(opened)
        log.info("%s recording %d started by %s: %s", call.prefix, n, by or "policy", path.name)
        self.acd.events.emit("acd.call.recording", call_id=call.id, on=True, by=by)

    def stop(self, call: QueuedCall, by: str) -> None:
        active = self._active.pop(call.id, None)
        if active is None:
            raise AcdError("这通电话没有在录音")
        try:
            call.trunk.stop_record()
        except Exception:
            log.debug("%s stop_record: the line is gone, the engine closed the file", call.prefix)
        seconds = self.acd.clock() - active.started

        def closed() -> None:
            if active.rid is not None:
                callrec.close_recording(active.rid, self.acd.wall(), seconds)
        self.acd.submit(closed)
        log.info("%s recording %d stopped (%s) after %.1f s", call.prefix, active.n, by or "call end",
                 seconds)
        self.acd.events.emit("acd.call.recording", call_id=call.id, on=False, by=by)

    def call_over(self, call: QueuedCall) -> None:
        if call.id in self._active:
            self.stop(call, "")
        self._count.pop(call.id, None)
