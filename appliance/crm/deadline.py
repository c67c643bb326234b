"""Work-order time limits at work: a reminder before the limit, escalation once it has passed.

``DeadlineWatch`` is a service object (its greenlets in a ``gevent.pool.Group``): every
``CHECK_INTERVAL`` seconds it asks ``workorder.remind_due(REMIND_SHARE)`` for open orders past 80 %
of their limit (one 'remind' step each, 临期提醒) and ``workorder.escalate_overdue()`` for orders past
it (one 'escalate' step each, 超时升级); both write the audit log on the database thread. Each order
is then published on the event bus (``ticket.reminder`` / ``ticket.escalated``, with its team), so
the desks, the technician's phone page and the wallboard show it at once, and handed to ``notify``
(the hook for an SMS to the team leader's mobile; the box has no SMS gateway yet).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import gevent
from gevent.pool import Group

from appliance.crm import events, workorder
from appliance.crm.workorder import WorkOrder

log = logging.getLogger(__name__)

CHECK_INTERVAL = 60.0          # seconds between two checks
REMIND_SHARE = 0.8             # remind when this share of the time limit has gone
STOP_GRACE = 2.0               # seconds a check in progress may finish at stop

Notify = Callable[[str, WorkOrder], None]


def _payload(order: WorkOrder) -> dict[str, object]:
    return {"id": order.id, "serial": order.serial, "title": order.title, "type": order.type,
            "type_name": workorder.TYPE_NAMES.get(order.type, order.type), "state": order.state.value,
            "team_id": order.team_id, "due_at": order.due_at}


class DeadlineWatch:
    def __init__(self, notify: Notify | None = None) -> None:
        self.notify = notify
        self.group = Group()
        self.checks = 0

    def start(self) -> None:
        g = self.group.spawn(self._run)
        g.link_exception(lambda g: log.error("deadline watch died: %r", g.exception))

    def stop(self) -> None:
        self.group.join(timeout=0)       # nothing to finish between two checks
        self.group.kill(timeout=STOP_GRACE)

    def _run(self) -> None:
        while True:
            try:
                self.check()
            except Exception:            # a database error must not end the watch: next time
                log.exception("work-order deadline check failed")
            gevent.sleep(CHECK_INTERVAL)

    def check(self) -> tuple[list[WorkOrder], list[WorkOrder]]:
        """One pass: (reminded, escalated) orders, each published and notified."""
        self.checks += 1
        reminded = workorder.remind_due(REMIND_SHARE)
        escalated = workorder.escalate_overdue()
        for topic, orders in (("ticket.reminder", reminded), ("ticket.escalated", escalated)):
            for order in orders:
                log.info("work order %s: %s (due %s)", order.serial, topic, order.due_at)
                events.publish(topic, _payload(order))
                if self.notify is not None:
                    self.notify(topic, order)
        return reminded, escalated
