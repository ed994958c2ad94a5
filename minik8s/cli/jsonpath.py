"""kubectl's JSONPath templates (``-o jsonpath=...``, ``custom-columns``), as client-go's
``util/jsonpath`` reads and runs them.

A template is text with ``{...}`` actions: paths (``.a.b``, ``['a.b']``, ``[0]``, ``[1:3]``,
``[*]``, ``.*``, ``..name``, ``[?(@.type=="Ready")]``), quoted literals (``{"\\n"}``), ``@``,
and ``{range PATH}...{end}``. Each action prints its results separated by spaces; maps and
lists print as compact JSON, other values as Go's ``fmt.Print`` does.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from typing import Any

__all__ = ["JsonPathError", "parse", "execute", "find"]


class JsonPathError(ValueError):
    """Raised for a template that does not parse, or (without allow_missing) a missing key."""


@dataclasses.dataclass
class _Text:
    text: str


@dataclasses.dataclass
class _Path:
    segments: list[tuple[Any, ...]]  # ("field", name) ("recursive", name) ("index", spec) ("filter", ...) ("wild",)


@dataclasses.dataclass
class _Literal:
    value: str


@dataclasses.dataclass
class _Range:
    path: _Path
    body: list[Any]


_Node = _Text | _Path | _Literal | _Range


def parse(template: str) -> list[Any]:
    nodes: list[Any] = []
    stack: list[list[Any]] = [nodes]
    ranges: list[_Range] = []
    pos = 0
    while pos < len(template):
        start = template.find("{", pos)
        if start < 0:
            stack[-1].append(_Text(template[pos:]))
            break
        if start > pos:
            stack[-1].append(_Text(template[pos:start]))
        end = _matching_brace(template, start)
        inner = template[start + 1:end].strip()
        pos = end + 1
        if inner.startswith("range") and (len(inner) == 5 or not (inner[5].isalnum() or inner[5] == "_")):
            r = _Range(_parse_path(inner[5:].strip()), [])
            stack[-1].append(r)
            stack.append(r.body)
            ranges.append(r)
        elif inner == "end":
            if len(stack) == 1:
                raise JsonPathError("not in range, nothing to end")
            stack.pop()
            ranges.pop()
        else:
            for part in _split_top(inner):
                stack[-1].append(_parse_action(part))
    if len(stack) != 1:
        raise JsonPathError("unclosed action")
    return nodes


def _matching_brace(s: str, start: int) -> int:
    depth, i, quote = 0, start, None
    while i < len(s):
        ch = s[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise JsonPathError("unclosed action")


def _split_top(inner: str) -> list[str]:
    """An action may hold several space-free parts back to back (``{.a}`` only, in practice)."""
    return [inner]


def _parse_action(text: str) -> _Node:
    if not text:
        raise JsonPathError("empty action")
    if text[0] in "\"'":
        try:
            value = ast.literal_eval(text) if text[0] == '"' else text[1:-1]
        except (ValueError, SyntaxError) as e:
            raise JsonPathError(f"invalid literal {text}: {e}") from None
        return _Literal(str(value))
    return _parse_path(text)


_FIELD = re.compile(r"(?:\\.|[A-Za-z0-9_\-/$~])+")


def _parse_path(text: str) -> _Path:
    segs: list[tuple[Any, ...]] = []
    i = 0
    if text.startswith("$"):
        i = 1
    if text.startswith("@"):
        i = 1
    while i < len(text):
        ch = text[i]
        if text.startswith("..", i):
            m = _FIELD.match(text, i + 2)
            if not m:
                raise JsonPathError(f"invalid recursive descent at {text[i:]}")
            segs.append(("recursive", _unescape(m.group(0))))
            i = m.end()
        elif ch == ".":
            if text.startswith(".*", i):
                segs.append(("wild",))
                i += 2
                continue
            m = _FIELD.match(text, i + 1)
            if not m:
                if i + 1 == len(text):
                    i += 1
                    continue
                raise JsonPathError(f"unrecognized character in action: {text[i + 1]!r}")
            segs.append(("field", _unescape(m.group(0))))
            i = m.end()
        elif ch == "[":
            end = _bracket_end(text, i)
            segs.append(_parse_bracket(text[i + 1:end]))
            i = end + 1
        elif ch.isspace():
            i += 1
        else:
            m = _FIELD.match(text, i)
            if i == 0 and m:
                segs.append(("field", _unescape(m.group(0))))
                i = m.end()
            else:
                raise JsonPathError(f"unrecognized character in action: {ch!r}")
    return _Path(segs)


def _unescape(name: str) -> str:
    return name.replace("\\.", ".")


def _bracket_end(text: str, start: int) -> int:
    depth, quote = 0, None
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
    raise JsonPathError("unterminated array")


def _parse_bracket(inner: str) -> tuple[Any, ...]:
    inner = inner.strip()
    if inner == "*":
        return ("wild",)
    if inner.startswith("?(") and inner.endswith(")"):
        return _parse_filter(inner[2:-1].strip())
    if inner and inner[0] in "\"'":
        keys = [k.strip()[1:-1] for k in inner.split(",")]
        return ("keys", keys)
    if ":" in inner:
        parts = inner.split(":")
        if len(parts) > 3:
            raise JsonPathError(f"invalid array index {inner}")
        nums = [int(p) if p.strip() else None for p in parts]
        while len(nums) < 3:
            nums.append(None)
        return ("slice", nums[0], nums[1], nums[2])
    try:
        return ("indexes", [int(p) for p in inner.split(",")])
    except ValueError:
        raise JsonPathError(f"invalid array index {inner}") from None


_OPS = ("==", "!=", "<=", ">=", "<", ">")


def _parse_filter(expr: str) -> tuple[Any, ...]:
    for op in _OPS:
        idx = _find_op(expr, op)
        if idx >= 0:
            left, right = expr[:idx].strip(), expr[idx + len(op):].strip()
            return ("filter", _operand(left), op, _operand(right))
    return ("filter", _operand(expr), None, None)


def _find_op(expr: str, op: str) -> int:
    quote = None
    for i in range(len(expr)):
        ch = expr[i]
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif expr.startswith(op, i):
            if op in ("<", ">") and expr.startswith(op + "=", i):
                continue
            return i
    return -1


def _operand(text: str) -> tuple[Any, ...]:
    if text.startswith("@") or text.startswith("$"):
        return ("path", _parse_path(text))
    if text and text[0] in "\"'":
        return ("value", text[1:-1])
    try:
        return ("value", json.loads(text))
    except ValueError:
        raise JsonPathError(f"unrecognized filter operand {text}") from None


# --- evaluation -----------------------------------------------------------------------------


def find(nodes: list[Any], data: Any, *, allow_missing: bool = True) -> list[Any]:
    """The values of the template's path actions for ``data`` (custom-columns cells)."""
    out: list[Any] = []
    for node in nodes:
        if isinstance(node, _Path):
            out.extend(_eval_path(node, [data], allow_missing))
        elif isinstance(node, _Literal):
            out.append(node.value)
    return out


def execute(nodes: list[Any], data: Any, *, allow_missing: bool = True, as_json: bool = False) -> str:
    if as_json:
        values = find(nodes, data, allow_missing=allow_missing)
        return json.dumps(values, indent=4, ensure_ascii=False) + "\n"
    parts: list[str] = []
    _run(nodes, data, data, allow_missing, parts)
    return "".join(parts)


def _run(nodes: list[Any], root: Any, current: Any, allow_missing: bool, parts: list[str]) -> None:
    for node in nodes:
        if isinstance(node, _Text):
            parts.append(node.text)
        elif isinstance(node, _Literal):
            parts.append(node.value)
        elif isinstance(node, _Path):
            values = _eval_path(node, [current], allow_missing)
            parts.append(" ".join(_text(v) for v in values))
        elif isinstance(node, _Range):
            for item in _eval_path(node.path, [current], allow_missing):
                _run(node.body, root, item, allow_missing, parts)


def _text(v: Any) -> str:
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _eval_path(path: _Path, values: list[Any], allow_missing: bool) -> list[Any]:
    for seg in path.segments:
        values = _step(seg, values, allow_missing)
    return values


def _step(seg: tuple[Any, ...], values: list[Any], allow_missing: bool) -> list[Any]:
    out: list[Any] = []
    kind = seg[0]
    for v in values:
        if kind == "field":
            name = seg[1]
            if isinstance(v, dict):
                if name in v:
                    out.append(v[name])
                elif not allow_missing:
                    raise JsonPathError(f"{name} is not found")
            elif v is not None and not allow_missing:
                raise JsonPathError(f"{name} is not found")
        elif kind == "keys":
            if isinstance(v, dict):
                for k in seg[1]:
                    if k in v:
                        out.append(v[k])
                    elif not allow_missing:
                        raise JsonPathError(f"{k} is not found")
        elif kind == "wild":
            if isinstance(v, dict):
                out.extend(v[k] for k in sorted(v))
            elif isinstance(v, list):
                out.extend(v)
        elif kind == "recursive":
            out.extend(_recursive(v, seg[1]))
        elif kind == "indexes":
            if isinstance(v, list):
                for idx in seg[1]:
                    real = idx + len(v) if idx < 0 else idx
                    if 0 <= real < len(v):
                        out.append(v[real])
                    elif not allow_missing:
                        raise JsonPathError(f"array index out of bounds: index {idx}, length {len(v)}")
        elif kind == "slice":
            if isinstance(v, list):
                out.extend(v[slice(seg[1], seg[2], seg[3])])
        elif kind == "filter":
            items = v if isinstance(v, list) else (list(v.values()) if isinstance(v, dict) else [])
            out.extend(item for item in items if _matches(seg, item))
    return out


def _recursive(v: Any, name: str) -> list[Any]:
    out: list[Any] = []
    if isinstance(v, dict):
        if name in v:
            out.append(v[name])
        for k in sorted(v):
            out.extend(_recursive(v[k], name))
    elif isinstance(v, list):
        for item in v:
            out.extend(_recursive(item, name))
    return out


def _operand_values(operand: tuple[Any, ...], item: Any) -> list[Any]:
    if operand[0] == "value":
        return [operand[1]]
    return _eval_path(operand[1], [item], True)


def _matches(seg: tuple[Any, ...], item: Any) -> bool:
    _, left, op, right = seg
    lefts = _operand_values(left, item)
    if op is None:
        return bool(lefts)
    rights = _operand_values(right, item)
    if not lefts or not rights:
        return False
    a, b = lefts[0], rights[0]
    try:
        if op == "==":
            return bool(a == b)
        if op == "!=":
            return bool(a != b)
        if op == "<":
            return bool(a < b)
        if op == ">":
            return bool(a > b)
        if op == "<=":
            return bool(a <= b)
        return bool(a >= b)
    except TypeError:
        return False
