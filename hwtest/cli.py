"""``python -m hwtest``: the technician's acceptance run of the box's voice board.

Exit status: 0 every check passed; 1 a check failed or could not run; 2 bad arguments or config
(nothing was tested); 3 the configured backend is not in this build (nothing was tested); 130
interrupted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import gevent

from .checks import Result, run_checks
from .plan import DEFAULT_CONFIG, BackendMissing, Plan, PlanError, make_plan, read_config
from .report import RunInfo, default_report_path, render, result_line, summarize, write_report

EXIT_PASSED = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_BACKEND = 3
EXIT_INTERRUPTED = 130

EPILOG = """\
例 / example:  python -m hwtest --config /etc/rexian/rexian.toml --loop 0:4 --loop 1:5
Each --loop A:B is a loopback cable between port A and port B of the board: an FXO trunk port to an
FXS station port, or E1 to E1. Exit status: 0 all passed, 1 a check failed or did not run,
2 bad arguments, 3 backend not in this build.
"""


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m hwtest", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Rexian 硬件验收测试 / hardware acceptance test of the voice board, with loopback cables")
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                    help=f"配置文件 / the appliance config (default {DEFAULT_CONFIG})")
    ap.add_argument("--loop", action="append", default=[], metavar="A:B",
                    help="端口 A 与端口 B 之间接了环回线 / a loopback cable joins port A and port B (repeat)")
    ap.add_argument("--report", type=Path, default=None, metavar="FILE",
                    help="报告文件 / the report file (default hwtest-report-YYYYmmdd-HHMMSS.txt here)")
    ap.add_argument("--sim", action="store_true",
                    help="用模拟板卡演练，环路由程序自行连接 / rehearse on the simulated board (cables made "
                         "by the tool)")
    ap.add_argument("--cut", action="append", default=[], metavar="PORT",
                    help="仅模拟板卡：在环路检查前剪断该端口的线缆 / simulated board only: cut the cable of "
                         "PORT before the loop checks (fault injection)")
    return ap


def _usage_error(messages: list[str], err: TextIO) -> int:
    for m in messages:
        print(f"hwtest: 错误 / error: {m}", file=err)
    print("hwtest: 未做任何测试 / nothing was tested (python -m hwtest --help)", file=err)
    return EXIT_USAGE


def _check_report_path(path: Path) -> str | None:
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"--report {path}: 是一个目录 / is a directory"
    if not folder.is_dir():
        return f"--report {path}: 目录不存在 / the folder {folder} does not exist"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"--report {path}: 无法写入 / cannot be written (read-only? try --report /data/...)"
    return None


def _backend_label(plan: Plan) -> str:
    if plan.config.backend == "sim":
        return "sim"
    if not plan.sim:
        return plan.config.backend
    return f"sim (--sim; 配置 / config: {plan.config.backend})"


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)     # exits 2 itself on a bad option
    started = dt.datetime.now()
    try:
        config = read_config(args.config)
        plan = make_plan(config, args.loop, args.cut, args.sim)
    except PlanError as exc:
        return _usage_error(exc.messages, err)
    except BackendMissing as exc:
        name = exc.backend.upper()
        print(f"hwtest: 本版本没有 {name} 后端（{exc.issue}），无法测试真实板卡，未做任何测试。", file=err)
        print(f"hwtest: the {name} backend for real boards is not in this build yet ({exc.issue}): "
              f"nothing was tested. (--sim rehearses the run on the simulated board.)", file=err)
        return EXIT_NO_BACKEND
    report_path: Path = args.report or default_report_path(started)
    problem = _check_report_path(report_path)
    if problem:
        return _usage_error([problem], err)

    print(f"hwtest: 板卡 / board {plan.config.spec}, 后端 / backend {_backend_label(plan)}, "
          f"环路 / loops {' '.join(loop.label for loop in plan.loops) or '-'}", file=out, flush=True)
    shown = 0

    def progress(r: Result) -> None:
        nonlocal shown
        shown += 1
        print(result_line(shown, r), file=out, flush=True)

    runner = gevent.spawn(_run, plan, progress)
    try:
        results: list[Result] = runner.get()
    except KeyboardInterrupt:
        runner.kill(block=True)
        print("hwtest: 已中断，未写报告 / interrupted: no report written", file=err)
        return EXIT_INTERRUPTED
    seconds = (dt.datetime.now() - started).total_seconds()
    info = RunInfo(started, seconds, plan.config.path, _backend_label(plan), plan.config.spec,
                   [loop.label for loop in plan.loops], list(plan.cuts))
    text = render(info, results)
    print("", file=out)
    print(text, file=out, end="", flush=True)
    try:
        write_report(report_path, text)
        print(f"报告已写入 / report written to {report_path}", file=out, flush=True)
    except OSError as exc:
        print(f"hwtest: 报告无法写入 / the report could not be written to {report_path}: {exc}", file=err)
    return EXIT_PASSED if summarize(results).all_passed else EXIT_FAILED


def _run(plan: Plan, progress: Callable[[Result], None]) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="hwtest-") as tmp:
        return run_checks(plan, Path(tmp), progress)
