"""The report: a header, a table of checks and a summary, for the screen and for the report file."""

from __future__ import annotations

import datetime as dt
import socket
import unicodedata
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import gevent

from .checks import Result, Status

REPORT_NAME = "hwtest-report-%Y%m%d-%H%M%S.txt"
RELEASE_FILE = Path("/etc/rexian-release")


@dataclass(frozen=True)
class RunInfo:
    started: dt.datetime
    seconds: float
    config: Path
    backend: str          # what ran, e.g. "sim" or "sim (--sim; config: dahdi)"
    spec: str
    loops: list[str]
    cuts: list[int]


@dataclass(frozen=True)
class Summary:
    passed: int
    failed: int
    not_run: int

    @property
    def all_passed(self) -> bool:
        return self.failed == 0 and self.not_run == 0 and self.passed > 0

    def line(self) -> str:
        text = f"{self.passed} passed, {self.failed} failed"
        zh = f"通过 {self.passed} 项，失败 {self.failed} 项"
        if self.not_run:
            text += f", {self.not_run} not run"
            zh += f"，未运行 {self.not_run} 项"
        return f"{zh} / {text}"


def summarize(results: list[Result]) -> Summary:
    count = {s: sum(1 for r in results if r.status is s) for s in Status}
    return Summary(count[Status.PASS], count[Status.FAIL], count[Status.NOT_RUN])


def default_report_path(now: dt.datetime) -> Path:
    return Path(now.strftime(REPORT_NAME))


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal (Chinese characters take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, cols: int) -> str:
    return text + " " * max(0, cols - width(text))


def _version() -> str:
    try:
        for line in RELEASE_FILE.read_text(encoding="utf-8").splitlines():
            if line.startswith("REXIAN_VERSION="):
                return line.partition("=")[2]
    except OSError:
        pass
    try:
        return metadata.version("rexian")
    except metadata.PackageNotFoundError:
        return "unknown"


def result_line(number: int, r: Result, check_cols: int = 0) -> str:
    return f"{number:3d}  {pad(r.status.value, 7)}  {pad(str(r.check), check_cols)}  {r.reason}"


def render(info: RunInfo, results: list[Result]) -> str:
    summary = summarize(results)
    check_cols = max((width(str(r.check)) for r in results), default=0)
    lines = [
        "Rexian 硬件验收测试报告 / hardware acceptance test report",
        f"时间 Time:        {info.started:%Y-%m-%d %H:%M:%S}  ({info.seconds:.1f} s)",
        f"主机 Host:        {socket.gethostname()}   Rexian {_version()}",
        f"配置 Config:      {info.config}",
        f"后端 Backend:     {info.backend}   板卡 Spec: {info.spec}",
        f"环路 Loops:       {' '.join(info.loops) if info.loops else '（无 / none）'}",
    ]
    if info.cuts:
        lines.append(f"故障注入 Fault:   --cut {' '.join(map(str, info.cuts))}（模拟板卡 / simulated board）")
    lines += [
        "",
        f"  #  {pad('结果', 7)}  {pad('检查 / Check', check_cols)}  原因 / Reason",
        f"---  {'-' * 7}  {'-' * check_cols}  {'-' * 40}",
    ]
    lines += [result_line(i, r, check_cols) for i, r in enumerate(results, 1)]
    lines += ["", f"汇总 Summary: {summary.line()}"]
    if summary.all_passed:
        lines.append("结论 Verdict: 验收通过 / ACCEPTED")
    else:
        why = []
        if summary.failed:
            why.append("见 FAIL 行 / see the FAIL rows")
        if summary.not_run:
            why.append("有检查未运行 / some checks were not run")
        if not summary.passed:
            why.append("没有通过的检查 / nothing passed")
        lines.append(f"结论 Verdict: 验收未通过 / NOT ACCEPTED ({'; '.join(why)})")
    return "\n".join(lines) + "\n"


def write_report(path: Path, text: str) -> None:
    """Write the report file in gevent's threadpool (the disk may be slow; the hub is not)."""
    gevent.get_hub().threadpool.apply(path.write_text, (text,), {"encoding": "utf-8"})
