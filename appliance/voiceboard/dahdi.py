"""Real voice cards through DAHDI: a Board whose ports are bound to DAHDI channels.

The engine does the media as for the simulated board; the card backend (drivers/csrc/dahdi.c)
moves each port's audio and line signalling to and from one DAHDI channel device
(``/dev/dahdi/channel``).  Ports are numbered as the board spec says (``"fxo:4,fxs:8"``: ports
0-3 FXO trunks, 4-11 FXS stations); ``channels`` gives the DAHDI channel number of every port, in
the same order (``"1-12"``, or ``"1-4,9-16"``).  DAHDI's names are inverted: an FXO port must be
configured FXS-signalled (``fxsks``/``fxsls`` in ``/etc/dahdi/system.conf``), an FXS port
FXO-signalled (``fxoks``/``fxols``), an E1 timeslot ``cas``.  See docs/dahdi.md.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from typing import Any

from appliance.drivers._binding import VBError, ffi, lib

from .board import Board, parse_spec

log = logging.getLogger(__name__)

DEFAULT_DEVICE = "/dev/dahdi/channel"
_RANGE_RE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")

STAT_FIELDS = ("bound", "channo", "sigtype", "alarm", "reads", "underruns", "short_reads", "read_errors",
               "writes", "write_full", "write_errors", "events", "elast", "ioctl_errors", "last_event")


class DahdiError(RuntimeError):
    """A port could not be bound to its DAHDI channel; the message says why (device, sigtype...)."""

    def __init__(self, port: int, channo: int, code: int, errno_: int, reason: str) -> None:
        super().__init__(f"port {port} (DAHDI channel {channo}): {reason}")
        self.port = port
        self.channo = channo
        self.code = code
        self.errno = errno_
        self.reason = reason


def port_count(spec: str) -> int:
    return sum(n for _, n in parse_spec(spec))


def parse_channels(text: str | Sequence[int] | None, nports: int) -> list[int]:
    """DAHDI channel numbers for ``nports`` ports: ``"1-12"``, ``"1-4,9-16"``, a list, or None (1..n)."""
    if text is None:
        return list(range(1, nports + 1))
    chans: list[int] = []
    if isinstance(text, str):
        for part in text.split(","):
            if not part.strip():
                continue
            m = _RANGE_RE.match(part)
            if not m:
                raise ValueError(f"bad DAHDI channel range {part!r} (expected e.g. 1-12 or 1-4,9-16)")
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            if hi < lo:
                raise ValueError(f"bad DAHDI channel range {part!r}: {hi} < {lo}")
            chans.extend(range(lo, hi + 1))
    else:
        chans = [int(c) for c in text]
    if any(c <= 0 for c in chans):
        raise ValueError("DAHDI channel numbers start at 1")
    if len(set(chans)) != len(chans):
        raise ValueError("a DAHDI channel is given twice")
    if len(chans) != nports:
        raise ValueError(f"{len(chans)} DAHDI channels for {nports} ports: give one per port, in port order")
    return chans


def use_fake_kernel(on: bool) -> None:
    """Tests only: the card backend's system calls go to the fake DAHDI kernel (csrc/dahdifake.c)."""
    lib.vb_dahdi_card_use_fake(1 if on else 0)


def bind_port(board: Board, port: int, channo: int, device: str | None = None) -> None:
    """Bind one port of ``board`` to DAHDI channel ``channo``; DahdiError says why it could not."""
    dev = os.fsencode(device) if device else ffi.NULL
    rc = lib.vb_dahdi_bind(board.handle, port, channo, dev)
    if rc >= 0:
        return
    code = -rc
    err = int(lib.vb_last_errno()) if code == lib.VB_ESYS else 0
    reason = ffi.string(lib.vb_dahdi_card_error()).decode("utf-8", "replace")
    if not reason:
        reason = VBError(code).args[0] if code != lib.VB_ESYS else os.strerror(err)
    raise DahdiError(port, channo, code, err, reason)


def unbind_port(board: Board, port: int) -> None:
    rc = lib.vb_dahdi_unbind(board.handle, port)
    if rc < 0:
        raise DahdiError(port, 0, -rc, 0, "not bound")


def card_stats(board: Board, port: int) -> dict[str, int]:
    """The card backend's counters for one port (reads, underruns, events, alarm...)."""
    st: Any = ffi.new("vb_dahdi_card_stats_t *")
    rc = lib.vb_dahdi_card_stats(board.handle, port, st)
    if rc < 0:
        raise VBError(-rc)
    return {f: int(getattr(st, f)) for f in STAT_FIELDS}


def signame(sigtype: int) -> str:
    return ffi.string(lib.vb_dahdi_card_signame(sigtype)).decode()


class DahdiSite:
    """Our board on a real card: every port of ``spec`` bound to its DAHDI channel.

    Binding happens in the constructor (each port's device opened, sigtype checked); a port that
    does not bind raises DahdiError after the board is freed again, so nothing is left open.
    """

    def __init__(self, spec: str, channels: str | Sequence[int] | None = None, name: str = "rexian",
                 device: str | None = None) -> None:
        self.channos = parse_channels(channels, port_count(spec))
        self.device = device or DEFAULT_DEVICE
        self.board = Board(name, spec)
        try:
            for port, channo in enumerate(self.channos):
                bind_port(self.board, port, channo, device)
        except DahdiError:
            self.board.stop()
            raise
        log.info("board %s: %d ports bound to DAHDI channels %s on %s", name, len(self.channos),
                 _ranges(self.channos), self.device)

    def start(self) -> None:
        self.board.start()

    def stop(self) -> None:
        self.board.stop()

    def __enter__(self) -> DahdiSite:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stats(self, port: int) -> dict[str, int]:
        return card_stats(self.board, port)

    def alarmed_ports(self) -> list[int]:
        return [p for p in range(len(self.channos)) if card_stats(self.board, p)["alarm"]]


def _ranges(chans: Sequence[int]) -> str:
    out: list[str] = []
    start = prev = chans[0] if chans else 0
    for c in [*chans[1:], -1]:
        if c != prev + 1:
            out.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = c
        prev = c
    return ",".join(out)
