"""The flow validator (流程自动排错): every problem of a flow, with its node, a code and a Chinese message.

Checked: the flow's shape (id, start, nodes, node types, required fields), dangling exits (an exit
naming no node), unreachable nodes, prompts not in the prompt set, loops without input (a cycle of
nodes none of which waits for the caller: no menu, input, record, survey or queue), menu keys
outside 0-9 * #, input lengths, say kinds, schedules, unknown lookups, queues and sinks, and
literal transfer numbers not on the allow-list. A flow with any problem is refused for activation.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .flow import (
    INPUT_MAX_DIGITS,
    MENU_KEYS,
    NODE_ID_RE,
    NODE_TYPES,
    REQUIRED_EXITS,
    WAITING_TYPES,
    Flow,
    exits,
    is_template,
    prompt_names,
)
from .registry import AllowList, Registry
from .saynum import FRAGMENTS, KINDS

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BRANCH_OPS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "empty", "not_empty")
DEFAULT_SINKS = {"record": "voicemail", "survey": "survey"}


@dataclass(frozen=True)
class Problem:
    node: str          # node id, or "" for the flow as a whole
    code: str          # English code, stable (tests, the web UI)
    message: str       # Chinese, for the administrator

    def __str__(self) -> str:
        where = f"节点 {self.node}" if self.node else "流程"
        return f"{where}: {self.message} [{self.code}]"


class FlowInvalid(ValueError):
    """Raised when an invalid flow is to be activated; ``problems`` says why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("流程有错误，不能启用: " + "; ".join(map(str, problems[:5])))
        self.problems = problems


def validate(flow: Flow, prompts: Collection[str] | None, registry: Registry,
             allow: AllowList | None = None) -> list[Problem]:
    """All problems of ``flow`` (empty when it may be activated).

    ``prompts``: names of the prompt set the flow will play (None: do not check prompts).
    ``allow``: the transfer allow-list (None: do not check literal numbers).
    """
    v = _Validator(flow, prompts, registry, allow)
    v.run()
    return v.problems


class _Validator:
    def __init__(self, flow: Flow, prompts: Collection[str] | None, registry: Registry,
                 allow: AllowList | None) -> None:
        self.flow = flow
        self.prompts = prompts
        self.registry = registry
        self.allow = allow
        self.problems: list[Problem] = []

    def add(self, node: str, code: str, message: str) -> None:
        self.problems.append(Problem(node, code, message))

    def run(self) -> None:
        f = self.flow
        if not f.id:
            self.add("", "missing_id", "流程没有编号 (id)")
        if f.version < 0:
            self.add("", "bad_version", "版本号必须是非负整数")
        if f.start not in f.nodes:
            self.add("", "unknown_start", f"起始节点 {f.start!r} 不存在")
        for node_id, node in f.nodes.items():
            if not NODE_ID_RE.fullmatch(node_id):
                self.add(node_id, "bad_node_id", "节点编号只能用字母、数字、下划线、点和减号")
            self.node(node_id, node)
        self.reachability()
        self.loops()

    # ---- one node ---------------------------------------------------------------------------------
    def node(self, nid: str, node: Mapping[str, Any]) -> None:
        ntype = node.get("type")
        if ntype not in NODE_TYPES:
            self.add(nid, "unknown_type", f"未知的节点类型 {ntype!r}，可用: {', '.join(NODE_TYPES)}")
            return
        for name in REQUIRED_EXITS[str(ntype)]:
            if not isinstance(node.get(name), str) or not node.get(name):
                self.add(nid, "missing_exit", f"缺少出口 {name}")
        for label, target in exits(node):
            if target not in self.flow.nodes:
                self.add(nid, "dangling_exit", f"出口 {label} 指向不存在的节点 {target!r}")
        for fld, name in prompt_names(node):
            self.prompt(nid, fld, name)
        getattr(self, f"node_{ntype}", lambda _n, _d: None)(nid, node)

    def prompt(self, nid: str, fld: str, name: str) -> None:
        if self.prompts is None or is_template(name):
            return
        if name not in self.prompts:
            self.add(nid, "missing_prompt", f"{fld} 中的语音 {name!r} 不在语音库中")

    def count(self, nid: str, node: Mapping[str, Any], key: str, low: float, high: float) -> None:
        if key in node:
            value = node[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                self.add(nid, "bad_value", f"{key} 必须是 {low:g} 到 {high:g} 之间的数")

    def node_play(self, nid: str, node: Mapping[str, Any]) -> None:
        if not node.get("prompts"):
            self.add(nid, "missing_field", "放音节点没有语音 (prompts)")

    def node_menu(self, nid: str, node: Mapping[str, Any]) -> None:
        if not node.get("prompt"):
            self.add(nid, "missing_field", "菜单没有提示音 (prompt)")
        options = node.get("options")
        if not isinstance(options, Mapping) or not options:
            self.add(nid, "missing_field", "菜单没有按键选项 (options)")
        else:
            for key in options:
                if len(str(key)) != 1 or str(key) not in MENU_KEYS:
                    self.add(nid, "bad_digit", f"菜单按键 {key!r} 无效：只能是 0-9、* 或 #")
        self.count(nid, node, "retries", 0, 10)
        self.count(nid, node, "timeout", 1, 60)

    def node_input(self, nid: str, node: Mapping[str, Any]) -> None:
        if not isinstance(node.get("var"), str) or not node.get("var"):
            self.add(nid, "missing_field", "输入节点没有变量名 (var)")
        low, high = node.get("min_length", 1), node.get("max_length")
        if not (isinstance(low, int) and isinstance(high, int) and not isinstance(low, bool)
                and not isinstance(high, bool) and 1 <= low <= high <= INPUT_MAX_DIGITS):
            self.add(nid, "bad_length",
                     f"输入长度无效：需要 1 <= min_length <= max_length <= {INPUT_MAX_DIGITS}")
        term = node.get("terminator", "#")
        if not isinstance(term, str) or len(term) > 1 or (term and term not in "*#"):
            self.add(nid, "bad_digit", "结束键只能是 * 或 #（或不设）")
        self.count(nid, node, "retries", 0, 10)
        self.count(nid, node, "timeout", 1, 60)

    def node_say(self, nid: str, node: Mapping[str, Any]) -> None:
        if node.get("kind") not in KINDS:
            self.add(nid, "bad_say_kind", f"报读方式 {node.get('kind')!r} 无效，可用: {', '.join(KINDS)}")
        if ("var" in node) == ("value" in node):
            self.add(nid, "missing_field", "报读节点要有 var 或 value 之一")
        if self.prompts is not None:
            lacking = [f for f in FRAGMENTS if f not in self.prompts]
            if lacking:
                self.add(nid, "missing_prompt", f"语音库缺少报读用的片段: {', '.join(lacking)}")

    def node_lookup(self, nid: str, node: Mapping[str, Any]) -> None:
        name = node.get("function")
        if name not in self.registry.lookups:
            self.add(nid, "unknown_lookup", f"查询功能 {name!r} 未注册")
        for key in ("args", "result"):
            if key in node and not isinstance(node[key], Mapping):
                self.add(nid, "bad_value", f"{key} 必须是对象")

    def node_branch(self, nid: str, node: Mapping[str, Any]) -> None:
        conds = node.get("conditions", [])
        if not isinstance(conds, list):
            self.add(nid, "bad_value", "conditions 必须是列表")
            return
        for i, cond in enumerate(conds):
            if not isinstance(cond, Mapping) or not isinstance(cond.get("var"), str):
                self.add(nid, "bad_value", f"第 {i + 1} 个条件缺少变量 (var)")
            elif cond.get("op", "eq") not in BRANCH_OPS:
                self.add(nid, "bad_value", f"第 {i + 1} 个条件的比较 {cond.get('op')!r} 无效")
            elif not isinstance(cond.get("next"), str):
                self.add(nid, "missing_exit", f"第 {i + 1} 个条件缺少出口 next")

    def node_set(self, nid: str, node: Mapping[str, Any]) -> None:
        values, add = node.get("vars", {}), node.get("add", {})
        if not isinstance(values, Mapping) or not isinstance(add, Mapping) or not (values or add):
            self.add(nid, "missing_field", "赋值节点没有 vars 或 add")
            return
        for key, amount in add.items():
            if isinstance(amount, bool) or not isinstance(amount, int):
                self.add(nid, "bad_value", f"add.{key} 必须是整数")

    def node_schedule(self, nid: str, node: Mapping[str, Any]) -> None:
        hours = node.get("hours")
        if not isinstance(hours, Mapping):
            self.add(nid, "bad_schedule", '工作时间 (hours) 必须是对象，例如 {"mon": [["08:00", "18:00"]]}')
            return
        for day, spans in hours.items():
            if day not in WEEKDAYS:
                self.add(nid, "bad_schedule", f"星期 {day!r} 无效，可用: {', '.join(WEEKDAYS)}")
            self.spans(nid, f"hours.{day}", spans)
        for date in node.get("holidays", []) if isinstance(node.get("holidays", []), list) else [None]:
            if not _is_date(date):
                self.add(nid, "bad_schedule", f"节假日 {date!r} 不是 YYYY-MM-DD 日期")
        special = node.get("special_days", {})
        if not isinstance(special, Mapping):
            self.add(nid, "bad_schedule", "special_days 必须是对象")
            return
        for date, spans in special.items():
            if not _is_date(date):
                self.add(nid, "bad_schedule", f"特殊日期 {date!r} 不是 YYYY-MM-DD 日期")
            self.spans(nid, f"special_days.{date}", spans)

    def spans(self, nid: str, where: str, spans: Any) -> None:
        if not isinstance(spans, list) or not all(
                isinstance(s, list) and len(s) == 2 and all(_is_hhmm(t) for t in s) and s[0] < s[1]
                for s in spans):
            self.add(nid, "bad_schedule", f"{where} 的时间段无效，应为 [[\"08:00\", \"18:00\"], ...]")

    def node_queue(self, nid: str, node: Mapping[str, Any]) -> None:
        if node.get("queue") not in self.registry.queues:
            self.add(nid, "unknown_queue", f"队列 {node.get('queue')!r} 不存在")

    def node_transfer(self, nid: str, node: Mapping[str, Any]) -> None:
        number = node.get("number")
        if not isinstance(number, str) or not number:
            self.add(nid, "missing_field", "转接节点没有号码 (number)")
        elif self.allow is not None and not is_template(number) and not self.allow.allows(number):
            self.add(nid, "transfer_not_allowed", f"转接号码 {number} 不在允许转接的号码清单中")

    def node_record(self, nid: str, node: Mapping[str, Any]) -> None:
        self.sink(nid, node, "record")
        self.count(nid, node, "max_s", 1, 600)
        self.count(nid, node, "silence_s", 1, 60)

    def node_survey(self, nid: str, node: Mapping[str, Any]) -> None:
        self.sink(nid, node, "survey")
        if not node.get("prompt"):
            self.add(nid, "missing_field", "评价节点没有提示音 (prompt)")
        keys = str(node.get("keys", "123"))
        if not keys or any(k not in "0123456789" for k in keys):
            self.add(nid, "bad_digit", "评价按键 (keys) 只能是数字 0-9")

    def sink(self, nid: str, node: Mapping[str, Any], ntype: str) -> None:
        name = node.get("sink", DEFAULT_SINKS[ntype])
        if name not in self.registry.sinks:
            self.add(nid, "unknown_sink", f"存储 {name!r} 未注册")

    # ---- the graph --------------------------------------------------------------------------------
    def reachability(self) -> None:
        nodes = self.flow.nodes
        if self.flow.start not in nodes:
            return
        seen = {self.flow.start}
        todo = [self.flow.start]
        while todo:
            for _label, target in exits(nodes[todo.pop()]):
                if target in nodes and target not in seen:
                    seen.add(target)
                    todo.append(target)
        for nid in nodes:
            if nid not in seen:
                self.add(nid, "unreachable", "从起始节点无法到达这个节点")

    def loops(self) -> None:
        """Cycles through nodes that never wait for the caller (Tarjan's SCC on those nodes)."""
        nodes = self.flow.nodes
        quick = {n for n, d in nodes.items()
                 if d.get("type") not in WAITING_TYPES and d.get("type") in NODE_TYPES}
        graph = {n: sorted({t for _l, t in exits(nodes[n]) if t in quick}) for n in sorted(quick)}
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []
        on_stack: set[str] = set()
        counter = [0]

        def strong(v: str) -> None:
            # iterative Tarjan: (node, next child position)
            work = [(v, 0)]
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on_stack.add(v)
            while work:
                node, pos = work[-1]
                children = graph[node]
                if pos < len(children):
                    work[-1] = (node, pos + 1)
                    w = children[pos]
                    if w not in index:
                        index[w] = low[w] = counter[0]
                        counter[0] += 1
                        stack.append(w)
                        on_stack.add(w)
                        work.append((w, 0))
                    elif w in on_stack:
                        low[node] = min(low[node], index[w])
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1 or node in graph[node]:
                        cycle = " -> ".join(sorted(comp))
                        self.add(sorted(comp)[0], "loop_without_input",
                                 f"死循环：节点 {cycle} 构成的循环中没有等待来电者按键的节点"
                                 "（菜单、输入、录音、评价或排队）")

        for n in graph:
            if n not in index:
                strong(n)


def _is_hhmm(text: Any) -> bool:
    if not isinstance(text, str) or len(text) != 5:
        return False
    if text == "24:00":
        return True
    try:
        _dt.time.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_date(text: Any) -> bool:
    if not isinstance(text, str):
        return False
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10
