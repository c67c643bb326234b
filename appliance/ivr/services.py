"""The CRM lookups of the IVR: customer_by_phone, balance, workorder_status.

The IVR meets the CRM only through service functions (DESIGN.md). :class:`CrmServices` is the
interface it needs; bind it to the real ones (appliance/crm/customer.py, workorder.py) with
:class:`FunctionServices`, or give the tests an in-memory fake. ``register_crm_lookups`` turns it
into the three lookups a flow calls by name:

``customer_by_phone``  args ``phone``             -> ``customer_id``, ``customer_name``, ``account``
``balance``            args ``account``, ``pin``  -> ``balance`` (yuan, a decimal string)
``workorder_status``   args ``serial``            -> ``status`` (one of WORKORDER_STATUSES), ``serial``

Each returns None ("not found") when there is no such record; ``balance`` also when the PIN is
wrong, so that a caller cannot tell an unknown account from a wrong PIN. The flow counts the
failures (the default flow ends the call politely after three).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from .registry import Registry

log = logging.getLogger(__name__)

WORKORDER_STATUSES = ("accepted", "dispatched", "in_progress", "done", "closed")


@dataclass(frozen=True)
class CustomerInfo:
    id: int
    name: str
    account: str


@dataclass(frozen=True)
class WorkOrderInfo:
    serial: str
    status: str          # one of WORKORDER_STATUSES (anything else is said as "ask an agent")


class CrmServices(Protocol):
    def customer_by_phone(self, phone: str) -> CustomerInfo | None: ...

    def verify_pin(self, account: str, pin: str) -> bool: ...

    def balance(self, account: str) -> Decimal | None: ...

    def workorder_by_serial(self, serial: str) -> WorkOrderInfo | None: ...


@dataclass
class FunctionServices:
    """CrmServices made of four plain functions (the crm layer's service functions)."""

    customer_by_phone_fn: Callable[[str], CustomerInfo | None]
    verify_pin_fn: Callable[[str, str], bool]
    balance_fn: Callable[[str], Decimal | None]
    workorder_fn: Callable[[str], WorkOrderInfo | None]

    def customer_by_phone(self, phone: str) -> CustomerInfo | None:
        return self.customer_by_phone_fn(phone)

    def verify_pin(self, account: str, pin: str) -> bool:
        return self.verify_pin_fn(account, pin)

    def balance(self, account: str) -> Decimal | None:
        return self.balance_fn(account)

    def workorder_by_serial(self, serial: str) -> WorkOrderInfo | None:
        return self.workorder_fn(serial)


def make_lookups(crm: CrmServices) -> dict[str, Callable[[dict[str, str]], Mapping[str, Any] | None]]:
    def customer_by_phone(args: dict[str, str]) -> Mapping[str, Any] | None:
        phone = args.get("phone", "")
        if not phone:
            return None
        c = crm.customer_by_phone(phone)
        if c is None:
            return None
        return {"customer_id": c.id, "customer_name": c.name, "account": c.account}

    def balance(args: dict[str, str]) -> Mapping[str, Any] | None:
        account, pin = args.get("account", ""), args.get("pin", "")
        if not account or not pin or not crm.verify_pin(account, pin):
            return None
        amount = crm.balance(account)
        if amount is None:
            return None
        return {"balance": str(amount)}

    def workorder_status(args: dict[str, str]) -> Mapping[str, Any] | None:
        serial = args.get("serial", "")
        if not serial:
            return None
        wo = crm.workorder_by_serial(serial)
        if wo is None:
            return None
        status = wo.status if wo.status in WORKORDER_STATUSES else "other"
        return {"status": status, "serial": wo.serial}

    return {"customer_by_phone": customer_by_phone, "balance": balance, "workorder_status": workorder_status}


def register_crm_lookups(registry: Registry, crm: CrmServices) -> None:
    """Register the three CRM lookups in ``registry``, served by ``crm``."""
    for name, fn in make_lookups(crm).items():
        registry.register_lookup(name, fn)


class NoCrm:
    """CrmServices of a box whose CRM services are not wired yet: nothing is ever found."""

    def customer_by_phone(self, phone: str) -> CustomerInfo | None:
        return None

    def verify_pin(self, account: str, pin: str) -> bool:
        return False

    def balance(self, account: str) -> Decimal | None:
        return None

    def workorder_by_serial(self, serial: str) -> WorkOrderInfo | None:
        return None
