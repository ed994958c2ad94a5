"""The patches of a kustomization, applied on the client as kustomize applies them.

- Strategic merge (``patchesStrategicMerge``, and ``patches`` whose content is a map): maps
  merge, ``null`` deletes a key, a list with a merge key (``containers`` by ``name``, from the
  kind's API model) merges element by element (``$patch: delete`` removes one), other lists are
  replaced; ``$patch: replace`` replaces a map; ``$patch: delete`` at the top removes the
  object. Kinds without a model merge as a JSON merge patch would.
- JSON 6902 (``patchesJson6902``, and ``patches`` whose content is a list): add, remove, replace,
  move, copy and test on JSON pointers.
- Targets: ``group``, ``version``, ``kind``, ``name`` and ``namespace`` (regular expressions
  matching the whole value, as kustomize's selector), ``labelSelector``, ``annotationSelector``;
  a patch without a target patches the object its own apiVersion, kind and name identify.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from minik8s.cli.session import CliError

_DIRECTIVE = "$patch"


def _schema(obj: dict[str, Any]) -> Any:
    from minik8s.api import schema
    from minik8s.patchschema import schema_from_model

    model = schema.MODELS.get((obj.get("apiVersion", "").rpartition("/")[0], obj.get("kind") or ""))
    return schema_from_model(model) if model is not None else None


def strategic_merge(obj: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any] | None:
    """``obj`` patched; None when the patch deletes the object."""
    if patch.get(_DIRECTIVE) == "delete":
        return None
    return _merge_map(copy.deepcopy(obj), patch, _schema(obj))


def _field(schema: Any, key: str) -> Any:
    return schema.field(key) if schema is not None else None


def _merge_map(base: dict[str, Any], patch: dict[str, Any], schema: Any) -> dict[str, Any]:
    if patch.get(_DIRECTIVE) == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != _DIRECTIVE}
    for key, value in patch.items():
        if key == _DIRECTIVE or key.startswith("$setElementOrder/") or key == "$retainKeys":
            continue
        if value is None:
            base.pop(key, None)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            if value.get(_DIRECTIVE) == "delete":
                base.pop(key, None)
            else:
                base[key] = _merge_map(base[key], value, _field(schema, key))
        elif isinstance(value, list) and isinstance(base.get(key), list):
            base[key] = _merge_list(base[key], value, _field(schema, key))
        else:
            base[key] = _clean(value)
    return base


def _merge_list(base: list[Any], patch: list[Any], schema: Any) -> list[Any]:
    merge_key = schema.merge_key if schema is not None else None
    strategy = schema.patch_strategy if schema is not None else None
    if any(isinstance(i, dict) and i.get(_DIRECTIVE) == "replace" for i in patch):
        return [_clean(i) for i in patch if not (isinstance(i, dict) and i.get(_DIRECTIVE) == "replace")]
    if not merge_key or "merge" not in str(strategy or ""):
        if "merge" in str(strategy or "") and not any(isinstance(i, dict) for i in patch):
            return base + [i for i in patch if i not in base]
        return [_clean(i) for i in patch]
    out = list(base)
    item_schema = schema.items()
    for item in patch:
        if not isinstance(item, dict):
            continue
        idx = next((n for n, e in enumerate(out) if isinstance(e, dict) and e.get(merge_key) == item.get(merge_key)),
                   None)
        if item.get(_DIRECTIVE) == "delete":
            out = [e for e in out if not (isinstance(e, dict) and e.get(merge_key) == item.get(merge_key))]
        elif idx is None:
            out.append(_clean(item))
        else:
            out[idx] = _merge_map(out[idx], item, item_schema)
    return _merge_order(out, base, patch, merge_key)


def _merge_order(merged: list[Any], base: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    """apimachinery's element order after a merge: the patch's elements in the patch's order,
    the others (server-only) inserted among them where the live list had them."""
    def key(item: Any) -> Any:
        return item.get(merge_key) if isinstance(item, dict) else None

    patch_keys = [key(i) for i in patch if isinstance(i, dict) and i.get(_DIRECTIVE) != "delete"]
    right = [m for k in patch_keys for m in merged if key(m) == k][:len(patch_keys)]
    left = [m for m in merged if key(m) not in patch_keys]
    order = [key(i) for i in base]
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j >= len(right):
            out.append(left[i])
            i += 1
        elif i >= len(left):
            out.append(right[j])
            j += 1
        else:
            li = order.index(key(left[i])) if key(left[i]) in order else -1
            ri = order.index(key(right[j])) if key(right[j]) in order else -1
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def _clean(value: Any) -> Any:
    """A patch value as it lands in the object: directives and nulls inside new maps dropped."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


# --- JSON 6902 --------------------------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise CliError(f"kustomize: JSON patch path {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for p in parts[:-1]:
        if isinstance(node, dict) and p in node:
            node = node[p]
        elif isinstance(node, list) and p.isdigit() and int(p) < len(node):
            node = node[int(p)]
        else:
            raise CliError(f"kustomize: JSON patch path {path!r} does not exist in the object")
    return node


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    node = _parent(doc, parts, path)
    key = parts[-1]
    if isinstance(node, dict) and key in node:
        return node[key]
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        return node[int(key)]
    raise CliError(f"kustomize: JSON patch path {path!r} does not exist in the object")


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    node = _parent(doc, parts, path)
    value = _get(doc, path)
    if isinstance(node, dict):
        del node[parts[-1]]
    else:
        del node[int(parts[-1])]
    return value


def _add(doc: Any, path: str, value: Any, *, replace: bool = False) -> Any:
    parts = _pointer(path)
    if not parts:
        return copy.deepcopy(value)
    node = _parent(doc, parts, path)
    key = parts[-1]
    if isinstance(node, dict):
        if replace and key not in node:
            raise CliError(f"kustomize: JSON patch replace of missing path {path!r}")
        node[key] = copy.deepcopy(value)
    elif isinstance(node, list):
        if key == "-" and not replace:
            node.append(copy.deepcopy(value))
        elif key.isdigit() and int(key) <= len(node) - (1 if replace else 0):
            if replace:
                node[int(key)] = copy.deepcopy(value)
            else:
                node.insert(int(key), copy.deepcopy(value))
        else:
            raise CliError(f"kustomize: JSON patch path {path!r} is out of range")
    else:
        raise CliError(f"kustomize: JSON patch path {path!r} does not exist in the object")
    return doc


def json_patch(obj: dict[str, Any], ops: list[Any]) -> dict[str, Any]:
    doc = copy.deepcopy(obj)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise CliError(f"kustomize: a JSON patch operation needs op and path: {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, op.get("value"))
        elif kind == "replace":
            doc = _add(doc, path, op.get("value"), replace=True)
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "move":
            doc = _add(doc, path, _remove(doc, op["from"]))
        elif kind == "copy":
            doc = _add(doc, path, _get(doc, op["from"]))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise CliError(f"kustomize: JSON patch test failed at {path!r}")
        else:
            raise CliError(f"kustomize: unknown JSON patch operation {kind!r}")
    return doc


# --- targets ----------------------------------------------------------------------------------


def _full(pattern: str | None, value: str) -> bool:
    return pattern is None or pattern == "" or re.fullmatch(pattern, value) is not None


def _selector_matches(selector: str | None, labels: dict[str, Any]) -> bool:
    if not selector:
        return True
    from minik8s import labels as label_selectors

    return label_selectors.parse(selector).matches(labels)


def target_matches(target: dict[str, Any], obj: dict[str, Any], names: tuple[str, ...]) -> bool:
    """Whether ``obj`` (known by any of ``names``: current and original) is the target."""
    group, _, version = obj.get("apiVersion", "").rpartition("/")
    meta = obj.get("metadata") or {}
    return (_full(target.get("group"), group) and _full(target.get("version"), version)
            and _full(target.get("kind"), obj.get("kind", ""))
            and any(_full(target.get("name"), n) for n in names)
            and _full(target.get("namespace"), meta.get("namespace") or "")
            and _selector_matches(target.get("labelSelector"), meta.get("labels") or {})
            and _selector_matches(target.get("annotationSelector"), meta.get("annotations") or {}))
