"""No module reaches into another module's private names (issue #16): what two modules share is
public in its one home. Checked over the source of every package (tests may look inside)."""

from __future__ import annotations

import ast
import pathlib

REPO = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("minik8s", "apiserver", "scheduler", "controllers", "kubelet")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses(tree: ast.Module) -> list[str]:
    """``from m import _x`` and ``m._x`` where ``m`` names one of our own modules."""
    ours: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in PACKAGES:
                    ours.add(a.asname or a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PACKAGES:
            for a in node.names:
                if _private(a.name):
                    found.append(f"line {node.lineno}: from {node.module} import {a.name}")
                ours.add(a.asname or a.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in ours and _private(node.attr)):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
    return found


def test_the_check_finds_a_private_use():
    assert private_uses(ast.parse("from apiserver.printers import _md\n")) == [
        "line 1: from apiserver.printers import _md"]
    assert private_uses(ast.parse("from apiserver import openapi\nopenapi._gvk('', 'v1', 'Pod')\n")) == [
        "line 2: openapi._gvk"]
    assert private_uses(ast.parse("import json\njson._default_encoder\n")) == []


def test_no_module_uses_another_modules_private_names():
    bad: dict[str, list[str]] = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            uses = private_uses(ast.parse(path.read_text(), filename=str(path)))
            if uses:
                bad[str(path.relative_to(REPO))] = uses
    assert not bad, bad
