"""ACD configuration and the small shared types: strategies, priorities, dispositions, the event bus.

The config comes from the ``[acd]`` section of the service's TOML (docs/acd.md); ``parse_config``
checks it and raises AcdConfigError naming the key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

from appliance.crm import events as bus
from appliance.ivr.registry import AllowList

log = logging.getLogger(__name__)

# Defaults (seconds unless named otherwise); module level so tests and docs can name them.
RING_TIMEOUT = 15.0          # ringing one offer before it counts as missed
WRAPUP_SECONDS = 10.0        # after-call work before the agent is offered calls again
NO_ANSWER_LIMIT = 2          # missed offers in a row before the agent is made not ready
MAX_WAIT = 120.0             # wait limit in a queue before the overflow target
MAX_LENGTH = 20              # callers waiting in one queue
ANNOUNCE_EVERY = 30.0        # position announcement interval
DEFAULT_AHT = 180.0          # handling time assumed for the estimated wait until calls are measured
NO_ANSWER_REASON = "no answer"
VOICEMAIL = "voicemail"
CALLBACK = "callback"
SURVEY_KEYS = "123"          # post-call survey: 1 satisfied, 2 so-so, 3 not satisfied (prompt "survey")


class AcdConfigError(ValueError):
    """The [acd] config section is malformed or inconsistent."""


class Strategy(Enum):
    RING_ALL = "ring_all"
    ROUND_ROBIN = "round_robin"
    LONGEST_IDLE = "longest_idle"
    FEWEST_CALLS = "fewest_calls"
    SKILLS = "skills"


class Priority(IntEnum):
    """Higher goes first; FIFO within one priority."""

    NORMAL = 0
    VIP = 1
    EMERGENCY = 2


class PhoneMode(Enum):
    RING = "ring"                # ring the handset; the agent picks up
    AUTO_ANSWER = "auto_answer"  # headset kept off-hook: a beep, then the caller is connected


class RecordMode(Enum):
    ALWAYS = "always"            # every call, after the recording notice
    NEVER = "never"
    ON_DEMAND = "on_demand"      # the agent starts and stops it from the desk (notice played then)


class Disposition(Enum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"      # the caller hung up before an agent answered
    OVERFLOW = "overflow"        # wait limit reached, no target to take it
    FULL = "full"                # the queue was full, no target to take it
    VOICEMAIL = "voicemail"      # overflowed to voicemail (recorded as a disposition for now)
    CALLBACK = "callback"        # overflowed to a callback request
    INTERRUPTED = "interrupted"  # the appliance stopped or restarted during the call


@dataclass(frozen=True)
class QueueConfig:
    name: str
    strategy: Strategy = Strategy.LONGEST_IDLE
    agents: tuple[str, ...] = ()           # members, in order (round robin follows it)
    skill: str = ""                        # skills strategy: the skill asked for; members are who has it
    min_level: int = 1
    max_length: int = MAX_LENGTH
    max_wait: float = MAX_WAIT
    overflow: str = ""                     # another queue's name, "voicemail", "callback" or ""
    ring_timeout: float = RING_TIMEOUT
    announce_every: float = ANNOUNCE_EVERY
    wrapup: float | None = None            # overrides the agent's / the default wrap-up
    record: RecordMode = RecordMode.ALWAYS
    announce_wait: bool = True             # with the position: "estimated wait about N minutes"
    survey: bool = False                   # ask the caller to rate the call after the agent hangs up


@dataclass(frozen=True)
class AgentConfig:
    id: str
    name: str = ""
    station: int | None = None             # FXS port logged in at first start
    mode: PhoneMode = PhoneMode.RING
    skills: Mapping[str, int] = field(default_factory=dict)
    wrapup: float | None = None
    user: str = ""                          # the web login of the person working as this agent
    leader: bool = False                    # team leader: listen / whisper / barge, force state
    record: RecordMode | None = None        # overrides the queue's recording mode


@dataclass(frozen=True)
class AcdConfig:
    queues: tuple[QueueConfig, ...]
    agents: tuple[AgentConfig, ...]
    default_queue: str
    wrapup: float = WRAPUP_SECONDS
    no_answer_limit: int = NO_ANSWER_LIMIT
    vip_callers: frozenset[str] = frozenset()
    emergency_dnis: frozenset[str] = frozenset()
    emergency_callers: frozenset[str] = frozenset()
    dial_allow: tuple[str, ...] = ()        # outside numbers agents may dial / transfer to (X wildcards)
    survey_keys: str = SURVEY_KEYS

    def queue(self, name: str) -> QueueConfig:
        for q in self.queues:
            if q.name == name:
                return q
        raise KeyError(name)

    def priority_of(self, caller: str, dnis: str = "") -> Priority:
        if (dnis and dnis in self.emergency_dnis) or caller in self.emergency_callers:
            return Priority.EMERGENCY
        if caller in self.vip_callers:
            return Priority.VIP
        return Priority.NORMAL


def _num(raw: Mapping[str, Any], key: str, where: str, default: float, lo: float = 0.0) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < lo:
        raise AcdConfigError(f"{where}.{key} must be a number >= {lo:g}")
    return float(value)


def _strs(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise AcdConfigError(f"{where}.{key} must be a list of strings")
    return tuple(str(v) for v in value)


def _bool(raw: Mapping[str, Any], key: str, where: str, default: bool = False) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise AcdConfigError(f"{where}.{key} must be true or false")
    return value


def _record(raw: Mapping[str, Any], where: str) -> RecordMode | None:
    if "record" not in raw:
        return None
    try:
        return RecordMode(str(raw["record"]))
    except ValueError:
        raise AcdConfigError(f"{where}.record must be always, never or on_demand") from None


def parse_config(raw: Mapping[str, Any]) -> AcdConfig | None:
    """The ACD config of a whole TOML document, or None when it has no queues and agents."""
    acd = raw.get("acd")
    if acd is None:
        return None
    if not isinstance(acd, dict):
        raise AcdConfigError("[acd] must be a table")
    rq, ra = acd.get("queues", []), acd.get("agents", [])
    if not isinstance(rq, list) or not isinstance(ra, list):
        raise AcdConfigError("acd.queues and acd.agents must be arrays of tables ([[acd.queues]])")
    if not rq or not ra:
        return None
    agents: list[AgentConfig] = []
    for i, a in enumerate(ra):
        where = f"acd.agents[{i}]"
        if not isinstance(a, dict) or not str(a.get("id", "")).strip():
            raise AcdConfigError(f"{where}.id is required")
        try:
            mode = PhoneMode(str(a.get("mode", "ring")))
        except ValueError:
            raise AcdConfigError(f"{where}.mode must be ring or auto_answer") from None
        skills = a.get("skills", {})
        if not isinstance(skills, dict) or not all(isinstance(v, int) for v in skills.values()):
            raise AcdConfigError(f"{where}.skills must be a table of skill = level (whole numbers)")
        station = a.get("station")
        if station is not None and (isinstance(station, bool) or not isinstance(station, int)):
            raise AcdConfigError(f"{where}.station must be a port number")
        agents.append(AgentConfig(
            id=str(a["id"]), name=str(a.get("name", "")), station=station, mode=mode,
            skills={str(k): int(v) for k, v in skills.items()},
            wrapup=_num(a, "wrapup", where, 0.0) if "wrapup" in a else None,
            user=str(a.get("user", "")).strip().lower(),
            leader=_bool(a, "leader", where),
            record=_record(a, where) if "record" in a else None))
    ids = [a.id for a in agents]
    if len(set(ids)) != len(ids):
        raise AcdConfigError("acd.agents: agent ids must be unique")
    logins = [a.user for a in agents if a.user]
    if len(set(logins)) != len(logins):
        raise AcdConfigError("acd.agents: a web user can be bound to one agent only")
    stations = [a.station for a in agents if a.station is not None]
    if len(set(stations)) != len(stations):
        raise AcdConfigError("acd.agents: two agents on one station")
    queues: list[QueueConfig] = []
    for i, q in enumerate(rq):
        where = f"acd.queues[{i}]"
        if not isinstance(q, dict) or not str(q.get("name", "")).strip():
            raise AcdConfigError(f"{where}.name is required")
        try:
            strategy = Strategy(str(q.get("strategy", "longest_idle")))
        except ValueError:
            choices = ", ".join(s.value for s in Strategy)
            raise AcdConfigError(f"{where}.strategy must be one of {choices}") from None
        members = _strs(q, "agents", where)
        unknown = [m for m in members if m not in ids]
        if unknown:
            raise AcdConfigError(f"{where}.agents: unknown agent(s) {', '.join(unknown)}")
        skill = str(q.get("skill", ""))
        if strategy is Strategy.SKILLS and not skill:
            raise AcdConfigError(f"{where}.skill is required with strategy = \"skills\"")
        queues.append(QueueConfig(
            name=str(q["name"]), strategy=strategy, agents=members, skill=skill,
            min_level=int(_num(q, "min_level", where, 1)),
            max_length=int(_num(q, "max_length", where, MAX_LENGTH, 1)),
            max_wait=_num(q, "max_wait", where, MAX_WAIT, 0.1),
            overflow=str(q.get("overflow", "")),
            ring_timeout=_num(q, "ring_timeout", where, RING_TIMEOUT, 0.5),
            announce_every=_num(q, "announce_every", where, ANNOUNCE_EVERY, 1.0),
            wrapup=_num(q, "wrapup", where, 0.0) if "wrapup" in q else None,
            record=_record(q, where) or RecordMode.ALWAYS, survey=_bool(q, "survey", where),
            announce_wait=_bool(q, "announce_wait", where, True)))
    names = [qc.name for qc in queues]
    if len(set(names)) != len(names):
        raise AcdConfigError("acd.queues: queue names must be unique")
    for qc in queues:
        if qc.overflow and qc.overflow not in (VOICEMAIL, CALLBACK) and qc.overflow not in names:
            raise AcdConfigError(
                f"queue {qc.name}: overflow {qc.overflow!r} is no queue, voicemail or callback")
        if qc.overflow == qc.name:
            raise AcdConfigError(f"queue {qc.name}: overflow to itself")
    default = str(acd.get("default_queue", names[0]))
    if default not in names:
        raise AcdConfigError(f"acd.default_queue {default!r} is not a queue")
    limit = int(_num(acd, "no_answer_limit", "acd", NO_ANSWER_LIMIT, 1))
    dial_allow = _strs(acd, "dial_allow", "acd")
    try:
        AllowList(dial_allow)
    except ValueError as exc:
        raise AcdConfigError(f"acd.dial_allow: {exc}") from None
    keys = str(acd.get("survey_keys", SURVEY_KEYS))
    if not keys or not all(k in "0123456789" for k in keys) or len(set(keys)) != len(keys):
        raise AcdConfigError("acd.survey_keys must be distinct digits, e.g. \"123\"")
    return AcdConfig(
        queues=tuple(queues), agents=tuple(agents), default_queue=default,
        wrapup=_num(acd, "wrapup", "acd", WRAPUP_SECONDS), no_answer_limit=limit,
        vip_callers=frozenset(_strs(acd, "vip_callers", "acd")),
        emergency_dnis=frozenset(_strs(acd, "emergency_dnis", "acd")),
        emergency_callers=frozenset(_strs(acd, "emergency_callers", "acd")),
        dial_allow=tuple(e.strip().upper() for e in dial_allow), survey_keys=keys)


Listener = Callable[..., None]


class EventBus:
    """In-process events of the ACD: ``subscribe(fn)``; ``fn(name, **data)`` on every ``emit``; every
    event is also published on the appliance's event bus (appliance/crm/events.py)."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def emit(self, name: str, **data: Any) -> None:
        for listener in list(self._listeners):
            try:
                listener(name, **data)
            except Exception:
                log.exception("ACD event listener failed on %s", name)
        bus.publish(name, data)     # the one event bus: the web's live views (screen pop, wallboard)
