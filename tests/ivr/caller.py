"""A scripted caller on the exchange side of the simulated board, and the site the IVR answers on.

The caller rings one of our trunks, listens (the test prompt set is DTMF-coded: the exchange port's
own detector hears which prompts played) and presses keys. ``IvrSite`` is our board with the IVR
as call handler, its far side (exchange ports that note every number our trunks dial and answer
it, phones that pick up), an in-memory CRM and the transfer allow-list.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import gevent

from appliance.ivr.registry import Registry
from appliance.ivr.runtime import IvrRuntime
from appliance.ivr.services import CustomerInfo, WorkOrderInfo, register_crm_lookups
from appliance.voiceboard.channel import Channel, ChannelState
from appliance.voiceboard.events import CidFormat, Kind
from appliance.voiceboard.prompts import PromptSet, decode_heard
from appliance.voiceboard.sim import SimulatedSite, exchange_hangup, exchange_line, phone_autoanswer, ring_in

ALLOW = ("95001", "95002")
PRESS_PAUSE = 0.25          # seconds between hearing a prompt end and pressing a key


def wait_for(cond: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while not cond():
            gevent.sleep(0.02)


class FakeCrm:
    """CrmServices in memory: account 12345678 (PIN 1234) owes nothing and has 123.45 yuan."""

    def __init__(self) -> None:
        self.customers = {"13800138000": CustomerInfo(1, "张三", "12345678")}
        self.pins = {"12345678": "1234", "87654321": "4321"}
        self.balances = {"12345678": Decimal("123.45"), "87654321": Decimal("100.00")}
        self.workorders = {"202612010001": WorkOrderInfo("202612010001", "dispatched"),
                           "202612010002": WorkOrderInfo("202612010002", "done")}
        self.calls: list[tuple[str, str]] = []

    def customer_by_phone(self, phone: str) -> CustomerInfo | None:
        self.calls.append(("customer_by_phone", phone))
        return self.customers.get(phone)

    def verify_pin(self, account: str, pin: str) -> bool:
        self.calls.append(("verify_pin", account))
        return self.pins.get(account) == pin

    def balance(self, account: str) -> Decimal | None:
        return self.balances.get(account)

    def workorder_by_serial(self, serial: str) -> WorkOrderInfo | None:
        self.calls.append(("workorder", serial))
        return self.workorders.get(serial)


class IvrSite:
    def __init__(self, site: SimulatedSite, runtime: IvrRuntime, crm: FakeCrm, registry: Registry) -> None:
        self.site = site
        self.runtime = runtime
        self.crm = crm
        self.registry = registry
        self.dialled: list[str] = []          # numbers our trunks dialled, as the exchange heard them
        self.stored: list[dict[str, Any]] = []
        self.phones_answer = True
        self.transfers: list[str] = []        # numbers the IVR handed to its dialler
        dial_out = runtime.transfer

        def transfer(call: Any, number: str) -> bool:
            self.transfers.append(number)
            return dial_out(call, number)

        runtime.transfer = transfer
        site.far.call_handler = self._far_handler
        registry.register_sink("voicemail", lambda _call, item: self.stored.append(item))
        registry.register_sink("survey", lambda _call, item: self.stored.append(item))

    def _far_handler(self, port: Channel) -> None:
        if port.kind is Kind.FXS:           # one of our trunks went off-hook to dial
            port.claim()
            number: list[str] = []
            original = port.collect_digits

            def collect(*args: Any, **kwargs: Any) -> str:
                got = original(*args, **kwargs)
                number.append(got)
                self.dialled.append(got)
                return got

            port.collect_digits = collect  # type: ignore[method-assign]
            try:
                exchange_line(port, answer_after=0.5)
            finally:
                port.collect_digits = original  # type: ignore[method-assign]
        elif self.phones_answer:
            phone_autoanswer(port, delay=0.3)

    def caller(self, line: int = 0) -> Caller:
        return Caller(self, self.site.far_of(self.site.board.of_kind(Kind.FXO)[line]))

    def stop(self) -> None:
        self.site.stop()


class Caller:
    def __init__(self, ivr: IvrSite, exch: Channel) -> None:
        self.ivr = ivr
        self.exch = exch
        self.mark = 0

    def call(self, caller_id: str = "13800138000", timeout: float = 20) -> None:
        self.exch.heard = ""
        self.mark = 0
        ring_in(self.exch, caller_id, "", CidFormat.DTMF, timeout=timeout)

    def heard(self) -> list[str]:
        return decode_heard(self.exch.heard)

    def new(self) -> list[str]:
        return self.heard()[self.mark:]

    def expect(self, *names: str, timeout: float = 15.0) -> list[str]:
        """Wait until ``names`` are heard in a row since the last expect(); consume up to them.

        Returns what was heard since the last expect, up to and including ``names``."""
        want = list(names)

        def find() -> int:
            got = self.new()
            for i in range(len(got) - len(want) + 1):
                if got[i:i + len(want)] == want:
                    return i + len(want)
            return -1

        try:
            wait_for(lambda: find() >= 0, timeout, f"hearing {want}")
        except AssertionError:
            raise AssertionError(f"expected to hear {want}, heard {self.new()}") from None
        end = find()
        got = self.new()[:end]
        self.mark += end
        return got

    def press(self, digits: str) -> None:
        """Key presses, after a short human pause (a key sent within the last prompt's tail of echo
        was seen lost once on the simulated line)."""
        gevent.sleep(PRESS_PAUSE)
        self.exch.send_dtmf(digits, on_ms=80, off_ms=80)

    def hangup(self) -> None:
        if self.exch.state is ChannelState.UP:
            exchange_hangup(self.exch, "busy")

    @property
    def connected(self) -> bool:
        return self.exch.state is ChannelState.UP

    def wait_ended(self, timeout: float = 15.0) -> None:
        """Wait until the IVR hung up on us (the exchange port sees our on-hook)."""
        wait_for(lambda: not self.connected, timeout, "the IVR to end the call")
        self.exch.release("caller done")


def make_site(prompts: PromptSet, data_dir: Path, spec: str, now: _dt.datetime,
              allow: tuple[str, ...] = ALLOW) -> IvrSite:
    site = SimulatedSite(spec, name="ivr")
    registry = Registry()
    crm = FakeCrm()
    register_crm_lookups(registry, crm)
    runtime = IvrRuntime(site.board, prompts, data_dir, registry=registry, allow=allow, clock=lambda: now)
    ivr = IvrSite(site, runtime, crm, registry)
    site.board.call_handler = runtime.handle
    site.start()
    runtime.load()
    return ivr
