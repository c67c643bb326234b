"""Customer and knowledge-base editing pages: what an agent saves is in the file, bad input comes
back in Chinese with what was typed, every change is in the audit log."""

from __future__ import annotations

import re

from appliance.crm import audit, customer, kb
from appliance.web.app import App

from .client import Client
from .conftest import World, logged_in


def form(**fields: str) -> dict[str, str]:
    base = {"account_no": "", "name": "", "address": "", "region": "", "region_code": "", "meter_type": "",
            "email": "", "gender": "", "grade": "normal", "household_size": "", "floor": "", "notes": ""}
    return base | fields


def refused(res: object, needle: str) -> str:
    text = res.text  # type: ignore[attr-defined]
    assert res.status == 400, (res.status, text[:300])  # type: ignore[attr-defined]
    alert = re.search(r'<p class="error" role="alert" id="form-error">([^<]*)</p>', text)
    assert alert and needle in alert.group(1), (needle, alert.group(1) if alert else text[:500])
    return text


def test_agent_creates_a_customer_from_the_pop_number_and_edits_it(app: App, world: World) -> None:
    agent = logged_in(app, "u-agent")
    page = agent.get("/customers/new?phone=13987654321").text
    assert 'value="13987654321"' in page, "the caller's number is filled in"
    res = agent.post("/customers", form(account_no="200300400", name="刘芳", address="和平区南京街5号",
                                        region="和平", grade="vip", household_size="3", floor="5",
                                        phone_0="13987654321", kind_0="mobile",
                                        phone_1="024-2345 6789", kind_1="home"))
    assert res.status == 303, res.text[:500]
    (found,) = customer.find_by_phone("139 8765 4321")
    assert (found.name, found.account_no, found.grade, found.household_size, found.floor) == (
        "刘芳", "200300400", "vip", 3, 5)
    assert [p.number for p in found.phones] == ["13987654321", "02423456789"]
    assert [p.kind for p in found.phones] == ["手机", "家庭"]
    assert res.header("Location").startswith(f"/customers/{found.id}/edit?msg=")
    page = agent.get(res.header("Location")).text
    assert "已建档：刘芳（户号 200300400）" in page and 'value="和平区南京街5号"' in page

    res = agent.post(f"/customers/{found.id}", form(name="刘芳", address="和平区南京街7号", grade="vip",
                                                    phone_0="13987654321", kind_0="mobile"))
    assert res.status == 303
    after = customer.get_customer(found.id)
    assert after.address == "和平区南京街7号" and [p.number for p in after.phones] == ["13987654321"]
    entries = [r for r in audit.recent(20) if r.target == f"customer:{found.id}"]
    assert [r.action for r in entries] == ["customer_update", "customer_create"]
    assert entries[0].actor == "u-agent"
    assert entries[0].details["address"] == {"old": "和平区南京街5号", "new": "和平区南京街7号"}


def test_bad_customer_input_is_refused_in_chinese_and_keeps_what_was_typed(app: App, world: World) -> None:
    agent = logged_in(app, "u-agent")
    text = refused(agent.post("/customers", form(account_no="300", name="赵强", address="铁西区北一路3号",
                                                 phone_0="1381234567")), "手机号码应为11位")
    assert 'value="赵强"' in text and 'value="铁西区北一路3号"' in text and 'value="1381234567"' in text
    refused(agent.post("/customers", form(account_no="300", name="赵强", phone_0="电话")), "电话号码无效")
    refused(agent.post("/customers", form(account_no="100200300", name="赵强")), "户号已存在")
    refused(agent.post("/customers", form(account_no="301", name="")), "姓名不能为空")
    refused(agent.post("/customers", form(account_no="30 1", name="赵强")), "户号无效")
    res = agent.post("/customers", form(account_no="302", name="赵强", household_size="三"))
    refused(res, "家庭人数必须是整数")
    refused(agent.post("/customers", form(account_no="303", name="赵强", email="zhao@")), "电子邮件地址无效")
    refused(agent.post("/customers", form(account_no="304", name="赵强", grade="gold")), "客户等级无效")
    refused(agent.post("/customers", form(account_no="305", name="赵" * 65)), "姓名过长")
    cid = world.customer.id
    refused(agent.post(f"/customers/{cid}", form(name="王伟东", floor="99999")), "楼层")
    assert customer.get_by_account("300") is None and customer.get_customer(cid).floor == 0
    assert agent.post("/customers", form(account_no="306", name="赵强"), csrf=False).status == 403
    assert agent.get("/customers/99999/edit").status == 404


def test_kb_articles_are_written_pinned_and_found(app: App, world: World) -> None:
    agent = logged_in(app, "u-agent")
    res = agent.post("/kb", {"title": "燃气表不走字怎么办", "body": "先检查表前阀门是否打开。\n再……",
                             "keywords": "燃气表,不走字", "new_category": "表具", "category_id": ""})
    assert res.status == 303, res.text[:300]
    aid = int(res.header("Location").split("/")[2])
    res = agent.post("/kb", {"title": "缴费方式", "body": "营业厅、银行、手机缴费。", "keywords": "缴费",
                             "category_id": "", "pinned": "1"})
    pinned_id = int(res.header("Location").split("/")[2])
    listing = agent.get("/kb").text
    assert listing.index(f'id="kb-{pinned_id}"') < listing.index(f'id="kb-{aid}"'), "pinned first"
    assert "表具" in listing
    assert [a.id for a in kb.search("燃气表")] == [aid]

    res = agent.post(f"/kb/{aid}/pin", {"pinned": "1"})
    assert res.status == 303 and kb.get_article(aid).pinned
    cat = kb.get_article(aid).category_id
    res = agent.post(f"/kb/{aid}", {"title": "燃气表不走字", "body": "先检查阀门。", "keywords": "燃气表",
                                     "category_id": str(cat), "pinned": "1"})
    assert res.status == 303
    a = kb.get_article(aid)
    assert (a.title, a.body, a.pinned, a.category_id) == ("燃气表不走字", "先检查阀门。", True, cat)
    res = agent.post(f"/kb/{aid}", {"title": " ", "body": "新正文", "category_id": ""})
    text = refused(res, "标题不能为空")
    assert "新正文" in text and kb.get_article(aid).body == "先检查阀门。"
    refused(agent.post("/kb", {"title": "x", "category_id": "abc"}), "分类无效")
    refused(agent.post("/kb", {"title": "x", "category_id": "999"}), "分类不存在")
    actions = [(r.action, r.actor) for r in audit.recent(30) if r.target.startswith("kb")]
    assert ("kb_article_create", "u-agent") in actions and ("kb_article_update", "u-agent") in actions
    assert sum(1 for act, _ in actions if act == "kb_article_update") == 2      # the pin, the edit
    assert logged_in(app, "u-technician").get("/kb").status == 403


def test_desk_record_links_to_the_editing_page(client: Client, world: World, app: App) -> None:
    agent = logged_in(app, "u-agent")
    assert 'href="/customers/new"' in agent.get("/desk").text
    assert agent.get(f"/customers/{world.customer.id}/edit").status == 200
