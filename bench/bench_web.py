"""web: ring -> screen pop in real Chromium, 20 agents signed in, 120 calls through the ACD.

The appliance side runs here, on one gevent hub as in the service: the simulated board (24 analog
trunks, 20 station ports), the ACD with 20 agents (one queue, longest idle, each agent bound to a
web user and signed in ready on his station), the web server, a database of BENCH_WEB_CUSTOMERS
demo customers. Two other processes: ``bench.far_web`` is the far side of the board's cables (the
exchange ringing our trunks with the callers' numbers as caller ID, the phones on our stations that
answer after 0.3 s); ``bench.web_browser`` is one headless Chromium with one context and desk page
per agent (Playwright).

Measured per offer, on one clock (the machine's wall clock, CLOCK_REALTIME):
- t0: the ACD emits ``acd.call.offered`` for agent A (a listener on the ACD's own event bus takes
  time.time() in the emit, just before the event goes onto the web's bus);
- received: A's desk page gets the event from its EventSource (first line of the handler);
- shown: the pop's DOM shows the caller's record (after the phone lookup, which brings the record).
Page times are performance.timeOrigin + performance.now() (epoch ms, the same system clock); the
browser process checks that by reading the page clock inside a round trip of its own time.time()
(``clock_offset_ms``: median and worst page, with the round trip's half as the error bound).

``pop_ms`` is t0 -> shown, the goal (p99 <= 150 ms). ``sse_floor_ms`` is t0 -> received: the event
delivery alone (bus, SSE write, socket, browser event dispatch) with no lookup and no render;
``pop_vs_floor_p99`` is their ratio. Sizes: BENCH_WEB_AGENTS (20), BENCH_WEB_TRUNKS (24),
BENCH_WEB_CALLS (120), BENCH_WEB_CUSTOMERS (20000).
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gevent
from gevent import subprocess

AGENTS = int(os.environ.get("BENCH_WEB_AGENTS", "20"))
TRUNKS = int(os.environ.get("BENCH_WEB_TRUNKS", "24"))
CALLS = int(os.environ.get("BENCH_WEB_CALLS", "120"))
CUSTOMERS = int(os.environ.get("BENCH_WEB_CUSTOMERS", "20000"))
PASSWORD = "Bench-web-2026!"
SPEC = f"fxo:{TRUNKS},fxs:{AGENTS}"


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, round(len(s) * p / 100.0) - 1))], 1)


def _dist(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"p50": round(statistics.median(values), 1), "p95": _pct(values, 95), "p99": _pct(values, 99),
            "max": round(max(values), 1)}


def _line(proc: subprocess.Popen[str], timeout: float, what: str) -> str:
    with gevent.Timeout(timeout, RuntimeError(f"bench web: no answer from the {what}")):
        assert proc.stdout is not None
        line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"bench web: the {what} ended early (exit {proc.poll()})")
    return line.strip()


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rexian-web-bench-") as tmp:
        return _run(Path(tmp))


def _run(tmp: Path) -> dict[str, Any]:
    from appliance.acd.model import parse_config
    from appliance.acd.service import ACD
    from appliance.crm import db, demo, users
    from appliance.voiceboard.board import Board
    from appliance.voiceboard.prompts import PromptSet, build_test_set
    from appliance.web import agentapi
    from appliance.web.config import WebConfig
    from appliance.web.server import WebServer

    users.ARGON2_MEMORY_KIB, users.ARGON2_TIME_COST, users._dummy_hash = 1024, 1, None  # logins: not measured
    db.init_db(tmp / "data")
    demo.generate(customers=CUSTOMERS, articles=200, orders=200, seed=7)
    numbers = [str(r[0]) for r in db.execute(
        "SELECT number FROM customer_phone WHERE kind = 'mobile' GROUP BY number HAVING count(*) = 1"
        " ORDER BY random() LIMIT ?", [CALLS])]
    users.create_user("admin", PASSWORD, "admin")
    names = [f"agent{i + 1:02d}" for i in range(AGENTS)]
    for name in names:
        users.create_user(name, PASSWORD, "agent")
    gevent.get_hub().threadpool.apply(build_test_set, (tmp / "prompts",))
    cfg = parse_config({"acd": {
        "wrapup": 1.0,
        "queues": [{"name": "service", "strategy": "longest_idle",
                    "agents": [str(1001 + i) for i in range(AGENTS)],
                    "ring_timeout": 15, "max_wait": 600, "max_length": TRUNKS}],
        "agents": [{"id": str(1001 + i), "name": f"座席{i + 1}", "user": names[i], "station": TRUNKS + i}
                   for i in range(AGENTS)]}})
    assert cfg is not None
    board = Board("bench-web", SPEC)
    board.link_listen(tmp / "cable.sock")
    board.start()
    far = subprocess.Popen([sys.executable, "-m", "bench.far_web", "--socket", str(tmp / "cable.sock"),
                            "--spec", SPEC, "--numbers", ",".join(numbers)],
                           stdout=subprocess.PIPE, text=True)
    browser: subprocess.Popen[str] | None = None
    acd = None
    web = None
    offers: dict[tuple[str, str], float] = {}
    lag: list[float] = []
    try:
        _line(far, 30, "far side")
        with gevent.Timeout(15, RuntimeError("bench web: the cables did not come up")):
            while not all(c.status()["line_up"] for c in board.channels):
                gevent.sleep(0.05)
        acd = ACD(board, PromptSet(tmp / "prompts"), cfg)
        board.call_handler = acd.handle

        def offered(name: str, **data: Any) -> None:
            if name == "acd.call.offered":
                now = time.time()
                for agent in data.get("agents", []):
                    offers.setdefault((str(data["call_id"]), str(agent)), now)

        acd.events.subscribe(offered)
        acd.start()
        agentapi.bind(acd)
        web = WebServer(WebConfig(bind="127.0.0.1", port=0, secure_cookies=False))
        url = web.start().rstrip("/")
        browser = subprocess.Popen([sys.executable, "-m", "bench.web_browser", "--url", url, "--users",
                                    ",".join(names), "--password", PASSWORD],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = json.loads(_line(browser, 300, "browser"))

        def watch_hub() -> None:           # how late a 10 ms sleep wakes: the hub's own latency
            while True:
                t = time.perf_counter()
                gevent.sleep(0.01)
                lag.append((time.perf_counter() - t - 0.01) * 1000)

        watcher = gevent.spawn(watch_hub)
        t_calls = time.monotonic()
        far.send_signal(signal.SIGUSR1)
        failures: list[str] = []
        done = _line(far, 900, "far side")
        while not done.startswith("DONE"):
            failures.append(done)
            done = _line(far, 900, "far side")
        calls_s = time.monotonic() - t_calls
        with gevent.Timeout(60, RuntimeError("bench web: calls still up after the callers hung up")):
            while acd.calls:
                gevent.sleep(0.2)
        gevent.sleep(2.0)
        watcher.kill()
        assert browser.stdin is not None
        browser.stdin.write("collect\n")
        browser.stdin.flush()
        collected = json.loads(_line(browser, 120, "browser"))
    finally:
        if browser is not None and browser.poll() is None:
            browser.kill()
        far.terminate()
        far.wait(10)
        agentapi.bind(None)
        if acd is not None:
            acd.stop()
        if web is not None:
            web.stop()
        board.stop()
        db.close_db()

    offsets: list[float] = [float(c[0]) for c in ready["clock"] + collected["clock"]]
    worst: float = max(offsets, key=abs)
    bounds = [c[1] for c in ready["clock"] + collected["clock"]]
    agent_of = {names[i]: str(1001 + i) for i in range(AGENTS)}
    pop_ms: list[float] = []
    floor_ms: list[float] = []
    render_ms: list[float] = []
    lookup_ms: list[float] = []
    errors: list[str] = []
    for name, pops in collected["pops"].items():
        for p in pops or []:
            if "error" in p:
                errors.append(str(p["error"])[:100])
            t0 = offers.get((str(p.get("call", "")), agent_of[name]))
            if t0 is None or "shown" not in p:
                continue
            pop_ms.append(p["shown"] - t0 * 1000)
            floor_ms.append(p["received"] - t0 * 1000)
            render_ms.append(p["shown"] - p["received"])
            if "found" in p:
                lookup_ms.append(p["found"] - p["received"])
    pop, floor = _dist(pop_ms), _dist(floor_ms)
    return {
        "agents": AGENTS, "trunks": TRUNKS, "customers": CUSTOMERS, "calls": len(numbers),
        "far_side": done, "calls_s": round(calls_s, 1),
        "offers": len(offers), "pops_matched": len(pop_ms), "offers_without_pop": len(offers) - len(pop_ms),
        "pop_ms": pop, "sse_floor_ms": floor, "lookup_and_render_ms": _dist(render_ms),
        "lookup_fetch_ms": _dist(lookup_ms), "failed_calls": failures[:10],
        "pop_errors": errors[:10],
        "pop_vs_floor_p99": round(pop["p99"] / floor["p99"], 2) if pop and floor.get("p99") else None,
        "clock_offset_ms": {"median": round(statistics.median(offsets), 2),
                            "worst": round(worst, 2), "bound": round(max(bounds), 2)},
        "hub_lag_ms": _dist(lag),
        "how": "t0 = ACD emits acd.call.offered (time.time()); shown = the desk DOM shows the record "
               "(performance.timeOrigin + now()); one headless Chromium, 20 contexts; far side in "
               "another process; 2 vCPU shared",
        "goal": "ring -> pop p99 <= 150 ms with 20 agents and 120 calls",
    }


if __name__ == "__main__":
    print(json.dumps(run(), ensure_ascii=False, indent=2))
