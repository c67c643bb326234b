"""The in-process event bus: lower layers publish, the web's live views subscribe (DESIGN.md).

It lives in crm's layer so that the ACD and the IVR (which may import crm) can publish to it
without knowing the web. Events are ``(topic, data)`` with a JSON-able ``data`` dict, e.g.
``publish("call.offered", {"caller": "13812345678", "station": 3})``.

Publishing never blocks: each subscriber has a bounded gevent queue; a subscriber that lags
behind by more than ``QUEUE_LIMIT`` events loses the oldest ones (a browser's screen pop must not
hold up a call). Publish from the hub (any greenlet); from another OS thread use
``publish_threadsafe``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import gevent
import gevent.queue

log = logging.getLogger(__name__)

QUEUE_LIMIT = 256


@dataclass(frozen=True)
class Event:
    topic: str
    data: dict[str, Any] = field(default_factory=dict)


class Subscription:
    """One subscriber: ``get(timeout)`` returns the next event or None."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes
        self.queue: gevent.queue.Queue[Event] = gevent.queue.Queue(QUEUE_LIMIT)
        self.dropped = 0

    def wants(self, topic: str) -> bool:
        return not self.prefixes or any(topic.startswith(p) for p in self.prefixes)

    def put(self, event: Event) -> None:
        while True:
            try:
                self.queue.put_nowait(event)
                return
            except gevent.queue.Full:
                try:
                    self.queue.get_nowait()
                    self.dropped += 1
                except gevent.queue.Empty:
                    pass

    def get(self, timeout: float | None = None) -> Event | None:
        try:
            return self.queue.get(timeout=timeout)
        except gevent.queue.Empty:
            return None


_subscribers: list[Subscription] = []


def subscribe(*prefixes: str) -> Subscription:
    """A new subscription to topics starting with any of ``prefixes`` (none: every topic)."""
    sub = Subscription(tuple(prefixes))
    _subscribers.append(sub)
    return sub


def unsubscribe(sub: Subscription) -> None:
    if sub in _subscribers:
        _subscribers.remove(sub)


@contextmanager
def subscription(*prefixes: str) -> Iterator[Subscription]:
    sub = subscribe(*prefixes)
    try:
        yield sub
    finally:
        unsubscribe(sub)


def subscriber_count() -> int:
    return len(_subscribers)


def publish(topic: str, data: dict[str, Any] | None = None) -> int:
    """Deliver an event to every interested subscriber (never blocks); returns how many got it."""
    event = Event(str(topic), dict(data or {}))
    count = 0
    for sub in list(_subscribers):
        if sub.wants(event.topic):
            sub.put(event)
            count += 1
    log.debug("event %s to %d subscriber(s)", event.topic, count)
    return count


def publish_threadsafe(
    topic: str, data: dict[str, Any] | None = None, hub: gevent.hub.Hub | None = None
) -> None:
    """Publish from another OS thread: the event is handed to the hub's loop."""
    target = hub if hub is not None else _main_hub
    if target is None or threading.get_ident() == target.thread_ident:
        publish(topic, data)
        return
    target.loop.run_callback_threadsafe(publish, topic, data)


_main_hub: gevent.hub.Hub | None = None


def bind_hub(hub: gevent.hub.Hub | None = None) -> None:
    """Remember the hub that owns the bus (the web server does this when it starts)."""
    global _main_hub
    _main_hub = hub if hub is not None else gevent.get_hub()
