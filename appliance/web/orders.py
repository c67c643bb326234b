"""Work-order helpers of the web: allow-listed list parameters, actions, CSV and XLSX export."""

from __future__ import annotations

import csv
import datetime as _dt
import io
import zipfile
from typing import Any
from xml.sax.saxutils import escape

from appliance.crm import workorder
from appliance.crm.common import TZ_CN, Actor
from appliance.crm.db import off_hub
from appliance.web.routes import WebError

SORT_NAMES = {
    "created_at": "登记时间",
    "due_at": "时限",
    "serial": "工单号",
    "priority": "优先级",
    "state": "状态",
}
PRIORITY_NAMES = {"urgent": "特急", "high": "紧急", "normal": "一般", "low": "低"}
PRIORITY_ORDER = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
LIST_PARAMS = ("state", "type", "sort", "dir", "team")
EXPORT_COLUMNS = [
    ("serial", "工单号"),
    ("type", "类型"),
    ("state", "状态"),
    ("priority", "优先级"),
    ("title", "标题"),
    ("caller_phone", "来电号码"),
    ("address", "地址"),
    ("team", "班组"),
    ("created_at", "登记时间"),
    ("due_at", "时限"),
    ("final_answer", "最终答复"),
]


def list_params(query: dict[str, str]) -> dict[str, str]:
    """The list filters, each checked against its allow-list (anything else is a 400, never SQL)."""
    out = {
        "state": query.get("state", ""),
        "type": query.get("type", ""),
        "sort": query.get("sort", "created_at") or "created_at",
        "dir": query.get("dir", "desc") or "desc",
        "team": query.get("team", ""),
    }
    if out["state"] and out["state"] not in {s.value for s in workorder.State}:
        raise WebError(400, "筛选条件“状态”无效")
    if out["type"] and out["type"] not in workorder.TYPES:
        raise WebError(400, "筛选条件“类型”无效")
    if out["sort"] not in SORT_NAMES:
        raise WebError(400, "排序字段无效，可选：" + "、".join(SORT_NAMES.values()))
    if out["dir"] not in ("asc", "desc"):
        raise WebError(400, "排序顺序无效（asc 或 desc）")
    if out["team"] and not (out["team"].isdigit() and len(out["team"]) < 10):
        raise WebError(400, "筛选条件“班组”无效")
    return out


def query_orders(actor: Actor, params: dict[str, str], limit: int = 1000) -> list[workorder.WorkOrder]:
    rows = workorder.list_orders(actor, state=params.get("state") or None, limit=limit)
    if params.get("type"):
        rows = [o for o in rows if o.type == params["type"]]
    if params.get("team"):
        rows = [o for o in rows if o.team_id == int(params["team"])]
    sort = params.get("sort", "created_at")

    def key(o: workorder.WorkOrder) -> Any:
        if sort == "priority":
            return (PRIORITY_ORDER.get(o.priority, 9), o.id)
        return (str(getattr(o, sort)), o.id)

    return sorted(rows, key=key, reverse=params.get("dir", "desc") == "desc")


def team_id_of(value: str) -> int:
    if not value.strip().isdigit() or len(value.strip()) > 9:
        raise WebError(400, "班组无效")
    return int(value)


def team_name(team: int | None) -> str:
    if team is None:
        return ""
    names = {t.id: t.name for t in workorder.list_teams()}
    return names.get(team, str(team))


def local_time(stamp: str | None) -> str:
    if not stamp:
        return ""
    try:
        return _dt.datetime.fromisoformat(stamp).astimezone(TZ_CN).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp


def allowed_actions(order: workorder.WorkOrder, actor: Actor) -> list[str]:
    out = []
    for action, (states, _target, roles) in workorder.TRANSITIONS.items():
        if order.state in states and actor.role in roles:
            if actor.role in workorder.TECH_ROLES and order.team_id != actor.team_id:
                continue
            out.append(action)
    if order.state is workorder.State.REGISTERED and order.type not in workorder.IMMEDIATE_TYPES:
        out = [a for a in out if a != "answer"]
    return out


def act(
    actor: Actor, order_id: int, action: str, *, note: str = "", team: str = "", final_answer: str = ""
) -> workorder.WorkOrder:
    """One step of the order's state machine (checks and audit in crm)."""
    if action not in workorder.TRANSITIONS:
        raise WebError(400, "操作无效")
    if action in ("dispatch", "redispatch", "transfer"):
        fn = {
            "dispatch": workorder.dispatch,
            "redispatch": workorder.redispatch,
            "transfer": workorder.transfer,
        }[action]
        return fn(actor, order_id, team_id_of(team), note)
    if action == "answer":
        return workorder.answer(actor, order_id, final_answer)
    if action == "reply":
        return workorder.reply(actor, order_id, note)
    simple = {"accept": workorder.accept, "resume": workorder.resume, "close": workorder.close}
    return simple[action](actor, order_id, note)


def export_rows(orders: list[workorder.WorkOrder]) -> list[list[str]]:
    names = {t.id: t.name for t in workorder.list_teams()}
    rows = [[label for _k, label in EXPORT_COLUMNS]]
    for o in orders:
        values = {
            "serial": o.serial,
            "type": workorder.TYPE_NAMES.get(o.type, o.type),
            "state": o.state_name,
            "priority": PRIORITY_NAMES.get(o.priority, o.priority),
            "title": o.title,
            "caller_phone": o.caller_phone,
            "address": o.address,
            "team": names.get(o.team_id, "") if o.team_id is not None else "",
            "created_at": local_time(o.created_at),
            "due_at": local_time(o.due_at),
            "final_answer": o.final_answer,
        }
        rows.append([_no_formula(values[k]) for k, _l in EXPORT_COLUMNS])
    return rows


def _no_formula(value: str) -> str:
    """CSV/Excel injection: a cell starting with = + - @ is shown as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 Chinese correctly


def _col(i: int) -> str:
    name = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        name = chr(65 + r) + name
    return name


def _xlsx_worker(rows: list[list[str]]) -> bytes:
    sheet_rows = []
    for r, row in enumerate(rows, start=1):
        cells = "".join(
            f'<c r="{_col(c)}{r}" t="inlineStr"><is><t xml:space="preserve">{escape(v)}</t></is></c>'
            for c, v in enumerate(row)
        )
        sheet_rows.append(f'<row r="{r}">{cells}</row>')
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    files = {
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook {ns} '
        f'xmlns:r="{rel}"><sheets><sheet name="工单" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet {ns}>'
        f"<sheetData>{''.join(sheet_rows)}</sheetData></worksheet>",
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            z.writestr(name, content)
    return buf.getvalue()


def to_xlsx(rows: list[list[str]]) -> bytes:
    """A minimal SpreadsheetML workbook (standard library only), built in the threadpool."""
    return off_hub(_xlsx_worker, rows)
