"""Layers import downward only (DESIGN.md, "Layers"), and peewee stays inside appliance/crm.

Every module under appliance/ is parsed with ast (nothing is imported); every import in it, at any
depth (functions, TYPE_CHECKING blocks) and relative ones resolved, is checked against ALLOWED.
A new top-level module of appliance/ must be given a layer here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "appliance"

# Which layers each layer may import (its own layer always). Low to high:
#   drivers < voiceboard < crm, console, sms < ivr, acd < service < web
# "appliance" is the package itself (appliance/__init__.py): anyone may import it, it imports no layer.
_BELOW_BUSINESS = {"drivers", "voiceboard"}
_BUSINESS = {"crm", "console", "sms"}
ALLOWED: dict[str, set[str]] = {
    "appliance": set(),
    "drivers": set(),
    "voiceboard": {"drivers"},
    "crm": set(),  # crm knows no channel
    "console": _BELOW_BUSINESS,
    "sms": _BELOW_BUSINESS,
    "ivr": _BELOW_BUSINESS | _BUSINESS,  # ivr does not know acd
    "acd": _BELOW_BUSINESS | _BUSINESS | {"ivr"},  # acd hands calls to ivr flows
    "service": _BELOW_BUSINESS | _BUSINESS | {"ivr", "acd", "web"},  # service starts everything
    "web": _BUSINESS | {"ivr", "acd", "service"},  # never voiceboard or drivers: no Channel in the web
}
LAYERS = set(ALLOWED)

# Top-level modules of appliance/ that belong to a layer (the layer packages need no entry).
MODULE_LAYERS: dict[str, str] = {
    "appliance.maintenance": "service",  # the console's view of the running service
    "appliance.attendant": "acd",  # the minimal call flow standing in for ivr + acd until they land
}

# Third-party packages confined to one layer: peewee (and its playhouse extensions) only in crm.
CONFINED: dict[str, str] = {"peewee": "crm", "playhouse": "crm"}


@dataclass(frozen=True)
class Violation:
    filename: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}: {self.message}"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    """The layer of an appliance module ("appliance.ivr.flow" -> "ivr"); None outside appliance."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1:
        return PACKAGE
    return MODULE_LAYERS.get(".".join(parts[:2]), parts[1])


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in `tree`.

    ``from X import a`` yields ``X.a`` (a may be a submodule: ``from appliance import web`` is an
    import of the web layer). Calls of importlib.import_module / __import__ with a literal are
    included.
    """
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                if node.level - 1 >= len(base_parts):
                    yield node.lineno, "<relative import beyond the top package>"
                    continue
                base = ".".join(base_parts[: len(base_parts) - (node.level - 1)])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            for alias in node.names:
                yield node.lineno, base if alias.name == "*" else f"{base}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id in {"import_module", "__import__"})
            )
        ):
            yield node.lineno, node.args[0].value


def check_source(module: str, source: str, filename: str, is_package: bool = False) -> list[Violation]:
    """The layer violations of one module's source."""
    layer = layer_of(module)
    if layer is None or layer not in LAYERS:
        return [Violation(filename, 1, f"{module} is in no layer: give it one in tests/test_layers.py")]
    tree = ast.parse(source, filename=filename)
    found = []
    for line, target in imported_modules(tree, module, is_package):
        if target.startswith("<"):
            found.append(Violation(filename, line, target))
            continue
        top = target.split(".")[0]
        if top in CONFINED and layer != CONFINED[top]:
            found.append(Violation(filename, line, f"{layer} imports {top}: only {CONFINED[top]} may"))
            continue
        target_layer = layer_of(target)
        if target_layer is None or target_layer == layer or target_layer == PACKAGE:
            continue
        if target_layer not in LAYERS:
            # e.g. "from appliance import config": the new module needs a layer before it is used
            found.append(Violation(filename, line, f"{layer} imports {target}, which is in no layer"))
        elif target_layer not in ALLOWED[layer]:
            found.append(Violation(filename, line, f"{layer} imports {target} ({target_layer} layer)"))
    return found


def check_tree(root: Path = ROOT) -> list[Violation]:
    found = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        found += check_source(
            module_name(path, root),
            path.read_text(encoding="utf-8"),
            str(path.relative_to(root)),
            is_package=path.name == "__init__.py",
        )
    return found


# ---- the tests ---------------------------------------------------------------------------------------


def test_layers_import_downward_only() -> None:
    assert len(list((ROOT / PACKAGE).rglob("*.py"))) >= 7, "appliance/ not found: nothing was checked"
    violations = check_tree()
    assert not violations, "layer violations:\n" + "\n".join(map(str, violations))


def test_checker_catches_planted_violations() -> None:
    def check(module: str, source: str, is_package: bool = False) -> list[str]:
        return [str(v) for v in check_source(module, source, "planted.py", is_package)]

    assert check("appliance.web.desk", "import json\nfrom appliance.voiceboard import Channel\n") == [
        "planted.py:2: web imports appliance.voiceboard.Channel (voiceboard layer)"
    ]
    assert check("appliance.web.desk", "def f():\n    import appliance.drivers._binding\n") == [
        "planted.py:2: web imports appliance.drivers._binding (drivers layer)"
    ]
    # relative imports are resolved: appliance/crm/models.py doing "from ..voiceboard import x"
    assert check("appliance.crm.models", "from ..voiceboard import channel\n") == [
        "planted.py:1: crm imports appliance.voiceboard.channel (voiceboard layer)"
    ]
    # ... and from a package's __init__: appliance/drivers/__init__.py "from .. import ivr"
    assert check("appliance.drivers", "from .. import ivr\n", is_package=True) == [
        "planted.py:1: drivers imports appliance.ivr (ivr layer)"
    ]
    assert check("appliance.ivr.flow", "from appliance import acd\n") == [
        "planted.py:1: ivr imports appliance.acd (acd layer)"
    ]
    dynamic = "import importlib\nimportlib.import_module('appliance.crm')\n"
    assert check("appliance.voiceboard.board", dynamic) == [
        "planted.py:2: voiceboard imports appliance.crm (crm layer)"
    ]
    assert check("appliance.acd.queue", "from peewee import fn\n") == [
        "planted.py:1: acd imports peewee: only crm may"
    ]
    assert check("appliance.web.admin", "import playhouse.migrate\n") == [
        "planted.py:1: web imports playhouse: only crm may"
    ]
    assert check("appliance.ivr.flow", "from .... import x\n") == [
        "planted.py:1: <relative import beyond the top package>"
    ]
    assert check("appliance.web.x", "from appliance.attendant import Attendant") == []
    assert check("appliance.ivr.x", "from appliance.attendant import Attendant") == [
        "planted.py:1: ivr imports appliance.attendant.Attendant (acd layer)"
    ]
    assert check("appliance.gadget", "") == [
        "planted.py:1: appliance.gadget is in no layer: give it one in tests/test_layers.py"
    ]


def test_checker_allows_downward_imports() -> None:
    ok = {
        "appliance.voiceboard.channel": "from ..drivers import _binding\nfrom . import events\n",
        "appliance.crm.models": "import peewee\nfrom playhouse.sqlite_ext import JSONField\nimport appliance",
        "appliance.ivr.interp": "from appliance.crm import services\nfrom ..voiceboard import Channel\n",
        "appliance.acd.router": "from ..ivr import flow\nfrom ..sms import modem\n",
        "appliance.service": "from appliance import web, acd, ivr, crm, voiceboard, drivers\n",
        "appliance.web.desk": "from ..acd import api\nfrom appliance.service import bus\nimport bottle\n",
        "appliance.attendant": "from appliance.voiceboard.board import Board\n",
    }
    for module, source in ok.items():
        assert check_source(module, source, f"{module}.py") == [], module
