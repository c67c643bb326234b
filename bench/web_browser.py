"""Browser side of the web benchmark, in its own process (Playwright's sync API, real Chromium):
one headless browser, one context (own cookies) and desk page per agent.

Protocol on stdin/stdout, one JSON object a line: it logs every agent in and waits until each desk
has its event stream open and shows its agent ready, then prints ``{"ready": ..., "clock": ...}``;
on the line ``collect`` it prints ``{"pops": ..., "clock": ...}`` and exits.

``clock``: per page, the page's clock (performance.timeOrigin + performance.now(), epoch ms) minus
this process's time.time() at the midpoint of the evaluate() round trip, and half that round trip
(the bound of the error): the check that page times and the server's wall clock compare.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows"]


def clock(page: Page) -> tuple[float, float]:
    t0 = time.time()
    browser_ms = float(page.evaluate("performance.timeOrigin + performance.now()"))
    t1 = time.time()
    return browser_ms - (t0 + t1) * 500.0, (t1 - t0) * 500.0


def say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--users", required=True, help="comma-separated user names")
    ap.add_argument("--password", required=True)
    args = ap.parse_args()
    names = args.users.split(",")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pages: dict[str, Page] = {}
        for name in names:
            page = browser.new_context().new_page()
            page.goto(args.url + "/login")
            page.fill("#username", name)
            page.fill("#password", args.password)
            page.click("#submit")
            page.wait_for_url(args.url + "/desk")
            pages[name] = page
        for page in pages.values():
            page.locator("body[data-sse=open]").wait_for(state="attached", timeout=30_000)
            page.locator("#agent-state[data-state=ready]").wait_for(state="attached", timeout=30_000)
        say({"ready": len(pages), "clock": [clock(p) for p in pages.values()]})
        for line in sys.stdin:
            if line.strip() == "collect":
                break
        pops = {name: page.evaluate("window.rexianPops") for name, page in pages.items()}
        say({"pops": pops, "clock": [clock(p) for p in pages.values()]})
        browser.close()


if __name__ == "__main__":
    main()
