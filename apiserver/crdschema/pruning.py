"""Pruning and defaulting of a custom object by its structural schema, as Kubernetes'
apiextensions ``pruning`` and ``defaulting`` packages do before validation.

* Pruning drops every field the schema does not specify, unless the field (or an enclosing
  object) has ``x-kubernetes-preserve-unknown-fields: true``; ``apiVersion``, ``kind`` and
  ``metadata`` at the root and in ``x-kubernetes-embedded-resource`` objects always stay. The
  dropped paths are what ``fieldValidation=Strict|Warn`` reports as unknown fields.
* Defaulting fills each absent (or null, unless ``nullable``) property that has a ``default``,
  then descends, so defaults inside a default are applied as well; a null that has no default
  and may not be null is dropped.
* Reading defaults (:func:`defaulted`) does the same on an object read from storage without
  changing it: an object stored before its CRD gained a default shows that default.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["prune", "default", "defaulted", "has_defaults"]


def prune(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Drop the fields ``schema`` does not specify, in place; answer their paths."""
    pruned: list[str] = []
    _prune_object(obj, schema, "", pruned, root=True)
    return pruned


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _prune(value: Any, s: dict[str, Any] | None, path: str, pruned: list[str]) -> None:
    if s is None:
        return
    if isinstance(value, dict):
        _prune_object(value, s, path, pruned, root=False)
    elif isinstance(value, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(value):
                _prune(item, items, f"{path}[{i}]", pruned)


def _prune_object(value: dict[str, Any], s: dict[str, Any], path: str, pruned: list[str], *, root: bool) -> None:
    props = s.get("properties") or {}
    addl = s.get("additionalProperties")
    preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    keep_meta = root or bool(s.get("x-kubernetes-embedded-resource"))
    for k in list(value):
        if keep_meta and k in ("apiVersion", "kind", "metadata"):
            continue
        if k in props:
            _prune(value[k], props[k], _child(path, k), pruned)
        elif isinstance(addl, dict):
            _prune(value[k], addl, _child(path, k), pruned)
        elif addl is True or preserve:
            continue
        else:
            del value[k]
            pruned.append(_child(path, k))


def default(value: Any, schema: dict[str, Any]) -> None:
    """Apply the schema's defaults to ``value`` in place."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for k, sub in props.items():
            if k not in value or (value[k] is None and not sub.get("nullable")):
                if "default" in sub:
                    value[k] = copy.deepcopy(sub["default"])
                elif k in value:
                    del value[k]  # a null that may not be null and has no default
        for k, item in value.items():
            sub = props.get(k)
            if sub is None:
                addl = schema.get("additionalProperties")
                sub = addl if isinstance(addl, dict) else None
            if sub is not None:
                default(item, sub)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for item in value:
                default(item, items)


def has_defaults(schema: Any) -> bool:
    """Whether any node of the schema has a ``default``."""
    if not isinstance(schema, dict):
        return False
    if "default" in schema:
        return True
    props = schema.get("properties") or {}
    return any(has_defaults(v) for v in props.values()) or has_defaults(schema.get("items")) or \
        has_defaults(schema.get("additionalProperties"))


def defaulted(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` with the schema's defaults for absent fields: the same object when nothing was
    added, else a copy sharing every part it did not change (stored objects stay as they are)."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        addl = schema.get("additionalProperties")
        out: dict[str, Any] | None = None
        for k, sub in props.items():
            if k not in value and isinstance(sub, dict) and "default" in sub:
                out = dict(value) if out is None else out
                out[k] = copy.deepcopy(sub["default"])
                default(out[k], sub)
        for k, item in value.items():
            sub = props.get(k) if k in props else (addl if isinstance(addl, dict) else None)
            if isinstance(sub, dict):
                new = defaulted(item, sub)
                if new is not item:
                    out = dict(value) if out is None else out
                    out[k] = new
        return value if out is None else out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        items = [defaulted(x, schema["items"]) for x in value]
        return value if all(a is b for a, b in zip(items, value)) else items
    return value
