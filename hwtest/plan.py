"""What to test: the board from the config file, the loops from the command line.

Everything here is checked before a board is touched: a bad loop, a port out of range, a port in
two loops or a pair of ports that no loopback cable can join is a :class:`PlanError` (exit 2); a
backend that this build does not have is :class:`BackendMissing` (exit 3).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from appliance.service import ConfigError, load_config
from appliance.voiceboard.board import parse_spec
from appliance.voiceboard.events import Kind

DEFAULT_CONFIG = Path("/etc/rexian/rexian.toml")
DEFAULT_SPEC = "fxo:4,fxs:8"      # the service's default when the config names no spec
SIM_BACKEND = "sim"
DAHDI_BACKEND = "dahdi"
BUILT_BACKENDS = (SIM_BACKEND, DAHDI_BACKEND)
# Backends of the design that are not in this build yet, and the issue that brings them.
MISSING_BACKENDS: dict[str, str] = {"alsa": "not scheduled"}

_LOOP_RE = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


class PlanError(ValueError):
    """Bad arguments or config; ``messages`` holds every problem found, one line each."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


class BackendMissing(RuntimeError):
    """The configured backend is not in this build: nothing can be tested."""

    def __init__(self, backend: str, issue: str) -> None:
        super().__init__(backend)
        self.backend = backend
        self.issue = issue


class LoopKind(Enum):
    ANALOG = "analog"     # an FXO trunk port cabled to an FXS station port
    E1 = "e1"             # E1 to E1


@dataclass(frozen=True)
class BoardConfig:
    path: Path
    backend: str
    spec: str
    channels: tuple[int, ...] = ()      # dahdi: the DAHDI channel of every port
    device: str | None = None           # dahdi: the channel device (None: /dev/dahdi/channel)


@dataclass(frozen=True)
class Loop:
    """A loopback cable between two ports of the board, as the technician gave it (``a:b``)."""

    a: int
    b: int
    kind: LoopKind
    fxo: int = -1         # analog loops: the trunk (FXO) end
    fxs: int = -1         # analog loops: the station (FXS) end

    @property
    def label(self) -> str:
        return f"{self.a}:{self.b}"

    @property
    def ports(self) -> tuple[int, int]:
        return self.a, self.b


@dataclass(frozen=True)
class Plan:
    config: BoardConfig
    kinds: tuple[Kind, ...]     # the kind of every port, from the spec
    loops: tuple[Loop, ...]
    cuts: tuple[int, ...]       # sim only: ports whose cable is cut before the loop checks
    sim: bool                   # build the simulated board and cable the loops ourselves

    def loop_of(self, port: int) -> Loop | None:
        for loop in self.loops:
            if port in loop.ports:
                return loop
        return None


def read_config(path: Path) -> BoardConfig:
    """The backend and board spec of the config file (the service's own checks for a built backend)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError([f"配置文件不存在 / config file not found: {path}"]) from None
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PlanError([f"配置文件无法读取 / config file {path} cannot be read: {exc}"]) from None
    board = raw.get("board", {})
    if not isinstance(board, dict):
        raise PlanError([f"配置错误 / config {path}: [board] must be a table"])
    backend = str(board.get("backend", SIM_BACKEND))
    if backend in BUILT_BACKENDS:
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            raise PlanError([f"配置错误 / config error: {exc}"]) from None
        if backend == DAHDI_BACKEND:
            return BoardConfig(path, backend, cfg.spec, cfg.channels, cfg.device)
        return BoardConfig(path, backend, cfg.spec)
    if backend not in MISSING_BACKENDS:
        raise PlanError([f"配置错误 / config {path}: board.backend {backend!r} is unknown "
                         f"(expected sim, dahdi or alsa)"])
    spec = str(board.get("spec", DEFAULT_SPEC))
    try:
        parse_spec(spec)
    except ValueError as exc:
        raise PlanError([f"配置错误 / config {path}: board.spec: {exc}"]) from None
    return BoardConfig(path, backend, spec)


def port_kinds(spec: str) -> tuple[Kind, ...]:
    """The kind of every port of a board built from ``spec``, in port order (as Board numbers them)."""
    kinds: list[Kind] = []
    for kind, count in parse_spec(spec):
        kinds.extend([kind] * count)
    return tuple(kinds)


def _port_name(port: int, kind: Kind) -> str:
    return f"{port} ({kind.name})"


def parse_loops(texts: list[str], kinds: tuple[Kind, ...]) -> tuple[list[Loop], list[str]]:
    """Loops from ``A:B`` texts; every problem is a message (the loops that are fine are kept)."""
    loops: list[Loop] = []
    errors: list[str] = []
    used: dict[int, str] = {}
    top = len(kinds) - 1
    for text in texts:
        m = _LOOP_RE.match(text)
        if not m:
            errors.append(f"--loop {text!r}: 格式应为 端口:端口，例如 0:4 / expected PORT:PORT, e.g. 0:4")
            continue
        a, b = int(m.group(1)), int(m.group(2))
        bad = [p for p in (a, b) if p > top]
        if bad:
            errors.append(f"--loop {text}: 端口 {bad[0]} 超出范围（本板端口 0-{top}）/ "
                          f"port {bad[0]} is out of range: the board has ports 0-{top}")
            continue
        if a == b:
            errors.append(f"--loop {text}: 环路需要两个不同的端口 / a loop needs two different ports")
            continue
        clash = [p for p in (a, b) if p in used]
        if clash:
            p = clash[0]
            errors.append(f"--loop {text}: 端口 {p} 已在环路 {used[p]} 中 / "
                          f"port {p} is in two loops ({used[p]} and {text.strip()})")
            continue
        ka, kb = kinds[a], kinds[b]
        if {ka, kb} == {Kind.FXO, Kind.FXS}:
            fxo, fxs = (a, b) if ka is Kind.FXO else (b, a)
            loop = Loop(a, b, LoopKind.ANALOG, fxo=fxo, fxs=fxs)
        elif ka is Kind.E1 and kb is Kind.E1:
            loop = Loop(a, b, LoopKind.E1)
        else:
            errors.append(
                f"--loop {text}: 端口 {_port_name(a, ka)} 与端口 {_port_name(b, kb)} 不能用环回线相连"
                f"（应为 FXO 接 FXS，或 E1 接 E1）/ port {_port_name(a, ka)} cannot be looped to port "
                f"{_port_name(b, kb)}: a loopback cable joins an FXO trunk port to an FXS station port, "
                f"or E1 to E1")
            continue
        used[a] = used[b] = loop.label
        loops.append(loop)
    return loops, errors


def make_plan(config: BoardConfig, loop_texts: list[str], cuts: list[str], sim: bool) -> Plan:
    """Check the arguments against the board of ``config``; raise PlanError or BackendMissing."""
    kinds = port_kinds(config.spec)
    loops, errors = parse_loops(loop_texts, kinds)
    simulated = sim or config.backend == SIM_BACKEND
    looped = {p for loop in loops for p in loop.ports}
    cut_ports: list[int] = []
    for text in cuts:
        if not simulated:
            errors.append(f"--cut {text}: 只能用于模拟板卡 / --cut is fault injection for the simulated "
                          f"board only (--sim)")
            continue
        if not text.strip().isdigit() or int(text) not in looped:
            errors.append(f"--cut {text}: 应为某个环路中的端口 / --cut needs a port that is in a loop")
            continue
        cut_ports.append(int(text))
    if not loop_texts:
        errors.append("至少需要一个 --loop：验收测试经由环回线进行 / at least one --loop is needed: the "
                      "acceptance test runs across loopback cables")
    if errors:
        raise PlanError(errors)
    if not simulated and config.backend in MISSING_BACKENDS:
        raise BackendMissing(config.backend, MISSING_BACKENDS[config.backend])
    return Plan(config, kinds, tuple(loops), tuple(cut_ports), simulated)
