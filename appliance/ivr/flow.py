"""The flow format: a call flow as JSON (docs/ivr.md is the schema).

A flow is ``{"id", "version", "start", "nodes": {node_id: {"type": ..., ...}}}``. This module knows
the node types, which fields of each are exits (names of other nodes) and which name prompts, and
turns JSON into a :class:`Flow`. It does not judge a flow: :mod:`appliance.ivr.validate` does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLOWS_DIR = Path(__file__).resolve().parent / "flows"
DEFAULT_FLOW_FILE = FLOWS_DIR / "default.json"

# Node types and the fields of each that name the next node (single exits).
EXIT_FIELDS: dict[str, tuple[str, ...]] = {
    "play": ("next",),
    "menu": ("on_fail",),                       # + options: {digit: node}
    "input": ("next", "on_fail"),
    "say": ("next",),
    "lookup": ("next", "on_not_found", "on_error"),
    "branch": ("default",),                     # + conditions[].next
    "set": ("next",),
    "schedule": ("open", "closed"),
    "queue": ("on_fail",),
    "transfer": ("on_refused", "on_fail"),
    "record": ("next",),
    "survey": ("next",),
    "hangup": (),
}
NODE_TYPES = tuple(EXIT_FIELDS)
# Exits a node of the type must have.
REQUIRED_EXITS: dict[str, tuple[str, ...]] = {
    "play": ("next",), "menu": ("on_fail",), "input": ("next", "on_fail"), "say": ("next",),
    "lookup": ("next", "on_not_found", "on_error"), "branch": ("default",), "set": ("next",),
    "schedule": ("open", "closed"), "queue": ("on_fail",), "transfer": ("on_refused", "on_fail"),
    "record": ("next",), "survey": ("next",), "hangup": (),
}
# Node types during which the caller is asked for something or is with a person: a cycle must pass one.
WAITING_TYPES = frozenset({"menu", "input", "record", "queue", "survey"})
# Fields that name one prompt or a list of prompts.
PROMPT_FIELDS = ("prompts", "prompt", "invalid_prompt", "timeout_prompt", "before", "after")

MENU_KEYS = frozenset("0123456789*#")
INPUT_MAX_DIGITS = 32
TEMPLATE_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_.]*)\}")
NODE_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


class FlowError(ValueError):
    """The text is not a flow at all (not JSON, not an object, no nodes): nothing to validate."""


@dataclass(frozen=True)
class Flow:
    id: str
    version: int
    start: str
    nodes: Mapping[str, Mapping[str, Any]]
    description: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.id}@v{self.version}"

    def to_json(self) -> str:
        body = dict(self.raw) if self.raw else {}
        body.update({"id": self.id, "version": self.version, "start": self.start,
                     "nodes": {k: dict(v) for k, v in self.nodes.items()}})
        if self.description:
            body["description"] = self.description
        return json.dumps(body, ensure_ascii=False, indent=2)

    def with_version(self, version: int) -> Flow:
        return Flow(self.id, version, self.start, self.nodes, self.description, self.raw)


def parse_flow(data: str | bytes | Mapping[str, Any]) -> Flow:
    """A Flow from JSON text or an already decoded object; FlowError if it is not shaped like one."""
    if isinstance(data, (str, bytes)):
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise FlowError(f"不是有效的 JSON / not valid JSON: {exc}") from None
    else:
        obj = data
    if not isinstance(obj, Mapping):
        raise FlowError("流程必须是 JSON 对象 / a flow is a JSON object")
    nodes = obj.get("nodes")
    if not isinstance(nodes, Mapping) or not nodes:
        raise FlowError("流程没有节点 / the flow has no nodes")
    clean: dict[str, Mapping[str, Any]] = {}
    for node_id, node in nodes.items():
        clean[str(node_id)] = node if isinstance(node, Mapping) else {"type": None, "_raw": node}
    version = obj.get("version", 0)
    return Flow(
        id=str(obj.get("id", "")),
        version=version if isinstance(version, int) and not isinstance(version, bool) else 0,
        start=str(obj.get("start", "")),
        nodes=clean,
        description=str(obj.get("description", "")),
        raw=dict(obj),
    )


def load_flow_file(path: str | Path) -> Flow:
    return parse_flow(Path(path).read_text(encoding="utf-8"))


def default_flow() -> Flow:
    """The flow shipped with the firmware (flows/default.json)."""
    return load_flow_file(DEFAULT_FLOW_FILE)


def exits(node: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(label, target) of every exit of a node: its exit fields, menu options, branch conditions."""
    ntype = node.get("type")
    for name in EXIT_FIELDS.get(str(ntype), ()):
        target = node.get(name)
        if isinstance(target, str):
            yield name, target
    if ntype == "menu" and isinstance(node.get("options"), Mapping):
        for key, target in node["options"].items():
            if isinstance(target, str):
                yield f"options.{key}", target
    if ntype == "branch" and isinstance(node.get("conditions"), list):
        for i, cond in enumerate(node["conditions"]):
            if isinstance(cond, Mapping) and isinstance(cond.get("next"), str):
                yield f"conditions[{i}].next", cond["next"]


def prompt_names(node: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, prompt name) of every prompt a node names (templated names included)."""
    for name in PROMPT_FIELDS:
        value = node.get(name)
        if isinstance(value, str):
            yield name, value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    yield name, item


def prompt_list(value: Any) -> list[str]:
    """A prompt field as a list of names (one name, a list, or nothing)."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []


def is_template(text: str) -> bool:
    return bool(TEMPLATE_RE.search(text))


def render(text: str, variables: Mapping[str, Any]) -> str:
    """``${name}`` replaced by the variable's value ('' when unset)."""
    return TEMPLATE_RE.sub(lambda m: str(variables.get(m.group(1), "")), text)
