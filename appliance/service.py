"""Process main: config, gevent hub, board, call handling, watchdog.

``rexian run --config FILE`` is what systemd and ``./build.sh run`` start.
READY=1 is sent only once calls can be answered; a greenlet pings the
systemd watchdog, which proves the hub is alive.  SIGTERM stops taking calls,
releases the lines and exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import gevent.event
from gevent import subprocess

from appliance.acd.model import AcdConfig, AcdConfigError, Disposition, parse_config
from appliance.acd.service import ACD
from appliance.attendant import Attendant
from appliance.console.config import ConsoleConfig
from appliance.console.console import Console
from appliance.crm import acdconf, demo
from appliance.crm.db import close_db, init_db
from appliance.crm.deadline import DeadlineWatch
from appliance.crm.maintenance import Maintenance
from appliance.ivr.crmbind import CrmBinding, register_crm_sinks
from appliance.ivr.promptlib import Library
from appliance.ivr.registry import REGISTRY
from appliance.ivr.runtime import DEFAULT_QUEUES as IVR_QUEUES
from appliance.ivr.runtime import IvrRuntime
from appliance.ivr.services import register_crm_lookups
from appliance.ivr.validate import FlowInvalid
from appliance.maintenance import ApplianceStatus
from appliance.voiceboard.board import Board, parse_spec
from appliance.voiceboard.channel import Channel
from appliance.voiceboard.dahdi import DEFAULT_DEVICE, DahdiError, DahdiSite, parse_channels, port_count
from appliance.voiceboard.events import Kind
from appliance.voiceboard.prompts import PromptSet
from appliance.voiceboard.r2 import R2Span, start_r2_spans
from appliance.web import acdedit, agentapi, ivradmin, supervisor
from appliance.web.config import WebConfigError, parse_web
from appliance.web.server import WebServer

log = logging.getLogger(__name__)

FAR_CONNECT_TIMEOUT = 10.0      # seconds for the simulated far side to attach
CARD_LINES_WAIT = 2.0           # seconds for a real card's lines to report up after binding
BACKENDS = ("sim", "dahdi")
FAR_STOP_TIMEOUT = 3.0
R2_CLEAR_GRACE = 0.2            # seconds for E1 calls to signal clear-back before the spans stop
EXIT_RESTART = 75               # exit status asking systemd (Restart=on-failure) to start us again


class ConfigError(ValueError):
    """The config file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Config:
    backend: str = "sim"
    spec: str = "fxo:4,fxs:8"
    far: str = "process"
    channels: tuple[int, ...] = ()          # dahdi: the DAHDI channel of every port, in port order
    device: str = DEFAULT_DEVICE            # dahdi: the channel device
    socket: Path = Path("var/run/board.sock")
    data_dir: Path = Path("var")
    prompts_dir: Path = Path("build/prompts/demo")
    demo_callers: float = 0.0
    demo_customers: int = 0                 # demo data for an empty database (./build.sh run)
    console_device: Path | None = None
    network_dir: Path = Path("var/network")
    usb_dir: Path | None = None
    e1_dnis_len: int = 8                    # E1/R2 China: DNIS digits we take (no end-of-DNIS signal)
    acd: AcdConfig | None = None            # [acd] queues and agents (docs/acd.md); None: the attendant
    extra: dict[str, Any] = field(default_factory=dict)


def load_config(path: Path) -> Config:
    """Read and check the TOML config; every problem is a ConfigError naming the key."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    board = raw.get("board", {})
    backend = str(board.get("backend", "sim"))
    if backend not in BACKENDS:
        raise ConfigError(f"board.backend {backend!r}: expected one of {', '.join(BACKENDS)} in this build")
    spec = str(board.get("spec", "fxo:4,fxs:8"))
    try:
        parse_spec(spec)
    except ValueError as exc:
        raise ConfigError(f"board.spec: {exc}") from None
    channels: tuple[int, ...] = ()
    if backend == "dahdi":
        raw_chans = board.get("channels")
        try:
            channels = tuple(parse_channels(None if raw_chans is None else
                                            raw_chans if isinstance(raw_chans, list) else str(raw_chans),
                                            port_count(spec)))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"board.channels: {exc}") from None
    far = str(board.get("far", "process" if backend == "sim" else "none"))
    if far not in ("process", "inproc", "none"):
        raise ConfigError(f"board.far {far!r}: expected process, inproc or none")
    if backend == "dahdi" and far != "none":
        raise ConfigError(f"board.far {far!r}: a real card has no simulated far side (use far = \"none\")")
    try:
        callers = float(raw.get("demo", {}).get("callers", 0.0))
        demo_customers = int(raw.get("demo", {}).get("customers", 0))
        if demo_customers < 0:
            raise ValueError("negative")
    except (TypeError, ValueError):
        raise ConfigError("demo.callers must be a number of seconds, demo.customers a count >= 0") from None
    try:
        parse_web(raw.get("web"))
    except WebConfigError as exc:
        raise ConfigError(str(exc)) from None
    e1 = raw.get("e1", {})
    dnis_len = e1.get("dnis_len", 8) if isinstance(e1, dict) else None
    if not isinstance(dnis_len, int) or not 1 <= dnis_len <= 20:
        raise ConfigError("e1.dnis_len must be a whole number of digits from 1 to 20")
    console = raw.get("console", {})
    if not isinstance(console, dict):
        raise ConfigError("[console] must be a table")
    device = console.get("device")
    usb = console.get("usb_dir")
    try:
        acd = parse_config(raw)
    except AcdConfigError as exc:
        raise ConfigError(str(exc)) from None
    if acd is not None:
        kinds = [k for k, n in parse_spec(spec) for _ in range(n)]
        for agent in acd.agents:
            if agent.station is not None and not (0 <= agent.station < len(kinds)
                                                  and kinds[agent.station].name == "FXS"):
                raise ConfigError(f"acd agent {agent.id}: station {agent.station} is not an FXS port of "
                                  f"board.spec {spec!r}")
    return Config(
        backend=backend, spec=spec, far=far, channels=channels,
        device=str(board.get("device", DEFAULT_DEVICE)),
        console_device=Path(str(device)) if device else None,
        network_dir=Path(str(console.get("network_dir", "var/network"))),
        usb_dir=Path(str(usb)) if usb else None,
        socket=Path(str(board.get("socket", "var/run/board.sock"))),
        data_dir=Path(str(raw.get("data", {}).get("dir", "var"))),
        prompts_dir=Path(str(raw.get("prompts", {}).get("dir", "build/prompts/demo"))),
        demo_callers=callers, demo_customers=demo_customers, e1_dnis_len=dnis_len, acd=acd, extra=raw,
    )


class Notifier:
    """sd_notify over $NOTIFY_SOCKET (no-op when not run by systemd)."""

    def __init__(self) -> None:
        import sdnotify  # local: only the service needs it

        self._n = sdnotify.SystemdNotifier()
        usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
        self.watchdog_interval = usec / 2e6 if usec > 0 else 0.0

    def send(self, msg: str) -> None:
        self._n.notify(msg)


def ivr_settings(cfg: Config) -> tuple[bool, str, list[str]]:
    """[ivr] enabled (default false: the attendant answers), flow (id), transfer_allow (numbers)."""
    raw = cfg.extra.get("ivr", {})
    if not isinstance(raw, dict):
        raise ConfigError("[ivr] must be a table")
    allow = raw.get("transfer_allow", [])
    if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
        raise ConfigError("ivr.transfer_allow must be a list of numbers (strings)")
    return bool(raw.get("enabled", False)), str(raw.get("flow", "default")), allow


def make_board(cfg: Config) -> Board:
    """The board of the config: simulated, or bound to a real card's DAHDI channels."""
    if cfg.backend == "dahdi":
        return DahdiSite(cfg.spec, cfg.channels, "rexian", cfg.device).board
    return Board("rexian", cfg.spec)


class Service:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.board = make_board(cfg)
        self.notifier = Notifier()
        self.stopping = gevent.event.Event()
        self.far: subprocess.Popen[bytes] | None = None
        self.far_board: Board | None = None
        # the built-in set with the administrator's uploaded prompts on top (web: 语音库)
        self.library = Library(PromptSet(cfg.prompts_dir))
        prompts = self.library.prompts
        self.attendant = Attendant(self.board, prompts, cfg.data_dir / "recordings")
        # With queues and agents configured, trunk calls go to the ACD; stations that are no
        # auto-answer agent's headset keep the attendant's behaviour (dial tone).
        self.acd = (ACD(self.board, prompts, cfg.acd, fallback=self.attendant.handle)
                    if cfg.acd is not None else None)
        # With [ivr] enabled, trunk calls go through the IVR flow first; its queue nodes hand the
        # caller to the ACD (or, without an ACD, ring the stations).
        ivr_on, flow_id, allow = ivr_settings(cfg)
        self.ivr: IvrRuntime | None = None
        if ivr_on:
            registry = REGISTRY.copy()
            register_crm_lookups(registry, CrmBinding())
            register_crm_sinks(registry)            # messages and ratings into the database
            if self.acd is not None:
                for name in IVR_QUEUES:
                    registry.register_queue(name, self._ivr_to_acd)
            self.ivr = IvrRuntime(self.board, prompts, cfg.data_dir, flow_id=flow_id, allow=allow,
                                  registry=registry, fallback=self.attendant.handle)
        self._greenlets: list[gevent.Greenlet] = []
        self.exit_code = 0
        self.console: Console | None = None
        self.spans: list[R2Span] = []
        self.web: WebServer | None = None
        self.demo_phones: list[str] = []
        self.web_url = ""
        self._acd_raw: dict[str, Any] = {}
        self.deadlines = DeadlineWatch()        # work orders: reminders, escalation when overdue

    def start(self) -> None:
        self.cfg.data_dir.mkdir(parents=True, exist_ok=True)
        init_db(self.cfg.data_dir)
        self.demo_phones = demo.ensure_demo(self.cfg.demo_customers) if self.cfg.demo_customers else []
        self.library.refresh()
        self.deadlines.start()
        if self.ivr is not None:
            try:
                self.ivr.load()
            except FlowInvalid as exc:   # e.g. the on-call numbers of the flow are not in transfer_allow
                log.error("ivr: no valid flow, calls go to the %s instead: %s",
                          "ACD" if self.acd is not None else "attendant", exc)
                self.ivr = None
        self._acd_raw = self._acd_config()
        if self.acd is not None:
            self.acd.start()
        self.board.call_handler = self.call_handler
        if self.cfg.far == "process":
            self.cfg.socket.parent.mkdir(parents=True, exist_ok=True)
            self.board.link_listen(self.cfg.socket)
        self.board.start()
        if self.cfg.far == "process":
            self._start_far_process()
        elif self.cfg.far == "inproc":
            from appliance.voiceboard.board import opposite_spec
            from appliance.voiceboard.sim import far_call_handler

            self.far_board = Board("far", opposite_spec(self.cfg.spec))
            self.far_board.call_handler = far_call_handler()
            self.board.link_pair(self.far_board)
            self.far_board.start()
        self._wait_lines_up()
        self.spans = start_r2_spans(self.board, self.cfg.e1_dnis_len)
        if self.cfg.console_device is not None:
            self._start_console(self.cfg.console_device)
        self._start_web()
        self.notifier.send("READY=1")
        self.notifier.send(f"STATUS=answering calls on {self.cfg.spec}")
        if self.notifier.watchdog_interval:     # pings only once READY was sent
            self._greenlets.append(gevent.spawn(self._watchdog))
        log.info("ready: board %s", self.cfg.spec)

    def _acd_config(self) -> dict[str, Any]:
        """The [acd] section in use: the newest version saved on the web (applied to the ACD before it
        starts), else the TOML's. A saved version the ACD refuses is logged and the TOML kept."""
        toml = self.cfg.extra.get("acd")
        raw: dict[str, Any] = dict(toml) if isinstance(toml, dict) else {}
        saved = acdconf.latest()
        if saved is None or self.acd is None:
            return raw
        try:
            cfg = parse_config({"acd": saved.body})
            if cfg is None:
                raise AcdConfigError("no queues or agents")
            self.acd.reconfigure(cfg)
        except (AcdConfigError, ValueError) as exc:
            log.error("acd: saved configuration v%d not used, the TOML's kept: %s", saved.version, exc)
            return raw
        log.info("acd: configuration v%d of %s (%s) in use", saved.version, saved.created_by, saved.note)
        return saved.body

    def _start_web(self) -> None:
        # A taken port must not stop the box from answering calls: log it, run without the web UI.
        web = WebServer(parse_web(self.cfg.extra.get("web")))
        agentapi.bind(self.acd)         # the desk's 示闲/示忙 go to the ACD's service API
        ivradmin.bind(self.ivr)         # flow versions saved and activated through the running IVR
        supervisor.configure({"acd": self._acd_raw})    # [[acd.queues]] service_level thresholds
        acdedit.bind(self._acd_raw)             # queues and agents edited on /admin/acd
        try:
            self.web_url = web.start()
        except OSError as exc:
            log.error("web UI not started on %s:%d: %s", web.config.bind, web.config.port, exc)
            print(f"Rexian: web UI NOT started ({exc})", flush=True)
            return
        self.web = web
        print(f"Rexian: web UI at {self.web_url}", flush=True)

    def _start_console(self, device: Path) -> None:
        status = ApplianceStatus(self.board, self.cfg.data_dir / "recordings", self._pause_calls,
                                 self._restart)
        cfg = ConsoleConfig(device=device, data_dir=self.cfg.data_dir, network_dir=self.cfg.network_dir,
                            usb_dir=self.cfg.usb_dir)
        self.console = Console(cfg, status, Maintenance("console"))
        self.console.start()
        log.info("maintenance console on %s", device)

    def call_handler(self, channel: Channel) -> None:
        """Trunk calls: the IVR if it runs, else the ACD, else the attendant; stations: the ACD's
        headsets, else the attendant (dial tone, station-to-station)."""
        trunk = channel.kind in (Kind.FXO, Kind.E1)
        if trunk and self.ivr is not None:
            self.ivr.handle(channel)
        elif self.acd is not None:
            self.acd.handle(channel)
        else:
            self.attendant.handle(channel)

    def _ivr_to_acd(self, call: Any, queue: str) -> bool:
        """The IVR's queue node: the ACD serves the caller; False (not taken) -> the node's on_fail."""
        assert self.acd is not None
        return self.acd.queue_call(call.channel, queue, handed_over=True) is Disposition.ANSWERED

    def _pause_calls(self, paused: bool) -> None:
        self.board.call_handler = None if paused else self.call_handler

    def _restart(self) -> None:
        self.exit_code = EXIT_RESTART
        self.stopping.set()

    def _start_far_process(self) -> None:
        cmd = [sys.executable, "-m", "appliance.voiceboard.simfar", "--socket", str(self.cfg.socket),
               "--spec", self.cfg.spec, "--callers", str(self.cfg.demo_callers)]
        if self.demo_phones:
            cmd += ["--known", ",".join(self.demo_phones)]
        self.far = subprocess.Popen(cmd)

    def _wait_lines_up(self) -> None:
        if self.cfg.backend == "dahdi":
            gevent.sleep(CARD_LINES_WAIT)   # events from the card (alarms) arrive with the first ticks
            down = [c.index for c in self.board.channels if not c.status()["line_up"]]
            if down:
                log.warning("card lines down (alarm or no battery): ports %s", down)
            return
        if self.cfg.far == "none":
            return
        with gevent.Timeout(FAR_CONNECT_TIMEOUT, False):
            while not all(c.status()["line_up"] for c in self.board.channels):
                gevent.sleep(0.05)
        down = [c.index for c in self.board.channels if not c.status()["line_up"]]
        if down:
            log.warning("lines still down after %.0f s: %s", FAR_CONNECT_TIMEOUT, down)

    def _watchdog(self) -> None:
        while not self.stopping.is_set():
            self.notifier.send("WATCHDOG=1")
            gevent.sleep(self.notifier.watchdog_interval)

    def stop(self) -> None:
        self.notifier.send("STOPPING=1")
        self.stopping.set()
        for g in self._greenlets:
            g.kill(block=False)
        self.deadlines.stop()
        if self.web is not None:
            self.web.stop()
        if self.console is not None:
            self.console.stop()
        if self.acd is not None:
            self.acd.stop()         # queued calls end as interrupted; their records are written
        for ch in self.board.channels:
            if ch.busy:
                ch.release("service stopping")   # R2: clear back / clear forward while openr2 runs
        if self.spans:
            gevent.sleep(R2_CLEAR_GRACE)
        for span in self.spans:
            span.stop()
        self.board.stop()
        if self.far_board is not None:
            self.far_board.stop()
        if self.far is not None and self.far.poll() is None:
            self.far.terminate()
            try:
                self.far.wait(timeout=FAR_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.far.kill()
        close_db()

    def run_forever(self) -> None:
        gevent.signal_handler(signal.SIGTERM, self.stopping.set)
        gevent.signal_handler(signal.SIGINT, self.stopping.set)
        self.start()
        self.stopping.wait()
        log.info("stopping")
        self.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="rexian", description="Rexian call-center appliance")
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the appliance")
    run.add_argument("--config", type=Path, default=Path("/etc/rexian/rexian.toml"))
    run.add_argument("--log-level", default=os.environ.get("REXIAN_LOG_LEVEL", "WARNING"))
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"rexian: {exc}", file=sys.stderr)
        return 2
    try:
        svc = Service(cfg)
    except DahdiError as exc:
        print(f"rexian: the DAHDI card did not open: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"rexian: {exc}", file=sys.stderr)
        return 2
    if cfg.backend == "dahdi":
        print(f"Rexian: DAHDI card {cfg.spec} on channels {','.join(map(str, cfg.channels))}; "
              f"data in {cfg.data_dir}/", flush=True)
    else:
        print(f"Rexian: simulated board {cfg.spec}; far side: {cfg.far}; data in {cfg.data_dir}/", flush=True)
    print("Rexian: the web UI address is printed once the board is up. Ctrl-C stops.", flush=True)
    svc.run_forever()
    return svc.exit_code


if __name__ == "__main__":
    sys.exit(main())
