"""The IVR's CRM lookups and sinks served by the real CRM service functions (appliance/crm/customer.py and
workorder.py): what the service registers, in place of the tests' in-memory fakes.

PIN checks go through crm's :class:`customer.PinSession` (argon2 hash, audit of every check, the
account locked after repeated failures across calls); the flow itself counts the failures of one
call (the default flow ends the call politely after three).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from appliance.crm import customer, messages, workorder
from appliance.crm.common import CrmError

from .registry import Registry
from .services import CustomerInfo, WorkOrderInfo

log = logging.getLogger(__name__)

# crm's status code (workorder.STATUS) -> what the IVR says (services.WORKORDER_STATUSES)
STATUS_OF_CODE = {1: "accepted", 2: "dispatched", 3: "in_progress", 4: "done", 5: "done", 6: "closed"}
PIN_CHECKS_PER_SESSION = 1_000_000      # the flow counts a call's failures; crm locks across calls


class CrmBinding:
    """:class:`services.CrmServices` on the appliance's database."""

    def __init__(self) -> None:
        self._pins = customer.PinSession(max_attempts=PIN_CHECKS_PER_SESSION)
        self._balances: dict[str, int] = {}      # account -> fen, from the PIN check just passed

    def customer_by_phone(self, phone: str) -> CustomerInfo | None:
        try:
            found = customer.find_by_phone(phone)
        except CrmError:
            return None                           # no usable number (withheld, garbage)
        if not found:
            return None
        c = found[0]
        return CustomerInfo(c.id, c.name, c.account_no)

    def verify_pin(self, account: str, pin: str) -> bool:
        check = self._pins.balance(account, pin)
        if check.ok and check.balance_fen is not None:
            self._balances[account] = check.balance_fen
            return True
        log.info("ivr: PIN check for an account refused (%s)", check.reason)
        return False

    def balance(self, account: str) -> Decimal | None:
        fen = self._balances.pop(account, None)
        return None if fen is None else Decimal(fen) / 100

    def workorder_by_serial(self, serial: str) -> WorkOrderInfo | None:
        code, _ = workorder.status_by_serial(serial)
        status = STATUS_OF_CODE.get(code)
        return None if status is None else WorkOrderInfo(serial, status)


def store_message(call: Any, item: dict[str, Any]) -> None:
    """The ``voicemail`` sink: a recorded message goes into the voicemail list (crm.messages)."""
    messages.add_message(str(item.get("call_id", "")), str(item.get("caller_id", "")),
                         str(item.get("kind", "voicemail")), int(item.get("duration_ms", 0)),
                         str(item.get("path", "")))


def store_rating(call: Any, item: dict[str, Any]) -> None:
    """The ``survey`` sink: the caller's rating, stored with the call (crm.messages)."""
    messages.add_rating(str(item.get("call_id", "")), str(item.get("caller_id", "")),
                        int(item.get("rating", -1)), str(item.get("question", "")))


def register_crm_sinks(registry: Registry) -> None:
    registry.register_sink("voicemail", store_message)
    registry.register_sink("survey", store_rating)
