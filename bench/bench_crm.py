"""crm: customer lookups and searches at 1M customers, KB search at 20k articles.

A fresh database in a temporary directory is filled by ``appliance.crm.demo.generate`` (bulk
inserts in the database thread), then each query is timed through the service function a caller
uses (so the figures include the hop from the calling greenlet to the database thread and back):

- phone lookup (``customer.find_by_phone``, the screen pop) with numbers of existing customers,
  typed in varied formats;
- 1- and 2-character name search (``customer.search(name, field='name')``: index prefix + bigram
  table), 2-character region search (index prefix);
- address search (``customer.search(road + number, field='address')``: FTS5 trigram);
- KB search (``kb.search``): 2-character topics (gram table) and longer phrases (trigram).

Sizes: BENCH_CRM_CUSTOMERS (default 1,000,000), BENCH_CRM_ARTICLES (20,000), BENCH_CRM_QUERIES (1,000
per kind).
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CUSTOMERS = int(os.environ.get("BENCH_CRM_CUSTOMERS", "1000000"))
ARTICLES = int(os.environ.get("BENCH_CRM_ARTICLES", "20000"))
QUERIES = int(os.environ.get("BENCH_CRM_QUERIES", "1000"))


def _timed(queries: list[Any], fn: Callable[[Any], list[Any]]) -> dict[str, Any]:
    times, found = [], 0
    for q in queries:
        t0 = time.perf_counter()
        rows = fn(q)
        times.append((time.perf_counter() - t0) * 1000)
        found += bool(rows)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p99_ms": round(times[int(len(times) * 0.99) - 1], 3),
        "max_ms": round(times[-1], 3),
        "queries": len(times),
        "with_results": found,
    }


def run() -> dict[str, Any]:
    from appliance.crm import customer, db, demo, kb

    rng = random.Random(42)
    with tempfile.TemporaryDirectory(prefix="rexian-crm-bench-") as tmp:
        db.init_db(Path(tmp) / "data")
        try:
            t0 = time.perf_counter()
            demo.generate(customers=CUSTOMERS, articles=ARTICLES, orders=0, seed=6)
            generate_s = time.perf_counter() - t0
            size_mb = round(db.db_path().stat().st_size / 2**20, 1)
            numbers = [
                r[0]
                for r in db.execute(
                    "SELECT number FROM customer_phone WHERE id IN (SELECT abs(random()) %"
                    " (SELECT max(id) FROM"
                    " customer_phone) + 1 FROM customer_phone LIMIT ?)",
                    [QUERIES],
                )
            ]
            styles = [
                lambda n: n,
                lambda n: f"+86 {n[:3]} {n[3:7]} {n[7:]}",
                lambda n: f"0086-{n}",
                lambda n: f"{n[:3]}-{n[3:7]}-{n[7:]}",
            ]
            phones = [rng.choice(styles)(n) for n in numbers]
            two_char = [rng.choice(demo.SURNAMES) + rng.choice(demo.GIVEN) for _ in range(QUERIES)]
            addresses = [f"{rng.choice(demo.ROADS)}{rng.randint(1, 399)}号" for _ in range(QUERIES)]
            kb2 = [rng.choice(demo.KB_TOPICS)[:2] for _ in range(QUERIES)]
            kb3 = [rng.choice(demo.KB_TOPICS) + rng.choice(demo.KB_PROBLEMS)[:2] for _ in range(QUERIES)]
            for q in phones[:20]:  # warm the cache a little, as a running box would be
                customer.find_by_phone(q)
            result = {
                "customers": CUSTOMERS,
                "articles": ARTICLES,
                "generate_s": round(generate_s, 1),
                "db_mb": size_mb,
                "phone_lookup": _timed(phones, customer.find_by_phone),
                "name_search_2char": _timed(two_char, lambda q: customer.search(q, field="name")),
                "name_search_1char": _timed(
                    [rng.choice(demo.SURNAMES) for _ in range(QUERIES)],
                    lambda q: customer.search(q, field="name"),
                ),
                "region_search_2char": _timed(
                    [rng.choice(demo.DISTRICTS)[0][:2] for _ in range(QUERIES)],
                    lambda q: customer.search(q, field="address"),
                ),
                "address_search": _timed(addresses, lambda q: customer.search(q, field="address")),
                "kb_search_2char": _timed(kb2, kb.search),
                "kb_search_3plus": _timed(kb3, kb.search),
                "how": "service calls from a greenlet to the DB thread, warm cache, 2 vCPU",
                "goal": "phone lookup p99 < 2 ms at 1M customers; searches p99 < 50 ms",
            }
        finally:
            db.close_db()
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run(), ensure_ascii=False, indent=2))
