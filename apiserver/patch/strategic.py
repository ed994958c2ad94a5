"""Strategic merge patch (``application/strategic-merge-patch+json``), applied server side.

What ``kubectl apply``, ``set image``, ``rollout restart`` and the Python client send. It is a
JSON merge patch that knows, from a :class:`~minik8s.patchschema.PatchSchema`, how each list
merges, and that understands these directives (none of them ever reaches the result):

==============================  ===========================================================
``null``                        delete the key
list with a merge key           elements matched by that key (``containers`` by ``name``)
and strategy ``merge``          and merged; new ones added; ``{"name": x, "$patch":
                                "delete"}`` removes every element keyed ``x``;
                                ``{"$patch": "replace"}`` makes the list exactly the patch's
list of scalars, ``merge``      union (``finalizers``)
any other list                  replaced
``$patch: replace`` in a map    the map becomes the patch's map
``$patch: delete`` in a map     the map becomes ``{}``
``$patch: merge`` in a map      merged as usual (Kubernetes rejects it; we accept the default)
``$retainKeys: [k...]``         drop every key of the live map not listed
``$setElementOrder/f: [...]``   the order of list ``f`` after merging
``$deleteFromPrimitiveList/f``  remove these scalars from list ``f``
==============================  ===========================================================

The order of a merged list follows Kubernetes (``strategicpatch.mergeSlice`` and
``normalizeElementOrder``): patch items in ``$setElementOrder`` order (else patch order),
server-only items in their live order, the two interleaved by their live positions; an item
the live list does not have goes before the server-only item it is compared with.

The inputs are never changed. Every map or list the patch touches is rebuilt; untouched
subtrees of the result are shared with ``doc``; nothing in the result aliases ``patch``.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Any

from apiserver.patch.errors import PatchError
from minik8s.patch3way import patch_strategies
from minik8s.patchschema import PatchSchema

__all__ = ["apply_strategic_merge_patch"]

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder"
_DELETE_FROM = "$deleteFromPrimitiveList"
_DROP = object()  # _clean's answer for "this value is a directive, leave it out"


def apply_strategic_merge_patch(doc: dict[str, Any], patch: dict[str, Any], schema: PatchSchema | None) -> dict[str, Any]:
    """``doc`` with the strategic merge patch ``patch`` applied under ``schema``."""
    if not isinstance(doc, dict):
        raise PatchError("strategic merge patch needs an object to patch")
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    return _merge_map(doc, patch, schema)


# --- maps -------------------------------------------------------------------------------------


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: PatchSchema | None) -> dict[str, Any]:
    if _DIRECTIVE in patch:
        directive = patch[_DIRECTIVE]
        if directive == "replace":
            return _clean_map({k: v for k, v in patch.items() if k != _DIRECTIVE})
        if directive == "delete":
            return {}
        if directive != "merge":
            raise PatchError(f"unknown patch type: {directive} in map: {_short(patch)}")
        patch = {k: v for k, v in patch.items() if k != _DIRECTIVE}

    result = dict(original)
    pending = dict(patch)  # keys are popped as their directive consumes them
    if _RETAIN_KEYS in pending:
        _retain_keys(result, pending, pending.pop(_RETAIN_KEYS))
    for key in [k for k in pending if k.startswith(_SET_ORDER)]:
        _set_element_order(result, pending, key, schema)

    for key, patch_value in pending.items():
        is_delete_list = key.startswith(_DELETE_FROM)
        if is_delete_list:
            key = _directive_field(key, _DELETE_FROM, "primitive list")
        if patch_value is None:
            result.pop(key, None)
            continue
        if key not in result:
            if not is_delete_list:
                _put(result, key, _clean(patch_value, in_list=False))
            continue
        original_value = result[key]
        if _kind(original_value) != _kind(patch_value):
            if not is_delete_list:
                _put(result, key, _clean(patch_value, in_list=False))
            continue
        field_schema = schema.field(key) if schema is not None else None
        _, strategy = _strategies(field_schema)
        if isinstance(original_value, dict):
            if strategy == "replace":
                result[key] = _clean_map(patch_value)
            else:
                result[key] = _merge_map(original_value, patch_value, field_schema)
        elif isinstance(original_value, list):
            result[key] = _merge_list_field(original_value, patch_value, field_schema, strategy, is_delete_list)
        else:
            result[key] = patch_value
    return result


def _retain_keys(result: dict[str, Any], patch: dict[str, Any], retain: Any) -> None:
    """Keep only the listed keys of the live map; the patch may set no key outside the list."""
    if not isinstance(retain, list):
        raise PatchError(f"invalid patch format of {_RETAIN_KEYS}: {retain!r} is not a list")
    keep = {k for k in retain if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith((_SET_ORDER, _DELETE_FROM)):
            continue
        if key not in keep:
            raise PatchError(f"invalid patch format of {_RETAIN_KEYS}: {key!r} is set but not in {sorted(keep)}")
    for key in [k for k in result if k not in keep]:
        del result[key]


def _set_element_order(result: dict[str, Any], patch: dict[str, Any], directive_key: str, schema: PatchSchema | None) -> None:
    """Merge list ``f`` (if patched) and order it by ``$setElementOrder/f``."""
    order = patch.pop(directive_key)
    field = _directive_field(directive_key, _SET_ORDER, "setElementOrder list")
    if not isinstance(order, list):
        raise PatchError(f"invalid patch format of setElementOrder list: {directive_key} is not a list")
    original_list = result.get(field)
    found_original = original_list is not None
    found_patch = field in patch
    patch_list = patch.pop(field) if found_patch else None
    if found_original and not isinstance(original_list, list):
        raise PatchError(f"{field}: expected a list, got {_short(original_list)}")
    if found_patch and not isinstance(patch_list, list):
        raise PatchError(f"{field}: expected a list in the patch, got {_short(patch_list)}")

    field_schema = schema.field(field) if schema is not None else None
    _, strategy = _strategies(field_schema)
    merge_key = field_schema.merge_key if field_schema is not None else None
    _check_order_matches_patch(patch_list or [], order, merge_key, directive_key)

    if found_original and found_patch:
        merged = _merge_list_field(original_list or [], patch_list or [], field_schema, strategy, False)
    elif found_patch:
        merged = _clean_list(patch_list or [])
    elif found_original:
        merged = original_list or []
    else:
        return
    kind = _element_kind(original_list or [], patch_list or [], field)
    if kind is None:
        result[field] = merged
        return
    key = merge_key if kind == "map" else None
    in_order, server_only = _partition(merged, order, key)
    result[field] = _normalize_order(in_order, server_only, order, original_list or [], key)


def _check_order_matches_patch(patch_list: list[Any], order: list[Any], merge_key: str | None, directive_key: str) -> None:
    """Every item of the patch list appears in ``$setElementOrder``, in the same relative order."""
    if not patch_list or not order:
        return
    items = [v for v in patch_list if not (merge_key and isinstance(v, dict) and v.get(_DIRECTIVE) == "delete")]
    p = o = 0
    while p < len(items) and o < len(order):
        if isinstance(items[p], dict) and _DIRECTIVE in items[p]:
            p += 1
            continue
        if _same_item(items[p], order[o], merge_key):
            p += 1
        o += 1
    if p < len(items):
        raise PatchError(f"the order in patch list {_short(patch_list)} doesn't match {directive_key} list {_short(order)}")


# --- lists ------------------------------------------------------------------------------------


def _merge_list_field(original: list[Any], patch: list[Any], schema: PatchSchema | None, strategy: str | None, is_delete_list: bool) -> list[Any]:
    # A $deleteFromPrimitiveList applies whatever the field's strategy (as in Kubernetes).
    if strategy == "merge" or is_delete_list:
        merge_key = schema.merge_key if schema is not None else None
        item_schema = schema.items() if schema is not None else None
        return _merge_list(original, patch, item_schema, merge_key, is_delete_list)
    return _clean_list(patch)


def _merge_list(original: list[Any], patch: list[Any], item_schema: PatchSchema | None, merge_key: str | None, is_delete_list: bool) -> list[Any]:
    if not original and not patch:
        return []
    kind = _element_kind(original, patch, merge_key or "list")
    if kind == "scalar":
        if is_delete_list:
            doomed = {_hkey(v) for v in patch}
            return [v for v in original if _hkey(v) not in doomed]
        merged = _dedupe([*original, *patch])
        rest = patch
        key = None
    else:
        if not merge_key:
            raise PatchError("cannot merge lists of objects without a merge key")
        original, rest = _apply_special_elements(original, patch, merge_key)
        merged = _merge_by_key(original, rest, merge_key, item_schema)
        key = merge_key
    in_patch, server_only = _partition(merged, rest, key)
    return _normalize_order(in_patch, server_only, rest, original, key)


def _apply_special_elements(original: list[Any], patch: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Handle ``$patch`` elements: returns the live list after deletions and the plain elements."""
    plain: list[Any] = []
    replace = False
    for item in patch:
        directive = item.get(_DIRECTIVE) if isinstance(item, dict) else None
        if directive is None:
            plain.append(item)
        elif directive == "delete":
            if merge_key not in item:
                raise PatchError(f"map: {_short(item)} does not contain declared merge key: {merge_key}")
            doomed = _hkey(item[merge_key])
            original = [v for v in original if not (isinstance(v, dict) and merge_key in v and _hkey(v[merge_key]) == doomed)]
        elif directive == "replace":
            replace = True  # keep looking: the other $patch elements must not survive either
        elif directive == "merge":
            # Kubernetes refuses this ("merging lists cannot yet be specified"); merging is the
            # default anyway, so an element carrying only the directive is dropped and one
            # carrying a merge key merges as if the directive were absent.
            rest = {k: v for k, v in item.items() if k != _DIRECTIVE}
            if merge_key in rest:
                plain.append(rest)
        else:
            raise PatchError(f"unknown patch type: {directive} in map: {_short(item)}")
    if replace:
        return _clean_list(plain), []
    return original, plain


def _merge_by_key(original: list[Any], patch: list[Any], merge_key: str, item_schema: PatchSchema | None) -> list[Any]:
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise PatchError(f"map: {_short(item)} does not contain declared merge key: {merge_key}")
        wanted = _hkey(item[merge_key])
        for i, live in enumerate(merged):
            if merge_key in live and _hkey(live[merge_key]) == wanted:
                merged[i] = _merge_map(live, item, item_schema)
                break
        else:
            cleaned = _clean(item, in_list=True)
            if cleaned is not _DROP:
                merged.append(cleaned)
    return merged


def _partition(merged: list[Any], by: list[Any], merge_key: str | None) -> tuple[list[Any], list[Any]]:
    """Split ``merged`` into the items present in ``by`` and the server-only rest."""
    wanted = set()
    for v in by:
        if merge_key is None:
            wanted.add(_hkey(v))
        elif isinstance(v, dict) and merge_key in v:
            wanted.add(_hkey(v[merge_key]))
    present: list[Any] = []
    server_only: list[Any] = []
    for item in merged:
        (present if _identity(item, merge_key) in wanted else server_only).append(item)
    return present, server_only


def _normalize_order(
    in_patch: list[Any], server_only: list[Any], patch_order: list[Any], server_order: list[Any], merge_key: str | None
) -> list[Any]:
    """Sort patch items by the patch's order and server-only items by the live order, then
    interleave them: a server-only item goes first only when both are in the live list and it
    comes earlier there."""
    if merge_key is not None:
        for v in patch_order:
            if not isinstance(v, dict) or merge_key not in v:
                raise PatchError(f"map: {_short(v)} does not contain declared merge key: {merge_key}")
    in_patch = _sort_by(in_patch, patch_order, merge_key)
    server_only = _sort_by(server_only, server_order, merge_key)
    live_index = _first_indexes(server_order, merge_key)
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(in_patch):
        if j >= len(in_patch):
            out.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            out.append(in_patch[j])
            j += 1
        else:
            li = live_index.get(_identity(server_only[i], merge_key))
            ri = live_index.get(_identity(in_patch[j], merge_key))
            if li is not None and ri is not None and li < ri:
                out.append(server_only[i])
                i += 1
            else:
                out.append(in_patch[j])
                j += 1
    return out


def _sort_by(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    index = _first_indexes(order, merge_key)
    missing = len(order)
    return sorted(items, key=lambda v: index.get(_identity(v, merge_key), missing))


def _first_indexes(items: list[Any], merge_key: str | None) -> dict[Any, int]:
    index: dict[Any, int] = {}
    for i, v in enumerate(items):
        if merge_key is not None and not (isinstance(v, dict) and merge_key in v):
            continue
        index.setdefault(_identity(v, merge_key), i)
    return index


def _identity(item: Any, merge_key: str | None) -> Any:
    if merge_key is None:
        return _hkey(item)
    if not isinstance(item, dict) or merge_key not in item:
        raise PatchError(f"map: {_short(item)} does not contain declared merge key: {merge_key}")
    return _hkey(item[merge_key])


def _same_item(a: Any, b: Any, merge_key: str | None) -> bool:
    if not merge_key:
        return _hkey(a) == _hkey(b)
    for v in (a, b):
        if not isinstance(v, dict) or merge_key not in v:
            raise PatchError(f"map: {_short(v)} does not contain declared merge key: {merge_key}")
    return _hkey(a[merge_key]) == _hkey(b[merge_key])


def _element_kind(original: list[Any], patch: list[Any], what: str) -> str | None:
    """``"map"`` or ``"scalar"`` for the elements of both lists; ``None`` when both are empty."""
    kind = None
    for v in (*original, *patch):
        k = _kind(v)
        if k == "list":
            raise PatchError(f"{what}: lists of lists are not supported")
        k = "map" if k == "map" else "scalar"
        if kind is None:
            kind = k
        elif kind != k:
            raise PatchError(f"{what}: list element types are not identical")
    return kind


def _dedupe(items: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for v in items:
        h = _hkey(v)
        if h not in seen:
            seen.add(h)
            out.append(v)
    return out


# --- values taken from the patch --------------------------------------------------------------


def _clean(value: Any, *, in_list: bool) -> Any:
    """A patch value as it lands in the result: directives and null map values removed.

    Returns ``_DROP`` for a value that is itself a directive: a ``$patch`` element of a list,
    or a ``$patch: delete`` map (Kubernetes drops a map carrying any ``$patch``; a
    ``replace`` or ``merge`` map is kept here, which is what its sender asked for).
    """
    if isinstance(value, dict):
        if _DIRECTIVE in value:
            if in_list or value[_DIRECTIVE] not in ("replace", "merge"):
                return _DROP
            value = {k: v for k, v in value.items() if k != _DIRECTIVE}
        return _clean_map(value)
    if isinstance(value, list):
        return _clean_list(value)
    return value


def _clean_map(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in value.items():
        if v is None or _is_directive_key(k):
            continue
        _put(out, k, _clean(v, in_list=False))
    return out


def _clean_list(value: list[Any]) -> list[Any]:
    return [c for c in (_clean(v, in_list=True) for v in value) if c is not _DROP]


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not _DROP:
        target[key] = value


def _is_directive_key(key: str) -> bool:
    return key in (_DIRECTIVE, _RETAIN_KEYS) or key.startswith((_SET_ORDER + "/", _DELETE_FROM + "/"))


# --- small helpers ----------------------------------------------------------------------------


def _directive_field(key: str, prefix: str, what: str) -> str:
    head, sep, field = key.partition("/")
    if head != prefix or not sep or not field:
        raise PatchError(f"invalid patch format of {what}: {key!r}")
    return field


def _strategies(schema: PatchSchema | None) -> tuple[bool, str | None]:
    """:func:`minik8s.patchschema.patch_strategies`, its error a 400 PatchError."""
    try:
        return patch_strategies(schema)
    except ValueError as e:
        raise PatchError(str(e)) from None


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return "scalar"


def _hkey(value: Any) -> Hashable:
    """A hashable identity for a JSON value: ``1`` and ``1.0`` alike, ``true`` not ``1``."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return ("z", None)
    return ("j", json.dumps(value, sort_keys=True))


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 200 else text[:197] + "..."
