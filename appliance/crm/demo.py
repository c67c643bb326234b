"""Demo data: plausible customers of a gas utility in 沈阳 (Shenyang), work orders, KB articles.

Deterministic for a seed. Customers and articles are bulk-inserted (executemany) on the database
thread in chunks of ``CHUNK`` rows, one transaction per chunk, bypassing the per-row service
functions (and their audit entries: one 'demo_generate' entry records the run). Search tables are
filled exactly as the services fill them (the FTS5 triggers, the name bigrams, the KB grams).
Work orders go through workorder.py, so they have real steps.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gevent

from appliance.crm import audit, kb, workorder
from appliance.crm.common import Actor, bigrams, now_iso
from appliance.crm.db import database, run_db

log = logging.getLogger(__name__)

CHUNK = 10_000
CITY = "沈阳市"
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚"
    "卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
DOUBLE_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "慕容")
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉梅飞鹏辉建国建华志强桂芝红梅文斌宇浩"
    "晨阳欣怡子涵梓萱一诺雨桐浩然博文俊杰佳琪思远德华淑珍凤兰玉兰海燕春梅立新国强永刚"
)
DISTRICTS = (
    ("和平区", "210102"),
    ("沈河区", "210103"),
    ("大东区", "210104"),
    ("皇姑区", "210105"),
    ("铁西区", "210106"),
    ("苏家屯区", "210111"),
    ("浑南区", "210112"),
    ("沈北新区", "210113"),
    ("于洪区", "210114"),
)
ROADS = (
    "南京北街",
    "中华路",
    "太原街",
    "北二马路",
    "青年大街",
    "市府大路",
    "小西路",
    "大东路",
    "黄河南大街",
    "崇山中路",
    "北陵大街",
    "兴华南街",
    "建设大路",
    "沈辽路",
    "卫工北街",
    "浑河站东路",
    "长白南路",
    "望花中街",
    "北海街",
    "滂江街",
    "文化路",
    "三好街",
    "南五马路",
    "十一纬路",
    "砂山街",
    "云峰北街",
    "重工街",
    "肇工街",
)
ESTATES = (
    "阳光",
    "金地",
    "万科",
    "华润",
    "保利",
    "碧桂园",
    "翡翠",
    "幸福",
    "和谐",
    "锦绣",
    "东方",
    "滨河",
    "春天",
    "紫郡",
    "名仕",
    "新世界",
    "龙湖",
    "恒大",
    "水岸",
    "香榭",
)
MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "177",
    "180",
    "181",
    "182",
    "186",
    "187",
    "188",
    "189",
    "198",
    "199",
)
METERS = ("IC卡表", "普通膜式表", "物联网表", "远传表")
KB_TOPICS = (
    "燃气表",
    "IC卡",
    "灶具",
    "热水器",
    "壁挂炉",
    "暖气片",
    "供暖",
    "水表",
    "管道",
    "阀门",
    "报警器",
    "缴费",
    "过户",
    "开户",
    "安检",
    "停气",
    "停水",
    "停暖",
    "维修",
    "价格",
    "发票",
    "预约",
    "漏气",
    "异味",
)
KB_PROBLEMS = (
    "不走字怎么办",
    "如何充值",
    "打不着火",
    "常见故障",
    "收费标准",
    "办理流程",
    "需要带什么材料",
    "多长时间能修好",
    "安全使用须知",
    "报修电话",
    "漏水如何处理",
    "温度不够",
    "噪音大",
    "显示错误代码",
    "余额查询",
    "更换电池",
    "自检方法",
    "夜间紧急处理",
    "冬季注意事项",
    "新房通气",
)


@dataclass(frozen=True)
class DemoSummary:
    customers: int
    articles: int
    orders: int
    first_account: str


def person_name(rng: random.Random) -> str:
    surname = rng.choice(DOUBLE_SURNAMES) if rng.random() < 0.01 else rng.choice(SURNAMES)
    one = rng.random() < 0.45
    given = rng.choice(GIVEN) if one else rng.choice(GIVEN) + rng.choice(GIVEN)
    return surname + given


def address(rng: random.Random) -> tuple[str, str, str]:
    district, code = rng.choice(DISTRICTS)
    street = f"{rng.choice(ROADS)}{rng.randint(1, 399)}号"
    if rng.random() < 0.7:
        street += (
            f"{rng.choice(ESTATES)}小区{rng.randint(1, 40)}栋{rng.randint(1, 6)}单元"
            f"{rng.randint(1, 33)}{rng.randint(1, 4):02d}室"
        )
    return f"{CITY}{district}{street}", district, code


def mobile(rng: random.Random) -> str:
    return rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _customer_rows(rng: random.Random, first_id: int, count: int, stamp: str) -> Iterator[tuple[Any, ...]]:
    for i in range(count):
        cid = first_id + i
        addr, district, code = address(rng)
        grade = "vip" if rng.random() < 0.02 else ("by_fee" if rng.random() < 0.1 else "normal")
        yield (
            cid,
            f"{cid:08d}",
            person_name(rng),
            rng.choice("MF"),
            addr,
            district,
            code,
            rng.randint(1, 6),
            rng.randint(1, 33),
            rng.choice(METERS),
            grade,
            rng.randrange(-5000, 500_000),
            stamp,
            stamp,
        )


def _insert_customers(seed: int, count: int) -> int:
    """On the database thread: bulk insert; returns the first new id."""
    db = database()
    rng = random.Random(seed)
    first = int(db.execute_sql("SELECT COALESCE(MAX(id), 0) + 1 FROM customer").fetchone()[0])
    stamp = now_iso()
    done = 0
    while done < count:
        n = min(CHUNK, count - done)
        rows = list(_customer_rows(rng, first + done, n, stamp))
        phones: list[tuple[int, str, str, str]] = []
        grams: list[tuple[str, int]] = []
        for row in rows:
            cid = row[0]
            number = mobile(rng)
            phones.append((cid, number, f"{number[:3]}-{number[3:7]}-{number[7:]}", "mobile"))
            if rng.random() < 0.3:
                home = f"024{rng.randrange(2 * 10**7, 9 * 10**7):08d}"
                phones.append((cid, home, f"024-{home[3:]}", "home"))
            grams += [(g, cid) for g in bigrams(row[2])]
        with db.atomic():
            db.cursor().executemany(
                "INSERT INTO customer(id, account_no, name, gender, address, region, region_code,"
                " household_size,"
                " floor, meter_type, grade, balance_fen, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.cursor().executemany(
                "INSERT OR IGNORE INTO customer_phone(customer_id, number, raw, kind) VALUES (?, ?, ?, ?)",
                phones,
            )
            db.cursor().executemany(
                "INSERT OR IGNORE INTO customer_name_gram(gram, customer_id) VALUES (?, ?)", grams
            )
        done += n
    return first


def _insert_articles(seed: int, count: int, actor: str) -> int:
    db = database()
    rng = random.Random(seed + 1)
    with db.atomic():
        cats = {}
        for name in ("燃气", "供暖", "供水", "收费", "安全", "服务"):
            db.execute_sql("INSERT OR IGNORE INTO kb_category(name) VALUES (?)", (name,))
            cats[name] = int(
                db.execute_sql("SELECT id FROM kb_category WHERE name = ?", (name,)).fetchone()[0]
            )
    first = int(db.execute_sql("SELECT COALESCE(MAX(id), 0) + 1 FROM kb_article").fetchone()[0])
    stamp = now_iso()
    done = 0
    while done < count:
        n = min(CHUNK, count - done)
        rows, grams = [], []
        for i in range(n):
            aid = first + done + i
            topic, problem = rng.choice(KB_TOPICS), rng.choice(KB_PROBLEMS)
            title = f"{topic}{problem}（{aid}）"
            keywords = ",".join(sorted({topic, rng.choice(KB_TOPICS)}))
            body = (
                f"关于{topic}{problem}：请先确认{rng.choice(KB_TOPICS)}状态，"
                f"再按{rng.choice(ROADS)}营业厅的指引办理。如有疑问请拨打服务热线。"
            )
            rows.append(
                (
                    aid,
                    rng.choice(list(cats.values())),
                    title,
                    body,
                    keywords,
                    int(rng.random() < 0.001),
                    rng.randrange(500),
                    stamp,
                    actor,
                    stamp,
                )
            )
            grams += [(g, aid) for g in kb.grams_of(title, keywords)]
        with db.atomic():
            db.cursor().executemany(
                "INSERT INTO kb_article(id, category_id, title, body, keywords, pinned, views, created_at,"
                " created_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.cursor().executemany("INSERT OR IGNORE INTO kb_gram(gram, article_id) VALUES (?, ?)", grams)
        done += n
    return first


def _orders(seed: int, count: int, first_customer: int, customers: int, actor: Actor) -> None:
    rng = random.Random(seed + 2)
    teams = workorder.list_teams()
    if not teams:
        teams = [
            workorder.create_team(actor, f"{d[:2]}维修班", person_name(rng), mobile(rng))
            for d, _code in DISTRICTS[:4]
        ]
    for i in range(count):
        kind = rng.choice(workorder.TYPES)
        cid = first_customer + rng.randrange(max(1, customers))
        topic = rng.choice(KB_TOPICS)
        order = workorder.register(
            actor,
            kind,
            f"{topic}{rng.choice(KB_PROBLEMS)}",
            customer_id=cid,
            description="来电反映",
            problem_type=topic,
            customer_type="residential",
        )
        stage = i % 4
        if kind in workorder.IMMEDIATE_TYPES and stage:
            workorder.answer_and_close(actor, order.id, "已当场解答")
        elif stage:
            team = rng.choice(teams)
            workorder.dispatch(actor, order.id, team.id)
            if stage >= 2:
                tech = Actor(f"tech{team.id}", "technician", team.id)
                workorder.accept(tech, order.id, "已到现场核实")
                workorder.reply(tech, order.id, "已处理完毕")
            if stage == 3:
                workorder.answer(actor, order.id, "问题已解决，感谢来电")
                workorder.close(actor, order.id)
        gevent.sleep(0)


def generate(
    *, customers: int = 1000, articles: int = 200, orders: int = 50, seed: int = 6, actor: Actor | None = None
) -> DemoSummary:
    """Add demo data to the open database (callable from a greenlet: the work runs on the DB thread)."""
    who = actor or Actor("demo", "admin", None, "system")
    first = run_db(_insert_customers, seed, customers) if customers else 1
    if articles:
        run_db(_insert_articles, seed, articles, who.username)
    if customers and orders:
        _orders(seed, orders, first, customers, who)
    audit.record(
        "demo_generate",
        actor=who.username,
        source=who.source,
        details={"customers": customers, "articles": articles, "orders": orders, "seed": seed},
    )
    log.info(
        "demo data: %d customers, %d articles, %d work orders (seed %d)", customers, articles, orders, seed
    )
    return DemoSummary(customers, articles, orders, f"{first:08d}")


DEMO_CALLER_SAMPLE = 40         # phone numbers of demo customers handed to the simulated callers


def _customer_count() -> int:
    return int(database().execute_sql("SELECT COUNT(*) FROM customer").fetchone()[0])


def _sample_phones(n: int) -> list[str]:
    sql = "SELECT number FROM customer_phone WHERE kind = 'mobile' ORDER BY id LIMIT ?"
    return [str(r[0]) for r in database().execute_sql(sql, (n,)).fetchall()]


def ensure_demo(customers: int, articles: int = 200, orders: int = 50) -> list[str]:
    """`./build.sh run`: fill an EMPTY database with demo data (never touches one that has customers);
    returns phone numbers of demo customers, so that simulated callers are known and pop on the desk."""
    if customers > 0 and run_db(_customer_count) == 0:
        summary = generate(customers=customers, articles=articles, orders=orders)
        log.info("demo data: %s", summary)
    return run_db(_sample_phones, DEMO_CALLER_SAMPLE)
