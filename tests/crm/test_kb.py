"""Knowledge base: Chinese keyword search (1, 2 and 3+ characters), pinned first, view counts,
unanswered questions, audit, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.crm import audit, db, kb
from appliance.crm.common import Actor, InvalidInput, NotFound

EDITOR = Actor("wu", "supervisor")
AGENT = Actor("alice", "agent")


@pytest.fixture
def articles(data_dir: Path) -> dict[str, kb.Article]:
    gas = kb.create_category(EDITOR, "燃气")
    heat = kb.create_category(EDITOR, "供暖")
    return {
        "meter": kb.create_article(
            EDITOR,
            "燃气表不走字怎么办",
            "先检查电池，再看阀门是否打开。",
            keywords="燃气表,电池",
            category_id=gas.id,
        ),
        "card": kb.create_article(
            EDITOR, "IC卡充值方法", "可在营业厅或微信公众号充值。", keywords="IC卡,缴费", category_id=gas.id
        ),
        "heat": kb.create_article(
            EDITOR, "暖气不热的原因", "请排气，检查阀门。", keywords="供暖,暖气片", category_id=heat.id
        ),
        "leak": kb.create_article(
            EDITOR,
            "闻到燃气味怎么办",
            "立即关闭阀门，开窗通风，到室外拨打抢险电话。",
            keywords="漏气,燃气,安全",
        ),
    }


def titles(found: list[kb.Article]) -> list[str]:
    return [a.title for a in found]


def test_search_by_two_and_more_characters(articles: dict[str, kb.Article]) -> None:
    assert set(titles(kb.search("燃气"))) == {"燃气表不走字怎么办", "闻到燃气味怎么办"}  # 2 chars: grams
    assert titles(kb.search("漏气")) == ["闻到燃气味怎么办"]  # a keyword
    assert titles(kb.search("充值")) == ["IC卡充值方法"]
    assert titles(kb.search("燃气表")) == ["燃气表不走字怎么办"]  # 3+: trigram
    assert titles(kb.search("开窗通风")) == ["闻到燃气味怎么办"]  # in the body
    assert set(titles(kb.search("阀门是否"))) == {"燃气表不走字怎么办"}
    assert titles(kb.search("暖")) == ["暖气不热的原因"]  # 1 char
    assert kb.search("自来水") == [] and kb.search("水费") == []
    gas = next(c for c in kb.categories() if c.name == "燃气")
    assert titles(kb.search("阀门", category_id=gas.id)) == []  # not in title/keywords
    assert set(titles(kb.search("检查阀门", category_id=None))) == {"暖气不热的原因"}


def test_pinned_first_and_view_counts(articles: dict[str, kb.Article]) -> None:
    leak = articles["leak"]
    kb.pin(EDITOR, leak.id)
    assert titles(kb.search("燃气"))[0] == "闻到燃气味怎么办"
    assert titles(kb.search("怎么办"))[0] == "闻到燃气味怎么办"
    assert titles(kb.pinned_articles()) == ["闻到燃气味怎么办"]
    kb.pin(EDITOR, leak.id, False)
    assert kb.pinned_articles() == []
    for _ in range(3):
        seen = kb.view_article(AGENT, articles["card"].id)
    assert seen.views == 3 and kb.get_article(articles["card"].id).views == 3
    kb.view_article(AGENT, articles["heat"].id)
    assert titles(kb.most_viewed(2)) == ["IC卡充值方法", "暖气不热的原因"]
    views = [e for e in audit.recent(10) if e.action == "kb_article_view"]
    assert [(e.actor, e.target) for e in views][-3:] == [("alice", f"kb:{articles['card'].id}")] * 3
    with pytest.raises(NotFound, match="知识库文章不存在"):
        kb.view_article(AGENT, 999)


def test_update_moves_search_entries_and_is_audited(articles: dict[str, kb.Article]) -> None:
    card = articles["card"]
    kb.update_article(EDITOR, card.id, title="物联网表缴费方法", keywords="物联网表")
    assert kb.search("充值方法") == []
    assert kb.search("IC") == []
    assert titles(kb.search("联网")) == ["物联网表缴费方法"]
    entry = next(e for e in audit.recent(5) if e.action == "kb_article_update")
    assert (entry.actor, entry.target) == ("wu", f"kb:{card.id}")
    assert entry.details["title"] == {"old": "IC卡充值方法", "new": "物联网表缴费方法"}
    created = [e.action for e in audit.recent(20)]
    assert created.count("kb_article_create") == 4 and created.count("kb_category_create") == 2


@pytest.mark.parametrize("query", ['"', "%", "_", "燃气%", '" OR "', "燃气 NEAR 阀门", "*", "燃气' --", "\\"])
def test_search_text_is_literal(articles: dict[str, kb.Article], query: str) -> None:
    assert kb.search(query) == []


def test_unanswered_questions(articles: dict[str, kb.Article]) -> None:
    q = kb.submit_question(AGENT, "阶梯气价怎么计算？", phone="138-1234-5678")
    assert (q.status, q.phone, q.asked_by) == ("open", "13812345678", "alice")
    assert [x.question for x in kb.open_questions()] == ["阶梯气价怎么计算？"]
    article = kb.create_article(EDITOR, "阶梯气价计算方法", "第一档……")
    answered = kb.answer_question(EDITOR, q.id, article.id)
    assert (answered.status, answered.article_id) == ("answered", article.id)
    assert kb.open_questions() == []
    with pytest.raises(NotFound, match="没有待处理的问题"):
        kb.answer_question(EDITOR, q.id, article.id)
    assert {"kb_question_submit", "kb_question_answer"} <= {e.action for e in audit.recent(5)}


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: kb.create_article(EDITOR, ""), "标题不能为空"),
        (lambda: kb.create_article(EDITOR, "题" * 121), "标题过长"),
        (lambda: kb.create_article(EDITOR, "标题", "x" * 20001), "正文过长"),
        (lambda: kb.create_article(EDITOR, "标题", category_id=999), "分类不存在"),
        (lambda: kb.create_category(EDITOR, "燃气"), "分类已存在"),
        (lambda: kb.submit_question(AGENT, ""), "问题不能为空"),
        (lambda: kb.submit_question(AGENT, "问题", phone="abc"), "电话号码无效"),
        (lambda: kb.search(""), "不能为空"),
        (lambda: kb.search("查" * 65), "过长"),
    ],
)
def test_bad_input(articles: dict[str, kb.Article], call: object, needle: str) -> None:
    count = db.execute("SELECT count(*) FROM kb_article")
    with pytest.raises((InvalidInput, NotFound), match=needle):
        call()  # type: ignore[operator]
    assert db.execute("SELECT count(*) FROM kb_article") == count
