"""JSON patch (RFC 6902, ``application/json-patch+json``) with JSON pointers (RFC 6901).

``kubectl rollout undo`` sends one (replacing ``/spec/template`` and
``/metadata/annotations``); the Python client sends one whenever the patch body is a list.

Operations apply in order and all or nothing. Each operation copies only the maps and lists on
its path (copy on write), so the input document is never changed and the result shares every
untouched subtree with it.
"""

from __future__ import annotations

import re
from typing import Any

from apiserver.patch.errors import PatchError

__all__ = ["apply_json_patch", "json_equal", "parse_pointer"]

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_BAD_ESCAPE = re.compile(r"~(?![01])")
_MISSING = object()


def apply_json_patch(doc: Any, ops: Any) -> Any:
    """``doc`` with the RFC 6902 operations ``ops`` applied; raises :class:`PatchError`."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    for index, op in enumerate(ops):
        if not isinstance(op, dict):
            raise PatchError(f"JSON patch operation {index} is not an object")
        doc = _apply_one(doc, op)
    return doc


def parse_pointer(pointer: Any) -> list[str]:
    """The reference tokens of a JSON pointer: ``"/a~1b/0"`` → ``["a/b", "0"]``."""
    if not isinstance(pointer, str):
        raise PatchError(f"JSON pointer must be a string, got {pointer!r}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f'JSON pointer "{pointer}" must start with "/"')
    if _BAD_ESCAPE.search(pointer):
        raise PatchError(f'JSON pointer "{pointer}" has an invalid "~" escape')
    # ~1 before ~0, so "~01" decodes to "~1" and not to "/" (RFC 6901 section 4).
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: ``1 == 1.0``, but ``true`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(json_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(json_equal, a, b))
    return type(a) is type(b) and a == b


def _apply_one(doc: Any, op: dict[str, Any]) -> Any:
    name = op.get("op")
    if "path" not in op:
        raise PatchError(f"{name} operation is missing its path")
    path = parse_pointer(op["path"])
    where = op["path"]
    if name == "add":
        return _add(doc, path, _copy(_value(op)), where, name)
    if name == "remove":
        return _remove(doc, path, where, name)
    if name == "replace":
        value = _copy(_value(op))
        if not path:
            return value
        return _update(doc, path, where, name, lambda c, t: _replace_in(c, t, value, where, name))
    if name in ("move", "copy"):
        if "from" not in op:
            raise PatchError(f"{name} operation is missing its from")
        source = parse_pointer(op["from"])
        value = _get(doc, source, op["from"], name)
        if name == "move":
            if source == path:
                return doc
            if len(path) > len(source) and path[: len(source)] == source:
                raise PatchError(f'move operation cannot move "{op["from"]}" into its own child "{where}"')
            doc = _remove(doc, source, op["from"], name)
        # Sharing ``value`` between two places is safe: every later operation copies on write.
        return _add(doc, path, value, where, name)
    if name == "test":
        expected = _value(op)
        actual = _get(doc, path, where, name)
        if not json_equal(actual, expected):
            raise PatchError(f'test operation failed: the value at "{where}" is not {expected!r}')
        return doc
    raise PatchError(f"unknown JSON patch operation {name!r}")


def _value(op: dict[str, Any]) -> Any:
    if "value" not in op:
        raise PatchError(f'{op.get("op")} operation on "{op.get("path")}" is missing its value')
    return op["value"]


def _add(doc: Any, path: list[str], value: Any, where: str, name: str) -> Any:
    if not path:
        return value
    return _update(doc, path, where, name, lambda c, t: _add_in(c, t, value, where, name))


def _remove(doc: Any, path: list[str], where: str, name: str) -> Any:
    if not path:
        raise PatchError(f"{name} operation cannot remove the whole document")
    return _update(doc, path, where, name, lambda c, t: _remove_in(c, t, where, name))


def _update(doc: Any, path: list[str], where: str, name: str, change: Any) -> Any:
    """A copy of ``doc`` whose container at ``path[:-1]`` was copied and handed to ``change``."""
    token, rest = path[0], path[1:]
    if not rest:
        if isinstance(doc, dict):
            container: Any = dict(doc)
        elif isinstance(doc, list):
            container = list(doc)
        else:
            raise PatchError(f'{name} operation does not apply: "{where}": parent is not an object or list')
        change(container, token)
        return container
    child = _child(doc, token, where, name)
    new_child = _update(child, rest, where, name, change)
    if isinstance(doc, dict):
        return {**doc, token: new_child}
    items = list(doc)
    items[int(token)] = new_child
    return items


def _child(node: Any, token: str, where: str, name: str) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise PatchError(f'{name} operation does not apply: doc is missing path "{where}"')
        return node[token]
    if isinstance(node, list):
        index = _index(token, len(node), where, name, allow_end=False)
        return node[index]
    raise PatchError(f'{name} operation does not apply: doc is missing path "{where}"')


def _get(doc: Any, path: list[str], where: str, name: str) -> Any:
    node = doc
    for token in path:
        node = _child(node, token, where, name)
    return node


def _index(token: str, length: int, where: str, name: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return length
    if not _ARRAY_INDEX.fullmatch(token):
        raise PatchError(f'{name} operation does not apply: "{where}": {token!r} is not an array index')
    index = int(token)
    limit = length if allow_end else length - 1
    if index > limit:
        raise PatchError(f'{name} operation does not apply: "{where}": index {index} is out of bounds')
    return index


def _add_in(container: Any, token: str, value: Any, where: str, name: str) -> None:
    if isinstance(container, dict):
        container[token] = value
    else:
        container.insert(_index(token, len(container), where, name, allow_end=True), value)


def _remove_in(container: Any, token: str, where: str, name: str) -> None:
    if isinstance(container, dict):
        if token not in container:
            raise PatchError(f'{name} operation does not apply: doc is missing path "{where}"')
        del container[token]
    else:
        del container[_index(token, len(container), where, name, allow_end=False)]


def _replace_in(container: Any, token: str, value: Any, where: str, name: str) -> None:
    if isinstance(container, dict):
        if token not in container:
            raise PatchError(f'{name} operation does not apply: doc is missing path "{where}"')
        container[token] = value
    else:
        container[_index(token, len(container), where, name, allow_end=False)] = value


def _copy(value: Any) -> Any:
    """A copy of a JSON value, so the result never aliases the caller's patch."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
