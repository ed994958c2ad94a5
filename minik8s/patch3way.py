"""Three-way patches: what ``apply`` sends to turn the live object into the one in the file.

Client-side ``apply`` (kubectl's and ``mkctl``'s) knows three versions of an object: the
*original* (what was applied last time, kept in the ``last-applied-configuration``
annotation), the *modified* (the manifest now) and the *current* (the live object, with the
server's defaults and other writers' fields). The patch it sends is

- every addition and change from current to modified (never deleting what only the server or
  another writer set), plus
- every deletion from original to modified (what this user applied before and now removed).

:func:`three_way_strategic` builds it as a strategic merge patch, guided by a
:class:`~minik8s.patchschema.PatchSchema` (merge keys, ``$setElementOrder``, ``$retainKeys``,
``$patch: delete`` and ``$deleteFromPrimitiveList``), following Kubernetes'
``strategicpatch.CreateThreeWayMergePatch``; :func:`three_way_json_merge` builds the JSON merge
patch (RFC 7386) kubectl uses for kinds it has no schema for. An empty dict means "nothing to
do": apply then says ``unchanged`` and sends nothing.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only named in annotations: mkctl computes patches without importing pydantic
    from minik8s.patchschema import PatchSchema

__all__ = ["PatchCreationError", "three_way_strategic", "three_way_json_merge"]

_DIRECTIVE = "$patch"
_RETAIN_KEYS = "$retainKeys"
_SET_ORDER = "$setElementOrder"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList"


class PatchCreationError(ValueError):
    """Raised when the documents cannot be diffed (a keyed list item lacks its merge key,
    a list mixes maps with scalars, a list of lists)."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Options:
    ignore_deletions: bool = False
    ignore_changes_and_additions: bool = False
    build_retain_keys: bool = False


def three_way_strategic(original: dict[str, Any] | None, modified: dict[str, Any], current: dict[str, Any] | None,
                        schema: PatchSchema | None) -> dict[str, Any]:
    """The strategic merge patch taking ``current`` to ``modified`` while deleting only what
    ``original`` had and ``modified`` dropped."""
    original, current = original or {}, current or {}
    delta = _diff_maps(current, modified, schema, _Options(ignore_deletions=True))
    deletions = _diff_maps(original, modified, schema, _Options(ignore_changes_and_additions=True))
    # The delta is strictly additive, so merging it over the deletions never loses either.
    return _merge_maps(deletions, delta, schema)


def three_way_json_merge(original: dict[str, Any] | None, modified: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
    """The JSON merge patch: additions and changes from current, deletions (as ``null``) from
    original; lists are replaced whole, as RFC 7386 has it."""
    original, current = original or {}, current or {}
    add_and_change = _keep_nulls(_merge_patch_diff(current, modified), keep=False)
    deletions = _keep_nulls(_merge_patch_diff(original, modified), keep=True)
    return _json_merge(deletions, add_and_change)


# --- strategic: diff ------------------------------------------------------------------------


def patch_strategies(schema: PatchSchema | None) -> tuple[bool, str | None]:
    """What ``x-kubernetes-patch-strategy`` says of a field (the one reading of it, for this
    module's diffs and the apiserver's strategic merge alike), e.g. ``"merge,retainKeys"``: (whether
    ``retainKeys`` is set, the other strategy or None). ValueError when the value is not one
    Kubernetes accepts (more than two parts, or two strategies besides retainKeys)."""
    raw = schema.patch_strategy if schema is not None else None
    if not raw:
        return False, None
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    others = [p for p in parts if p != "retainKeys"]
    if len(parts) > 2 or len(others) > 1:
        raise ValueError(f"unexpected patch strategy: {raw}")
    return len(others) != len(parts), (others[0] if others else None)


def _field(schema: PatchSchema | None, key: str) -> PatchSchema | None:
    return schema.field(key) if schema is not None else None


def _diff_maps(original: dict[str, Any], modified: dict[str, Any], schema: PatchSchema | None, opts: _Options) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    retain: list[str] = []
    for key, mod in modified.items():
        if opts.build_retain_keys and mod is not None:
            retain.append(key)
        if key not in original:
            if not opts.ignore_changes_and_additions:
                patch[key] = copy.deepcopy(mod)
            continue
        orig = original[key]
        if key == _DIRECTIVE:
            # A directive in a manifest is sent as written whenever it differs.
            if orig != mod and not opts.ignore_changes_and_additions:
                patch[key] = mod
            continue
        if _kind(orig) != _kind(mod):
            if not opts.ignore_changes_and_additions:
                patch[key] = copy.deepcopy(mod)
            continue
        if isinstance(orig, dict):
            _diff_map_field(key, orig, mod, patch, _field(schema, key), opts)
        elif isinstance(orig, list):
            _diff_list_field(key, orig, mod, patch, _field(schema, key), opts)
        elif orig != mod and not opts.ignore_changes_and_additions:
            patch[key] = mod
    if not opts.ignore_deletions:
        for key in original:
            if key not in modified:
                patch[key] = None
    if retain and (patch or any(k not in modified for k, v in original.items() if v is not None)):
        patch[_RETAIN_KEYS] = sorted(retain)
    return patch


def _diff_map_field(key: str, orig: dict[str, Any], mod: dict[str, Any], patch: dict[str, Any], schema: PatchSchema | None,
                    opts: _Options) -> None:
    retain_keys, strategy = patch_strategies(schema)
    if strategy == "replace":
        if orig != mod and not opts.ignore_changes_and_additions:
            patch[key] = {**copy.deepcopy(mod), _DIRECTIVE: "replace"}
        return
    sub = _diff_maps(orig, mod, schema, dataclasses.replace(opts, build_retain_keys=retain_keys))
    if sub:
        patch[key] = sub


def _diff_list_field(key: str, orig: list[Any], mod: list[Any], patch: dict[str, Any], schema: PatchSchema | None,
                     opts: _Options) -> None:
    retain_keys, strategy = patch_strategies(schema)
    if strategy != "merge":
        if orig != mod and not opts.ignore_changes_and_additions:
            patch[key] = copy.deepcopy(mod)
        return
    item_schema = schema.items() if schema is not None else None
    merge_key = schema.merge_key if schema is not None else None
    adds, deletes, order = _diff_lists(orig, mod, item_schema, merge_key,
                                       dataclasses.replace(opts, build_retain_keys=retain_keys))
    if adds:
        patch[key] = adds
    if deletes:
        patch[f"{_DELETE_PRIMITIVE}/{key}"] = deletes
    if order:
        patch[f"{_SET_ORDER}/{key}"] = order


def _diff_lists(orig: list[Any], mod: list[Any], item_schema: PatchSchema | None, merge_key: str | None,
                opts: _Options) -> tuple[list[Any], list[Any], list[Any]]:
    kind = _list_kind(orig, mod)
    if kind is None:
        return [], [], []
    if kind == "list":
        raise PatchCreationError("lists of lists are not supported by strategic merge patch")
    if kind == "map":
        if not merge_key:
            raise PatchCreationError("a merged list of maps has no merge key in the schema")
        adds, deletes = _diff_lists_of_maps(orig, mod, item_schema, merge_key, opts)
        adds = _order_like(adds, mod, merge_key)
        changed = bool(adds) or bool(deletes)
        same_order = _same_order(orig, mod, merge_key)
        adds = adds + deletes  # deletions ride at the end of the patch list
        order: list[Any] = []
        if ((not opts.ignore_changes_and_additions and (adds or not same_order))
                or (not opts.ignore_deletions and changed)):
            order = [{merge_key: item[merge_key]} for item in mod]
        return adds, [], order
    adds, deletes = _diff_lists_of_scalars(orig, mod, opts)
    adds = _order_like(adds, mod, None)
    order = []
    if ((not opts.ignore_deletions and deletes)
            or (not opts.ignore_changes_and_additions and orig != mod)):
        order = list(mod)
    return adds, deletes, order


def _diff_lists_of_maps(orig: list[Any], mod: list[Any], item_schema: PatchSchema | None, merge_key: str,
                        opts: _Options) -> tuple[list[Any], list[Any]]:
    def keyed(items: list[Any]) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for item in items:
            if merge_key not in item:
                raise PatchCreationError(f"map: {item} does not contain declared merge key: {merge_key}")
            out.append((_key_string(item[merge_key]), item))
        return sorted(out, key=lambda kv: kv[0])

    o_sorted, m_sorted = keyed(orig), keyed(mod)
    adds: list[Any] = []
    deletes: list[Any] = []
    i = j = 0
    while i < len(o_sorted) or j < len(m_sorted):
        if i < len(o_sorted) and j < len(m_sorted) and o_sorted[i][0] == m_sorted[j][0]:
            sub = _diff_maps(o_sorted[i][1], m_sorted[j][1], item_schema, opts)
            if sub:
                sub[merge_key] = m_sorted[j][1][merge_key]
                adds.append(sub)
            i += 1
            j += 1
        elif i >= len(o_sorted) or (j < len(m_sorted) and o_sorted[i][0] > m_sorted[j][0]):
            if not opts.ignore_changes_and_additions:
                adds.append(copy.deepcopy(m_sorted[j][1]))
            j += 1
        else:
            if not opts.ignore_deletions:
                deletes.append({merge_key: o_sorted[i][1][merge_key], _DIRECTIVE: "delete"})
            i += 1
    return adds, deletes


def _diff_lists_of_scalars(orig: list[Any], mod: list[Any], opts: _Options) -> tuple[list[Any], list[Any]]:
    o_sorted = sorted(orig, key=_key_string)
    m_sorted = sorted(mod, key=_key_string)
    adds: list[Any] = []
    deletes: list[Any] = []
    i = j = 0
    while i < len(o_sorted) and j < len(m_sorted):
        a, b = _key_string(o_sorted[i]), _key_string(m_sorted[j])
        if a == b:
            i += 1
            j += 1
        elif a > b:
            if not opts.ignore_changes_and_additions:
                adds.append(m_sorted[j])
            j += 1
        else:
            if not opts.ignore_deletions:
                deletes.append(o_sorted[i])
            i += 1
    if not opts.ignore_changes_and_additions:
        adds.extend(m_sorted[j:])
    if not opts.ignore_deletions:
        deletes.extend(o_sorted[i:])
    return adds, deletes


def _order_like(items: list[Any], reference: list[Any], merge_key: str | None) -> list[Any]:
    """``items`` in the order their counterparts have in ``reference`` (the manifest)."""
    def ident(v: Any) -> str:
        return _key_string(v[merge_key]) if merge_key else _key_string(v)

    position: dict[str, int] = {}
    for idx, ref in enumerate(reference):
        position.setdefault(ident(ref), idx)
    return sorted(items, key=lambda v: position.get(ident(v), len(reference)))


def _same_order(orig: list[Any], mod: list[Any], merge_key: str) -> bool:
    if len(orig) != len(mod):
        return False
    return all(_key_string(a.get(merge_key)) == _key_string(b.get(merge_key)) for a, b in zip(orig, mod))


# --- strategic: merging the deletions with the delta -------------------------------------


def _merge_maps(base: dict[str, Any], patch: dict[str, Any], schema: PatchSchema | None) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if key not in out or value is None or key.startswith("$") or _kind(out[key]) != _kind(value):
            out[key] = value
            continue
        current = out[key]
        if isinstance(current, dict):
            out[key] = _merge_maps(current, value, _field(schema, key))
        elif isinstance(current, list):
            sub = _field(schema, key)
            _, strategy = patch_strategies(sub)
            if strategy == "merge":
                out[key] = _merge_lists(current, value, sub.items() if sub else None, sub.merge_key if sub else None)
            else:
                out[key] = value
        else:
            out[key] = value
    return out


def _merge_lists(base: list[Any], patch: list[Any], item_schema: PatchSchema | None, merge_key: str | None) -> list[Any]:
    if not base or not patch:
        return list(base) + list(patch)
    if not isinstance(patch[0], dict) or not merge_key:
        out = list(base)
        for v in patch:
            if v not in out:
                out.append(v)
        return out
    out = list(base)
    for item in patch:
        for idx, existing in enumerate(out):
            if isinstance(existing, dict) and existing.get(merge_key) == item.get(merge_key):
                out[idx] = _merge_maps(existing, item, item_schema)
                break
        else:
            out.append(item)
    return out


# --- JSON merge patch ------------------------------------------------------------------------


def _merge_patch_diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The RFC 7386 merge patch taking ``a`` to ``b``."""
    patch: dict[str, Any] = {}
    for key, bv in b.items():
        if key not in a:
            patch[key] = copy.deepcopy(bv)
            continue
        av = a[key]
        if isinstance(av, dict) and isinstance(bv, dict):
            sub = _merge_patch_diff(av, bv)
            if sub:
                patch[key] = sub
        elif av != bv or _kind(av) != _kind(bv):
            patch[key] = copy.deepcopy(bv)
    for key in a:
        if key not in b:
            patch[key] = None
    return patch


def _keep_nulls(patch: dict[str, Any], *, keep: bool) -> dict[str, Any]:
    """Only the deletions (``keep``) or only the additions and changes of a merge patch."""
    out: dict[str, Any] = {}
    for key, value in patch.items():
        if isinstance(value, dict) and value:
            sub = _keep_nulls(value, keep=keep)
            if sub:
                out[key] = sub
        elif (value is None) == keep:
            out[key] = value
    return out


def _json_merge(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(target)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _json_merge(out[key], value)
        else:
            out[key] = value
    return out


# --- helpers --------------------------------------------------------------------------------


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "map"
    if isinstance(v, list):
        return "list"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return "string"


def _list_kind(a: list[Any], b: list[Any]) -> str | None:
    kinds = {_kind(v) for v in (*a, *b)}
    if not kinds:
        return None
    if len(kinds) > 1 and ("map" in kinds or "list" in kinds):
        raise PatchCreationError("a list mixes maps or lists with other values")
    return "map" if "map" in kinds else ("list" if "list" in kinds else "scalar")


def _key_string(v: Any) -> str:
    """How Go's ``fmt.Sprintf("%v")`` renders a merge-key value, which Kubernetes sorts by."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "<nil>"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
