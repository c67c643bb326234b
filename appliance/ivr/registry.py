"""What a flow may call by name: lookups, queues, sinks; and the transfer allow-list.

- A *lookup* is ``fn(args: dict[str, str]) -> dict[str, object] | None``: the values it found
  (the lookup node copies them into call variables), ``None`` for "not found"; an exception is
  "error". It runs in the call's greenlet, so it must not block the hub (CRM service functions
  run their queries on the database thread).
- A *queue handler* is ``fn(call, queue_name) -> bool``: it hands the call to people and returns
  True when the call was served (the flow then ends), False when nobody could take it (the node's
  ``on_fail`` exit). Until the ACD lands, the runtime registers a fallback that rings a station.
- A *sink* stores what a caller left: ``fn(call, item: dict) -> None``; record nodes give it
  ``{"kind", "path", "duration_ms", "reason"}``, survey nodes ``{"kind": "survey", "rating", ...}``.
- The *transfer allow-list*: a transfer node dials out only to a number that matches an entry
  (toll-fraud guard). An entry is digits, optionally ending in ``X`` wildcards, one per digit
  (``"95001"``, ``"0571888800XX"``); nothing else matches, so an empty list allows no transfer.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

LookupFn = Callable[[dict[str, str]], "Mapping[str, Any] | None"]
QueueHandler = Callable[[Any, str], bool]
Sink = Callable[[Any, dict[str, Any]], None]

_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ALLOW_RE = re.compile(r"[0-9]+X*|X+")


@dataclass
class Registry:
    lookups: dict[str, LookupFn] = field(default_factory=dict)
    queues: dict[str, QueueHandler] = field(default_factory=dict)
    sinks: dict[str, Sink] = field(default_factory=dict)

    def register_lookup(self, name: str, fn: LookupFn) -> None:
        _check_name(name)
        self.lookups[name] = fn

    def register_queue(self, name: str, handler: QueueHandler) -> None:
        _check_name(name)
        self.queues[name] = handler

    def register_sink(self, name: str, sink: Sink) -> None:
        _check_name(name)
        self.sinks[name] = sink

    def copy(self) -> Registry:
        return Registry(dict(self.lookups), dict(self.queues), dict(self.sinks))


def _check_name(name: str) -> None:
    if not _NAME_RE.fullmatch(name):
        raise ValueError(f"bad registry name {name!r} (want [a-z][a-z0-9_]*)")


REGISTRY = Registry()


def register_lookup(name: str, fn: LookupFn) -> None:
    """Register a lookup in the process-wide registry (what the service's IVR uses)."""
    REGISTRY.register_lookup(name, fn)


def register_queue(name: str, handler: QueueHandler) -> None:
    REGISTRY.register_queue(name, handler)


def register_sink(name: str, sink: Sink) -> None:
    REGISTRY.register_sink(name, sink)


class AllowList:
    """Numbers a transfer may dial (see module doc)."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.entries: tuple[str, ...] = ()
        good = []
        for raw in entries:
            entry = str(raw).strip().upper()
            if not _ALLOW_RE.fullmatch(entry):
                raise ValueError(f"bad transfer allow-list entry {raw!r} (digits, then X wildcards)")
            good.append(entry)
        self.entries = tuple(good)

    def allows(self, number: str) -> bool:
        if not number or not number.isascii() or not number.isdigit():
            return False
        for entry in self.entries:
            if len(entry) == len(number) and all(e in ("X", n) for e, n in zip(entry, number, strict=True)):
                return True
        return False

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __repr__(self) -> str:
        return f"AllowList({list(self.entries)!r})"
