"""The flow interpreter: runs one call through a flow on a Channel.

A :class:`Call` answers, walks the nodes from ``start``, and ends at a hangup node, when a queue
or transfer served the caller, or when the caller hangs up (``Hangup`` from the channel ends the
walk cleanly, wherever it is). It never crashes the call over the flow: a missing prompt is logged
and skipped, a failed lookup takes the node's ``on_error`` exit, a node visited too often (a loop
the caller does not leave) ends the call politely. Every log line carries the call's prefix.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import gevent

from appliance.voiceboard.channel import Channel, Play
from appliance.voiceboard.errors import CallError, Hangup
from appliance.voiceboard.events import Kind, RecordReason

from .flow import Flow, prompt_list, render
from .saynum import SayError, say
from .validate import DEFAULT_SINKS, WEEKDAYS

if TYPE_CHECKING:
    from .runtime import IvrRuntime

log = logging.getLogger(__name__)

MENU_TIMEOUT = 5.0          # seconds for a menu key after the prompt
INPUT_TIMEOUT = 6.0         # seconds for the first digit of an input
INPUT_INTERDIGIT = 4.0      # seconds between digits of an input
LOOKUP_TIMEOUT = 5.0        # seconds a lookup may take before on_error
SURVEY_TIMEOUT = 5.0        # seconds for the rating key
RECORD_MAX_S = 60.0         # default longest message
RECORD_SILENCE_S = 5.0      # default silence that ends a message
MAX_NODE_VISITS = 12        # one node visited more often in a call: the call ends politely
MAX_STEPS = 300             # nodes walked in one call at most
PLAY_CHUNK = 32             # items per engine play (VB_PLAY_MAX_ITEMS)

_SECRET_RE = re.compile(r"pin|pass|secret", re.IGNORECASE)
END_PROMPTS = ("goodbye",)


@dataclass
class CallResult:
    call_id: str
    flow: str                     # id@vN the call ran on
    path: list[str] = field(default_factory=list)
    outcome: str = ""             # hangup | served | caller_hangup | limit | error
    ended_at: str = ""            # node id where it ended


class Call:
    """One call on one flow version (fixed for the whole call: hot changes affect new calls only)."""

    def __init__(self, runtime: IvrRuntime, flow: Flow, channel: Channel, call_id: str) -> None:
        self.runtime = runtime
        self.flow = flow
        self.channel = channel
        self.call_id = call_id
        self.prefix = f"[ivr {call_id} {flow.label}]"
        self.vars: dict[str, Any] = {
            "caller_id": channel.caller_id, "call_id": call_id, "line": str(channel.index),
        }
        self.result = CallResult(call_id, flow.label)
        self._visits: dict[str, int] = {}
        self._missing_logged: set[str] = set()
        self.node_id = ""

    # ---- the walk ---------------------------------------------------------------------------------
    def run(self) -> CallResult:
        ch = self.channel
        log.info("%s start on %s, caller %s", self.prefix, ch.prefix, ch.caller_id or "unknown")
        try:
            ch.claim()
            ch.answer()
            self._walk()
        except Hangup as exc:
            self.result.outcome = "caller_hangup"
            log.info("%s caller hung up at %s (%s)", self.prefix, self.node_id, exc.cause)
        except CallError as exc:
            self.result.outcome = "error"
            log.warning("%s call failed at %s: %s", self.prefix, self.node_id, exc)
        except Exception:
            self.result.outcome = "error"
            log.exception("%s interpreter error at node %s", self.prefix, self.node_id)
        finally:
            self.result.ended_at = self.node_id
            ch.release("ivr call ended")
        log.info("%s end: %s at %s after %d nodes", self.prefix, self.result.outcome, self.node_id,
                 len(self.result.path))
        return self.result

    def _walk(self) -> None:
        next_id: str | None = self.flow.start
        while next_id:
            if len(self.result.path) >= MAX_STEPS or self._visits.get(next_id, 0) >= MAX_NODE_VISITS:
                log.warning("%s node %s visited too often: ending the call", self.prefix, next_id)
                self.result.outcome = "limit"
                self.play(END_PROMPTS, barge_in=False)
                return
            if self.channel.state.value in ("clearing", "down"):
                # the caller left while a node did not touch his line (a transfer finding no free
                # trunk, stations ringing): stop here, not after the node-visit limit
                raise Hangup("caller gone")
            node = self.flow.nodes.get(next_id)
            if node is None:
                log.error("%s no node %r in the flow: ending the call", self.prefix, next_id)
                self.result.outcome = "error"
                self.play(END_PROMPTS, barge_in=False)
                return
            self.node_id = next_id
            self._visits[next_id] = self._visits.get(next_id, 0) + 1
            self.result.path.append(next_id)
            ntype = str(node.get("type"))
            log.debug("%s node %s (%s)", self.prefix, next_id, ntype)
            handler: Callable[[Mapping[str, Any]], str | None] | None = getattr(self, f"node_{ntype}", None)
            if handler is None:
                log.error("%s node %s has unknown type %r: ending the call", self.prefix, next_id, ntype)
                self.result.outcome = "error"
                self.play(END_PROMPTS, barge_in=False)
                return
            next_id = handler(node)
        if not self.result.outcome:
            self.result.outcome = "hangup"

    # ---- helpers ----------------------------------------------------------------------------------
    def _prompt_paths(self, names: list[str]) -> list[Play | str]:
        items: list[Play | str] = []
        for raw in names:
            name = render(raw, self.vars)
            path = self.runtime.prompts.path(name) if name in self.runtime.prompts else None
            if path is None:
                if name not in self._missing_logged:
                    self._missing_logged.add(name)
                    log.warning("%s node %s: prompt %r missing from the prompt set, skipped",
                                self.prefix, self.node_id, name)
                continue
            items.append(path)
        return items

    def play(self, names: list[str] | tuple[str, ...], barge_in: bool = True) -> bool:
        """Play prompts by name; True if the caller barged in with a key."""
        items = self._prompt_paths(list(names))
        for start in range(0, len(items), PLAY_CHUNK):
            res = self.channel.play(items[start:start + PLAY_CHUNK], barge_in=barge_in)
            if res.digit:
                return True
        return False

    def _show(self, name: str, value: Any) -> str:
        return "***" if _SECRET_RE.search(name) else repr(value)

    def _number(self, node: Mapping[str, Any], key: str, default: float) -> float:
        value = node.get(key, default)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default

    # ---- node types -------------------------------------------------------------------------------
    def node_play(self, node: Mapping[str, Any]) -> str | None:
        self.play(prompt_list(node.get("prompts")), barge_in=bool(node.get("barge_in", True)))
        return str(node["next"])

    def node_hangup(self, node: Mapping[str, Any]) -> str | None:
        self.play(prompt_list(node.get("prompts", list(END_PROMPTS))), barge_in=False)
        self.result.outcome = "hangup"
        return None

    def node_menu(self, node: Mapping[str, Any]) -> str | None:
        options: Mapping[str, str] = node.get("options", {})
        retries = int(self._number(node, "retries", 2))
        timeout = self._number(node, "timeout", MENU_TIMEOUT)
        invalid = prompt_list(node.get("invalid_prompt", "invalid"))
        silent = prompt_list(node.get("timeout_prompt", "timeout"))
        for attempt in range(retries + 1):
            self.play(prompt_list(node.get("prompt")), barge_in=True)
            key = self.channel.collect_digits(1, timeout=timeout, terminators="")
            if key in options:
                log.info("%s menu %s: key %s", self.prefix, self.node_id, key)
                if isinstance(node.get("var"), str):
                    self.vars[node["var"]] = key
                return str(options[key])
            log.info("%s menu %s: %s (attempt %d of %d)", self.prefix, self.node_id,
                     f"invalid key {key}" if key else "no key", attempt + 1, retries + 1)
            self.channel.flush_digits()
            self.play(invalid if key else silent, barge_in=attempt < retries)
        return str(node["on_fail"])

    def node_input(self, node: Mapping[str, Any]) -> str | None:
        var = str(node["var"])
        low, high = int(node.get("min_length", 1)), int(node["max_length"])
        term = str(node.get("terminator", "#"))
        retries = int(self._number(node, "retries", 2))
        timeout = self._number(node, "timeout", INPUT_TIMEOUT)
        interdigit = self._number(node, "interdigit", INPUT_INTERDIGIT)
        invalid = prompt_list(node.get("invalid_prompt", "invalid"))
        silent = prompt_list(node.get("timeout_prompt", "timeout"))
        for attempt in range(retries + 1):
            self.play(prompt_list(node.get("prompt")), barge_in=True)
            got = self.channel.collect_digits(high + (1 if term else 0), timeout=timeout,
                                              interdigit=interdigit, terminators=term)
            if low <= len(got) <= high and got.isdigit():
                self.vars[var] = got
                log.info("%s input %s: %s = %s", self.prefix, self.node_id, var, self._show(var, got))
                return str(node["next"])
            log.info("%s input %s: %s (attempt %d of %d)", self.prefix, self.node_id,
                     f"{len(got)} digits refused" if got else "nothing", attempt + 1, retries + 1)
            self.channel.flush_digits()
            self.play(invalid if got else silent, barge_in=attempt < retries)
        return str(node["on_fail"])

    def node_say(self, node: Mapping[str, Any]) -> str | None:
        if "var" in node:
            value: Any = self.vars.get(str(node["var"]), "")
        else:
            value = node.get("value", "")
            value = render(value, self.vars) if isinstance(value, str) else value
        try:
            fragments = say(str(node.get("kind")), value)
        except SayError as exc:
            log.warning("%s say %s: %s; not said", self.prefix, self.node_id, exc)
            fragments = []
        names = [*prompt_list(node.get("before")), *fragments, *prompt_list(node.get("after"))]
        self.play(names, barge_in=bool(node.get("barge_in", False)))
        return str(node["next"])

    def node_lookup(self, node: Mapping[str, Any]) -> str | None:
        name = str(node.get("function"))
        fn = self.runtime.registry.lookups.get(name)
        args_spec: Mapping[str, Any] = node.get("args", {})
        args = {str(k): render(str(v), self.vars) for k, v in args_spec.items()}
        if fn is None:
            log.error("%s lookup %s: function %r not registered", self.prefix, self.node_id, name)
            return str(node["on_error"])
        try:
            with gevent.Timeout(self._number(node, "timeout", LOOKUP_TIMEOUT)):
                found = fn(args)
        except gevent.Timeout:
            log.warning("%s lookup %s (%s) timed out", self.prefix, self.node_id, name)
            return str(node["on_error"])
        except Hangup:
            raise
        except Exception:
            log.exception("%s lookup %s (%s, args %s) failed", self.prefix, self.node_id, name, sorted(args))
            return str(node["on_error"])
        if found is None:
            log.info("%s lookup %s (%s): not found", self.prefix, self.node_id, name)
            return str(node["on_not_found"])
        mapping: Mapping[str, str] = node.get("result", {}) or {k: k for k in found}
        for var, key in mapping.items():
            self.vars[str(var)] = found.get(str(key), "")
        log.info("%s lookup %s (%s): found %s", self.prefix, self.node_id, name, sorted(mapping))
        return str(node["next"])

    def node_branch(self, node: Mapping[str, Any]) -> str | None:
        for cond in node.get("conditions", []):
            if _holds(cond, self.vars):
                return str(cond["next"])
        return str(node["default"])

    def node_set(self, node: Mapping[str, Any]) -> str | None:
        for key, value in dict(node.get("vars", {})).items():
            self.vars[str(key)] = render(value, self.vars) if isinstance(value, str) else value
        for key, amount in dict(node.get("add", {})).items():
            try:
                current = int(str(self.vars.get(str(key), 0) or 0))
            except ValueError:
                current = 0
            self.vars[str(key)] = current + int(amount)
        return str(node["next"])

    def node_schedule(self, node: Mapping[str, Any]) -> str | None:
        now = self.runtime.clock()
        is_open = schedule_open(node, now)
        log.info("%s schedule %s at %s: %s", self.prefix, self.node_id, now.strftime("%a %Y-%m-%d %H:%M"),
                 "open" if is_open else "closed")
        return str(node["open" if is_open else "closed"])

    def node_queue(self, node: Mapping[str, Any]) -> str | None:
        name = str(node.get("queue"))
        handler = self.runtime.registry.queues.get(name)
        self.play(prompt_list(node.get("prompt")), barge_in=False)
        if handler is None:
            log.error("%s queue %s: no handler for queue %r", self.prefix, self.node_id, name)
            return str(node["on_fail"])
        if handler(self, name):
            log.info("%s queue %s: served by queue %s", self.prefix, self.node_id, name)
            self.result.outcome = "served"
            return None
        log.info("%s queue %s: queue %s could not take the call", self.prefix, self.node_id, name)
        return str(node["on_fail"])

    def node_transfer(self, node: Mapping[str, Any]) -> str | None:
        number = render(str(node.get("number", "")), self.vars)
        if not self.runtime.allow.allows(number):
            log.warning("%s transfer %s: %r is not on the allow-list, refused", self.prefix, self.node_id,
                        number)
            return str(node["on_refused"])
        self.play(prompt_list(node.get("prompt", "transfer")), barge_in=False)
        log.info("%s transfer %s: dialling %s", self.prefix, self.node_id, number)
        if self.runtime.transfer(self, number):
            self.result.outcome = "served"
            return None
        log.info("%s transfer %s: %s not reached", self.prefix, self.node_id, number)
        return str(node["on_fail"])

    def node_record(self, node: Mapping[str, Any]) -> str | None:
        sink_name = str(node.get("sink", DEFAULT_SINKS["record"]))
        kind = str(node.get("kind", "voicemail"))
        self.play(prompt_list(node.get("prompt", "leave_message")), barge_in=False)
        self.channel.flush_digits()
        day = self.runtime.recordings / _dt.date.today().isoformat()
        day.mkdir(parents=True, exist_ok=True)
        path = day / f"{self.call_id}-{kind}-{self.node_id}.wav"
        res = self.channel.record(path, max_s=self._number(node, "max_s", RECORD_MAX_S),
                                  silence_s=self._number(node, "silence_s", RECORD_SILENCE_S),
                                  beep=bool(node.get("beep", True)))
        log.info("%s record %s: %d ms (%s) to %s", self.prefix, self.node_id, res.duration_ms,
                 res.reason.name, path)
        if res.reason is not RecordReason.ERROR and res.duration_ms > 0:
            self._store(sink_name, {"kind": kind, "path": str(path), "duration_ms": res.duration_ms,
                                    "reason": res.reason.name.lower()})
        return str(node["next"])

    def node_survey(self, node: Mapping[str, Any]) -> str | None:
        keys = str(node.get("keys", "123"))
        retries = int(self._number(node, "retries", 1))
        for attempt in range(retries + 1):
            self.play(prompt_list(node.get("prompt")), barge_in=True)
            key = self.channel.collect_digits(1, timeout=self._number(node, "timeout", SURVEY_TIMEOUT),
                                              terminators="")
            if key and key in keys:
                log.info("%s survey %s: rating %s", self.prefix, self.node_id, key)
                self._store(str(node.get("sink", DEFAULT_SINKS["survey"])),
                            {"kind": "survey", "rating": int(key), "question": self.node_id})
                self.play(prompt_list(node.get("thanks_prompt", "thanks")), barge_in=True)
                return str(node["next"])
            self.channel.flush_digits()
            if key and attempt < retries:
                self.play(prompt_list(node.get("invalid_prompt", "invalid")), barge_in=True)
        log.info("%s survey %s: no rating", self.prefix, self.node_id)
        return str(node["next"])

    def _store(self, sink_name: str, item: dict[str, Any]) -> None:
        sink = self.runtime.registry.sinks.get(sink_name)
        if sink is None:
            log.error("%s sink %r not registered: %s lost", self.prefix, sink_name, item.get("kind"))
            return
        item.setdefault("call_id", self.call_id)
        item.setdefault("caller_id", self.channel.caller_id)
        item.setdefault("flow", self.flow.label)
        try:
            sink(self, item)
        except Exception:
            log.exception("%s sink %s failed for %s", self.prefix, sink_name, item.get("kind"))

    @property
    def is_trunk(self) -> bool:
        return self.channel.kind in (Kind.FXO, Kind.E1)


# ---- conditions and schedules ---------------------------------------------------------------------


def _as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def _holds(cond: Mapping[str, Any], variables: Mapping[str, Any]) -> bool:
    op = cond.get("op", "eq")
    value = variables.get(str(cond.get("var")), "")
    if op == "empty":
        return value in ("", None)
    if op == "not_empty":
        return value not in ("", None)
    target = cond.get("value", "")
    if op == "in":
        return isinstance(target, list) and str(value) in [str(t) for t in target]
    a, b = _as_number(value), _as_number(target)
    if a is not None and b is not None:
        left: Any = a
        right: Any = b
    else:
        left, right = str(value), str(target)
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    try:
        return bool({"lt": left < right, "le": left <= right, "gt": left > right, "ge": left >= right}[op])
    except (KeyError, TypeError):
        return False


def schedule_open(node: Mapping[str, Any], now: _dt.datetime) -> bool:
    """Is a schedule node open at ``now``: holidays closed, special days their own hours, else weekday."""
    date = now.date().isoformat()
    hhmm = now.strftime("%H:%M")
    if date in node.get("holidays", []):
        return False
    special = node.get("special_days", {})
    if date in special:
        spans = special[date]
    else:
        spans = node.get("hours", {}).get(WEEKDAYS[now.weekday()], [])
    return any(start <= hhmm < end for start, end in spans)
