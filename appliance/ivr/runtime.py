"""The IVR in the running appliance: the active flow, call handling, hot change, transfer, fallbacks.

:class:`IvrRuntime` keeps the active version of its flow in memory. A call takes the version that
is active when it arrives and keeps it to the end; ``activate()`` swaps in a new version for the
calls that arrive after (no call is dropped or switched mid-way). Only a flow the validator passes
is saved as valid, and only a valid version is activated (the database refuses the others too).

Until the ACD lands, the queue handler registered for every queue the runtime is told about is
``ring_stations``: ring the idle stations one after another and bridge the first that answers.
A transfer dials out on an idle analog trunk (only numbers on the allow-list reach this point)
and bridges the caller to it.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import gevent

from appliance.crm import flowstore
from appliance.voiceboard.board import Board
from appliance.voiceboard.channel import Channel, Play
from appliance.voiceboard.errors import CallError, ChannelBusy, Hangup, NoAnswer
from appliance.voiceboard.events import CidFormat, Kind, Tone
from appliance.voiceboard.prompts import PromptSet

from .flow import Flow, default_flow, parse_flow
from .interp import Call, CallResult
from .registry import REGISTRY, AllowList, Registry
from .validate import FlowInvalid, Problem, validate

log = logging.getLogger(__name__)

STATION_RING_TIMEOUT = 20.0     # seconds a station rings for a queued call
TRANSFER_ANSWER_TIMEOUT = 40.0  # seconds an external number may take to answer
RESULTS_KEPT = 500              # finished calls remembered (diagnostics, tests)
DEFAULT_QUEUES = ("agents",)

CallHandler = Callable[[Channel], None]
Transfer = Callable[[Call, str], bool]


class IvrRuntime:
    """Runs inbound trunk calls through the active flow ``flow_id``."""

    def __init__(self, board: Board, prompts: PromptSet, data_dir: Path, *, flow_id: str = "default",
                 registry: Registry | None = None, allow: Iterable[str] = (),
                 clock: Callable[[], _dt.datetime] = _dt.datetime.now, fallback: CallHandler | None = None,
                 queues: Iterable[str] = DEFAULT_QUEUES, transfer: Transfer | None = None) -> None:
        self.board = board
        self.prompts = prompts
        self.flow_id = flow_id
        self.registry = registry if registry is not None else REGISTRY
        self.allow = AllowList(allow)
        self.clock = clock
        self.fallback = fallback
        self.recordings = Path(data_dir) / "voicemail"
        self.transfer: Transfer = transfer or self.dial_out
        self.active: Flow | None = None
        self.active_calls: dict[str, Call] = {}
        self.results: deque[CallResult] = deque(maxlen=RESULTS_KEPT)
        self.messages: deque[dict[str, Any]] = deque(maxlen=RESULTS_KEPT)
        self._seq = itertools.count(1)
        for name in queues:
            self.registry.queues.setdefault(name, self.ring_stations)
        self.registry.sinks.setdefault("voicemail", self._keep)
        self.registry.sinks.setdefault("survey", self._keep)

    # ---- flows ------------------------------------------------------------------------------------
    def problems(self, flow: Flow) -> list[Problem]:
        return validate(flow, set(self.prompts.names), self.registry, self.allow)

    def save(self, body: str | dict[str, Any], by: str = "system") -> tuple[int, list[Problem]]:
        """Store a new version of this runtime's flow (valid or not); (version, problems)."""
        flow = parse_flow(json.dumps(body, ensure_ascii=False) if isinstance(body, dict) else body)
        if flow.id != self.flow_id:
            flow = Flow(self.flow_id, flow.version, flow.start, flow.nodes, flow.description, flow.raw)
        problems = self.problems(flow)
        version = flowstore.save_version(self.flow_id, flow.to_json(), valid=not problems,
                                         problems=[str(p) for p in problems], created_by=by)
        return version, problems

    def activate(self, version: int, by: str = "system") -> Flow:
        """Make ``version`` active for new calls; FlowInvalid (nothing changed) if it has problems."""
        stored = flowstore.get_version(self.flow_id, version)
        if stored is None:
            raise flowstore.FlowStoreError(f"流程 {self.flow_id} 没有版本 {version}")
        flow = parse_flow(stored.body).with_version(version)
        problems = self.problems(flow)
        if problems or not stored.valid:
            raise FlowInvalid(problems or [Problem("", "stored_invalid", "保存时未通过校验")])
        flowstore.activate_version(self.flow_id, version, activated_by=by)
        self.active = flow
        log.warning("ivr: flow %s active for new calls (%d calls continue on their versions)", flow.label,
                    len(self.active_calls))
        return flow

    def load(self) -> Flow:
        """The active flow from the database; the shipped default flow saved and activated if none."""
        stored = flowstore.get_active(self.flow_id)
        if stored is not None:
            flow = parse_flow(stored.body).with_version(stored.version)
            problems = self.problems(flow)
            if not problems:
                self.active = flow
                log.info("ivr: active flow %s", flow.label)
                return flow
            log.error("ivr: active flow %s no longer validates (%s); using the shipped default",
                      flow.label, "; ".join(map(str, problems[:3])))
        version, problems = self.save(default_flow().to_json(), by="firmware")
        if problems:
            log.error("ivr: the shipped default flow has problems: %s", "; ".join(map(str, problems)))
            raise FlowInvalid(problems)
        return self.activate(version, by="firmware")

    # ---- calls ------------------------------------------------------------------------------------
    def handle(self, ch: Channel) -> None:
        """Board call handler: trunk calls run the flow; station off-hooks go to the fallback."""
        flow = self.active
        if ch.kind is Kind.FXS or flow is None:
            if self.fallback is not None:
                self.fallback(ch)
            return
        call_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{ch.index}-{next(self._seq)}"
        call = Call(self, flow, ch, call_id)
        self.active_calls[call_id] = call
        try:
            self.results.append(call.run())
        finally:
            self.active_calls.pop(call_id, None)

    def _keep(self, call: Call, item: dict[str, Any]) -> None:
        """Default sink: remember the item (the crm's voicemail/survey services will take over)."""
        self.messages.append(item)
        log.info("%s stored %s", call.prefix, item.get("kind"))

    # ---- people -----------------------------------------------------------------------------------
    def ring_stations(self, call: Call, queue: str) -> bool:
        """Fallback queue: ring idle stations in turn, bridge the first that answers, stay to the end."""
        trunk = call.channel
        trunk.start_play([Play.cptone(Tone.RINGBACK)])
        station: Channel | None = None
        ringing: Channel | None = None
        try:
            for candidate in list(self.board.idle(Kind.FXS)):
                candidate.claim()
                ringing = candidate
                try:
                    candidate.ring(trunk.caller_id, cid_format=trunk.cid_format or CidFormat.FSK,
                                   timeout=STATION_RING_TIMEOUT)
                    station, ringing = candidate, None
                    break
                except (NoAnswer, ChannelBusy) as exc:
                    log.info("%s queue %s: station %d: %s", call.prefix, queue, candidate.index, exc)
                    candidate.release("not answered")
                    ringing = None
                    gevent.sleep(0)
                if trunk.state.value in ("clearing", "down"):
                    raise Hangup("caller gone while stations rang")
            trunk.stop_play()
            if station is None:
                return False
            trunk.bridge(station)
            log.info("%s queue %s: bridged to station %d", call.prefix, queue, station.index)
            trunk.wait_hangup()
            return True
        finally:
            for ch in (station, ringing):      # ringing: the caller hung up while a station rang
                if ch is not None:
                    ch.release("call ended")

    def dial_out(self, call: Call, number: str) -> bool:
        """Transfer: dial ``number`` on an idle analog trunk and bridge the caller to it."""
        trunk = call.channel
        # Seize from the top of the trunk group: the exchange hunts incoming calls from the bottom, so
        # the two meet (glare: our seizure and a new ring on the same line) only when nearly all are busy.
        out = next((c for c in reversed(list(self.board.idle(Kind.FXO))) if c is not trunk), None)
        if out is None:
            log.warning("%s transfer to %s: no free trunk", call.prefix, number)
            return False
        out.claim()
        trunk.start_play([Play.cptone(Tone.RINGBACK)])
        try:
            try:
                out.dial(number, timeout=TRANSFER_ANSWER_TIMEOUT)
            except Hangup:
                if trunk.state.value in ("clearing", "down"):
                    raise
                log.info("%s transfer to %s: the outgoing line went down", call.prefix, number)
                return False
            except CallError as exc:
                log.info("%s transfer to %s failed: %s", call.prefix, number, exc)
                return False
            trunk.stop_play()
            trunk.bridge(out)
            log.info("%s transfer: bridged to %s on line %d", call.prefix, number, out.index)
            trunk.wait_hangup()
            return True
        finally:
            trunk.stop_play()
            out.release("transfer ended")
