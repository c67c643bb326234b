"""Run bench/bench_*.py modules and merge their results into bench/results.json.

    python -m bench              # every bench_*.py
    python -m bench media acd    # bench_media.py and bench_acd.py only
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results.json"


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))


def machine() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def load_results() -> dict[str, Any]:
    if not RESULTS.exists():
        return {}
    data = json.loads(RESULTS.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def save_results(results: dict[str, Any]) -> None:
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(RESULTS)


def run_one(name: str) -> dict[str, Any]:
    module = importlib.import_module(f"bench.bench_{name}")
    started = time.perf_counter()
    result = module.run()
    elapsed = time.perf_counter() - started
    if not isinstance(result, dict):
        raise TypeError(f"bench_{name}.run() returned {type(result).__name__}, not dict")
    json.dumps(result)  # must be storable
    return {
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "seconds": round(elapsed, 3),
        "result": result,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="benchmarks to run (bench_NAME.py); default: all")
    args = parser.parse_args(argv)
    known = available()
    names = [n.removeprefix("bench_").removesuffix(".py") for n in args.names] or known
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"bench: no such benchmark: {', '.join(unknown)} (have: {', '.join(known) or 'none'})",
              file=sys.stderr)
        return 2
    if not names:
        print("bench: no bench/bench_*.py modules yet")
        return 0
    results = load_results()
    failed = []
    for name in names:
        print(f"bench: {name} ...", flush=True)
        try:
            entry = run_one(name)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        results[name] = entry
        save_results(results)  # keep what finished even if a later one fails
        print(f"bench: {name}: {json.dumps(entry['result'], ensure_ascii=False)} ({entry['seconds']} s)")
    if len(failed) < len(names):
        print(f"bench: results merged into {RESULTS}")
    if failed:
        print(f"bench: FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
