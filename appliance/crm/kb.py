"""Knowledge base (知识库): categories, articles, search, view counts, pinned articles, and the
intake of questions the agents could not answer.

Search (``search``): 3+ characters through the FTS5 trigram index ``kb_fts`` (title, body,
keywords; bm25 rank, title hits weigh most); 2 characters through ``kb_gram``, every 2-character
part of the title and the keywords (燃气, 漏气, 缴费 are typical queries; trigram matches nothing
there); 1 character: titles and keywords containing it (a LIKE over kb_article: it scans, which at
tens of thousands of articles is a few ms). Pinned articles come first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from appliance.crm import audit, customer
from appliance.crm.common import (
    Actor,
    InvalidInput,
    NotFound,
    fts_phrase,
    like_escape,
    now_iso,
    search_text,
    text,
)
from appliance.crm.db import database, db_task

log = logging.getLogger(__name__)

LIMITS = {"category": 32, "title": 120, "body": 20000, "keywords": 200, "question": 500}
SEARCH_LIMIT = 20


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    parent_id: int | None


@dataclass(frozen=True)
class Article:
    id: int
    category_id: int | None
    title: str
    body: str
    keywords: str
    pinned: bool
    views: int
    created_at: str
    created_by: str
    updated_at: str


@dataclass(frozen=True)
class Question:
    id: int
    question: str
    phone: str
    asked_at: str
    asked_by: str
    status: str
    article_id: int | None


_COLUMNS = "id, category_id, title, body, keywords, pinned, views, created_at, created_by, updated_at"


def _article(row: Sequence[Any]) -> Article:
    v = list(row)
    v[5] = bool(v[5])
    return Article(*v)


def grams_of(title: str, keywords: str) -> set[str]:
    """The 2-character parts of the title and of each keyword (what a 2-character search finds)."""
    parts = [p.strip() for p in (title, *keywords.replace("，", ",").split(","))]
    return {
        g for p in parts for g in (p[i : i + 2] for i in range(len(p) - 1)) if not any(c.isspace() for c in g)
    }


def _grams(article_id: int, title: str, keywords: str) -> None:
    db = database()
    db.execute_sql("DELETE FROM kb_gram WHERE article_id = ?", (article_id,))
    for gram in sorted(grams_of(title, keywords)):
        db.execute_sql("INSERT OR IGNORE INTO kb_gram(gram, article_id) VALUES (?, ?)", (gram, article_id))


def _get(article_id: int) -> Article:
    row = database().execute_sql(f"SELECT {_COLUMNS} FROM kb_article WHERE id = ?", (article_id,)).fetchone()
    if row is None:
        raise NotFound(f"知识库文章不存在：{article_id}")
    return _article(row)


# ---- categories ----------------------------------------------------------------------------------


@db_task
def create_category(actor: Actor, name: str, parent_id: int | None = None) -> Category:
    label = text(name, "分类名称", LIMITS["category"], required=True)
    db = database()
    with db.atomic():
        if db.execute_sql("SELECT 1 FROM kb_category WHERE name = ?", (label,)).fetchone():
            raise InvalidInput(f"分类已存在：{label}")
        if (
            parent_id is not None
            and not db.execute_sql("SELECT 1 FROM kb_category WHERE id = ?", (parent_id,)).fetchone()
        ):
            raise NotFound(f"上级分类不存在：{parent_id}")
        cid = int(
            db.execute_sql(
                "INSERT INTO kb_category(name, parent_id) VALUES (?, ?)", (label, parent_id)
            ).lastrowid
        )
        audit.record(
            "kb_category_create",
            actor=actor.username,
            source=actor.source,
            target=f"kb_category:{cid}",
            details={"name": label, "parent_id": parent_id},
        )
    return Category(cid, label, parent_id)


@db_task
def categories() -> list[Category]:
    rows = database().execute_sql("SELECT id, name, parent_id FROM kb_category ORDER BY id")
    return [Category(int(a), str(b), None if c is None else int(c)) for a, b, c in rows]


# ---- articles ------------------------------------------------------------------------------------


def _values(title: str, body: str, keywords: str) -> tuple[str, str, str]:
    return (
        text(title, "标题", LIMITS["title"], required=True),
        text(body, "正文", LIMITS["body"], multiline=True),
        text(keywords, "关键词", LIMITS["keywords"]),
    )


@db_task
def _insert(actor: Actor, category_id: int | None, values: tuple[str, str, str], pinned: bool) -> Article:
    db = database()
    with db.atomic():
        if (
            category_id is not None
            and not db.execute_sql("SELECT 1 FROM kb_category WHERE id = ?", (category_id,)).fetchone()
        ):
            raise NotFound(f"分类不存在：{category_id}")
        stamp = now_iso()
        aid = int(
            db.execute_sql(
                "INSERT INTO kb_article(category_id, title, body, keywords, pinned, created_at, created_by,"
                " updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (category_id, *values, int(pinned), stamp, actor.username, stamp),
            ).lastrowid
        )
        _grams(aid, values[0], values[2])
        audit.record(
            "kb_article_create",
            actor=actor.username,
            source=actor.source,
            target=f"kb:{aid}",
            details={"title": values[0], "category_id": category_id, "pinned": pinned},
        )
        return _get(aid)


def create_article(
    actor: Actor,
    title: str,
    body: str = "",
    *,
    keywords: str = "",
    category_id: int | None = None,
    pinned: bool = False,
) -> Article:
    return _insert(actor, category_id, _values(title, body, keywords), bool(pinned))


@db_task
def _update(actor: Actor, article_id: int, changes: dict[str, Any]) -> Article:
    db = database()
    with db.atomic():
        before = _get(article_id)
        if (
            "category_id" in changes
            and changes["category_id"] is not None
            and not db.execute_sql(
                "SELECT 1 FROM kb_category WHERE id = ?", (changes["category_id"],)
            ).fetchone()
        ):
            raise NotFound(f"分类不存在：{changes['category_id']}")
        if changes:
            sets = ", ".join(f"{k} = ?" for k in changes)
            db.execute_sql(
                f"UPDATE kb_article SET {sets}, updated_at = ? WHERE id = ?",
                (*changes.values(), now_iso(), article_id),
            )
        after = _get(article_id)
        if {"title", "keywords"} & set(changes):
            _grams(article_id, after.title, after.keywords)
        audit.record(
            "kb_article_update",
            actor=actor.username,
            source=actor.source,
            target=f"kb:{article_id}",
            details={
                k: ("(changed)" if k == "body" else {"old": getattr(before, k), "new": v})
                for k, v in changes.items()
            },
        )
        return after


def update_article(
    actor: Actor,
    article_id: int,
    *,
    title: str | None = None,
    body: str | None = None,
    keywords: str | None = None,
    category_id: int | None = None,
    pinned: bool | None = None,
) -> Article:
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = text(title, "标题", LIMITS["title"], required=True)
    if body is not None:
        changes["body"] = text(body, "正文", LIMITS["body"], multiline=True)
    if keywords is not None:
        changes["keywords"] = text(keywords, "关键词", LIMITS["keywords"])
    if category_id is not None:
        changes["category_id"] = int(category_id)
    if pinned is not None:
        changes["pinned"] = int(bool(pinned))
    return _update(actor, int(article_id), changes)


def pin(actor: Actor, article_id: int, pinned: bool = True) -> Article:
    return update_article(actor, article_id, pinned=pinned)


@db_task
def get_article(article_id: int) -> Article:
    return _get(int(article_id))


@db_task
def view_article(actor: Actor, article_id: int) -> Article:
    """The article as an agent opens it: its view count goes up by one (audited like any write)."""
    db = database()
    with db.atomic():
        if not db.execute_sql(
            "UPDATE kb_article SET views = views + 1 WHERE id = ?", (int(article_id),)
        ).rowcount:
            raise NotFound(f"知识库文章不存在：{article_id}")
        audit.record("kb_article_view", actor=actor.username, source=actor.source, target=f"kb:{article_id}")
        return _get(int(article_id))


@db_task
def pinned_articles(limit: int = 20) -> list[Article]:
    rows = database().execute_sql(
        f"SELECT {_COLUMNS} FROM kb_article WHERE pinned ORDER BY updated_at DESC LIMIT ?",
        (max(1, min(int(limit), 200)),),
    )
    return [_article(r) for r in rows]


@db_task
def list_articles(*, category_id: int | None = None, limit: int = 200) -> list[Article]:
    """Articles for the editors' list: pinned first, then the last changed."""
    where, args = ("WHERE category_id = ?", (int(category_id),)) if category_id is not None else ("", ())
    rows = database().execute_sql(
        f"SELECT {_COLUMNS} FROM kb_article {where} ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ?",
        (*args, max(1, min(int(limit), 1000))),
    )
    return [_article(r) for r in rows]


@db_task
def most_viewed(limit: int = 20) -> list[Article]:
    rows = database().execute_sql(
        f"SELECT {_COLUMNS} FROM kb_article ORDER BY views DESC, id LIMIT ?", (max(1, min(int(limit), 200)),)
    )
    return [_article(r) for r in rows]


@db_task
def search(query: str, *, category_id: int | None = None, limit: int = SEARCH_LIMIT) -> list[Article]:
    """Articles matching ``query`` (see module doc), pinned first; odd text is matched literally."""
    value = search_text(query)
    limit = max(1, min(int(limit), 100))
    db = database()
    cat = " AND a.category_id = ?" if category_id is not None else ""
    extra: tuple[Any, ...] = (int(category_id),) if category_id is not None else ()
    select = "SELECT " + ", ".join(f"a.{c.strip()}" for c in _COLUMNS.split(",")) + " FROM kb_article a"
    if len(value) >= 3:
        sql = (
            select + " JOIN (SELECT rowid, bm25(kb_fts, 10.0, 1.0, 5.0) AS rank FROM kb_fts"
            " WHERE kb_fts MATCH ? ORDER BY rank LIMIT 500) f ON f.rowid = a.id WHERE 1"
            + cat
            + " ORDER BY a.pinned DESC, f.rank LIMIT ?"
        )
        rows = db.execute_sql(sql, (fts_phrase(value), *extra, limit))
    elif len(value) == 2:
        sql = (
            select
            + " JOIN kb_gram g ON g.article_id = a.id WHERE g.gram = ?"
            + cat
            + " ORDER BY a.pinned DESC, a.views DESC, a.id LIMIT ?"
        )
        rows = db.execute_sql(sql, (value, *extra, limit))
    else:
        pattern = "%" + like_escape(value) + "%"
        sql = (
            select
            + " WHERE (a.title LIKE ? ESCAPE '\\' OR a.keywords LIKE ? ESCAPE '\\')"
            + cat
            + " ORDER BY a.pinned DESC, a.views DESC, a.id LIMIT ?"
        )
        rows = db.execute_sql(sql, (pattern, pattern, *extra, limit))
    return [_article(r) for r in rows]


# ---- unanswered questions ------------------------------------------------------------------------


def _question(row: Sequence[Any]) -> Question:
    return Question(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        str(row[4]),
        str(row[5]),
        None if row[6] is None else int(row[6]),
    )


_Q = "SELECT id, question, phone, asked_at, asked_by, status, article_id FROM kb_question"


def submit_question(actor: Actor, question: str, phone: str = "") -> Question:
    """A question the knowledge base could not answer, for the editors."""
    body = text(question, "问题", LIMITS["question"], required=True, multiline=True)
    number = customer.normalize_phone(phone) if phone else ""
    return _insert_question(actor, body, number)


@db_task
def _insert_question(actor: Actor, body: str, number: str) -> Question:
    db = database()
    with db.atomic():
        qid = int(
            db.execute_sql(
                "INSERT INTO kb_question(question, phone, asked_at, asked_by) VALUES (?, ?, ?, ?)",
                (body, number, now_iso(), actor.username),
            ).lastrowid
        )
        audit.record(
            "kb_question_submit",
            actor=actor.username,
            source=actor.source,
            target=f"kb_question:{qid}",
            details={"question": body[:200]},
        )
        return _question(db.execute_sql(_Q + " WHERE id = ?", (qid,)).fetchone())


@db_task
def open_questions(limit: int = 100) -> list[Question]:
    rows = database().execute_sql(
        _Q + " WHERE status = 'open' ORDER BY id LIMIT ?", (max(1, min(int(limit), 1000)),)
    )
    return [_question(r) for r in rows]


@db_task
def answer_question(actor: Actor, question_id: int, article_id: int) -> Question:
    """Mark a question answered by an article (written for it, or found)."""
    db = database()
    with db.atomic():
        _get(int(article_id))
        if not db.execute_sql(
            "UPDATE kb_question SET status = 'answered', article_id = ?, answered_at = ?,"
            " answered_by = ? WHERE id = ? AND status = 'open'",
            (int(article_id), now_iso(), actor.username, int(question_id)),
        ).rowcount:
            raise NotFound(f"没有待处理的问题：{question_id}")
        audit.record(
            "kb_question_answer",
            actor=actor.username,
            source=actor.source,
            target=f"kb_question:{question_id}",
            details={"article_id": article_id},
        )
        return _question(db.execute_sql(_Q + " WHERE id = ?", (int(question_id),)).fetchone())
