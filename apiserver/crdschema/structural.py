"""The rules a CRD's OpenAPI v3 schema must keep to be *structural*, as Kubernetes'
apiextensions validation checks them (``apiserver/schema/validation.go`` and the v1 CRD
validation), with Kubernetes' field paths and messages.

A structural schema says, for every field it specifies, its ``type`` (outside ``allOf``,
``anyOf``, ``oneOf`` and ``not``, which may only add value checks), ``items`` for arrays, and
at the root an object whose ``metadata`` may only restrict ``name`` and ``generateName``. The
Kubernetes extensions are checked where people get them wrong: ``x-kubernetes-int-or-string``,
``x-kubernetes-embedded-resource``, ``x-kubernetes-list-type`` and ``-list-map-keys``. Each
``default`` must itself be valid against its schema and keep no field pruning would drop.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from apiserver import validation as v
from apiserver.crdschema import pruning, values
from apiserver.validation import FieldError

__all__ = ["validate_schema"]

_TYPES = ["array", "boolean", "integer", "number", "object", "string"]
_LIST_TYPES = ["atomic", "map", "set"]
_MAP_TYPES = ["atomic", "granular"]
# what a value validation (inside allOf/anyOf/oneOf/not) may not say, and the message
_FORBIDDEN_NESTED: tuple[tuple[str, str], ...] = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("externalDocs", "must be undefined to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)
_ROOT, _ITEM, _FIELD = "root", "item", "field"


def validate_schema(schema: Any, path: str) -> list[FieldError]:
    """Every error of a version's ``openAPIV3Schema`` at ``path``."""
    errs = shape_errors(schema, path)
    if errs:  # a keyword of the wrong JSON type: nothing else can be read safely
        return errs
    _node(schema, path, _ROOT, errs)
    errs.sort(key=lambda e: e.text())  # Kubernetes sorts them: map order is random in Go
    return errs


# JSONSchemaProps' keywords and the JSON type each must have (Go decodes them into typed fields)
_STRING = ("id", "$schema", "$ref", "description", "type", "format", "title", "pattern",
           "x-kubernetes-list-type", "x-kubernetes-map-type")
_NUMBER = ("maximum", "minimum", "multipleOf")
_INTEGER = ("maxLength", "minLength", "maxItems", "minItems", "maxProperties", "minProperties")
_BOOL = ("exclusiveMaximum", "exclusiveMinimum", "uniqueItems", "nullable", "x-kubernetes-preserve-unknown-fields",
         "x-kubernetes-embedded-resource", "x-kubernetes-int-or-string")
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions")
_SCHEMA_LISTS = ("allOf", "oneOf", "anyOf")
_GO_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array", dict: "object"}


def _json_type(value: Any) -> str:
    return "null" if value is None else _GO_TYPES.get(type(value), "object")


def _wrong(path: str, value: Any, want: str) -> FieldError:
    return FieldError(path, "FieldValueTypeInvalid", f"Invalid value: \"{_json_type(value)}\": must be {want}")


def shape_errors(node: Any, path: str) -> list[FieldError]:
    """A JSONSchemaProps whose keywords have the JSON types Kubernetes' decoder demands (a
    ``type`` that is a string, ``properties`` an object of schemas, ``required`` a list of
    strings...): each keyword of another type is an error naming it."""
    errs: list[FieldError] = []
    _shape(node, path, errs)
    return errs


def _shape(node: Any, path: str, errs: list[FieldError]) -> None:
    if not isinstance(node, dict):
        errs.append(_wrong(path, node, "an object"))
        return
    for k, val in node.items():
        p = f"{path}.{k}"
        if val is None:
            continue
        if k in _STRING and not isinstance(val, str):
            errs.append(_wrong(p, val, "a string"))
        elif k in _NUMBER and (isinstance(val, bool) or not isinstance(val, (int, float))):
            errs.append(_wrong(p, val, "a number"))
        elif k in _INTEGER and (isinstance(val, bool) or not isinstance(val, int)):
            errs.append(_wrong(p, val, "an integer"))
        elif k in _BOOL and not isinstance(val, bool):
            errs.append(_wrong(p, val, "a boolean"))
        elif k in ("required", "x-kubernetes-list-map-keys") and not (
                isinstance(val, list) and all(isinstance(x, str) for x in val)):
            errs.append(_wrong(p, val, "a list of strings"))
        elif k == "enum" and not isinstance(val, list):
            errs.append(_wrong(p, val, "a list"))
        elif k in _SCHEMA_MAPS:
            if not isinstance(val, dict):
                errs.append(_wrong(p, val, "an object"))
            else:
                for name, sub in val.items():
                    _shape(sub, f"{path}.{k}[{name}]", errs)
        elif k in _SCHEMA_LISTS:
            if not isinstance(val, list):
                errs.append(_wrong(p, val, "a list"))
            else:
                for i, sub in enumerate(val):
                    _shape(sub, f"{p}[{i}]", errs)
        elif k in ("not", "items") and not isinstance(val, (dict, list) if k == "items" else dict):
            errs.append(_wrong(p, val, "an object"))
        elif k == "items":
            indexed: Iterable[tuple[int | None, Any]] = enumerate(val) if isinstance(val, list) else [(None, val)]
            for index, sub in indexed:
                _shape(sub, p if index is None else f"{p}[{index}]", errs)
        elif k == "not":
            _shape(val, p, errs)
        elif k in ("additionalProperties", "additionalItems"):
            if isinstance(val, dict):
                _shape(val, p, errs)
            elif not isinstance(val, bool):
                errs.append(_wrong(p, val, "an object or a boolean"))
        elif k == "x-kubernetes-validations" and not isinstance(val, list):
            errs.append(_wrong(p, val, "a list"))


def strip_nulls(node: Any) -> Any:
    """A schema with its null keywords removed (Go decodes a null into an unset field)."""
    if isinstance(node, dict):
        return {k: strip_nulls(val) for k, val in node.items() if val is not None}
    if isinstance(node, list):
        return [strip_nulls(x) for x in node]
    return node


def _key(path: str, key: str) -> str:
    return f"{path}.properties[{key}]"


def _node(s: dict[str, Any], path: str, lvl: str, errs: list[FieldError]) -> None:
    typ = s.get("type")
    int_or_string = bool(s.get("x-kubernetes-int-or-string"))
    preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(s.get("x-kubernetes-embedded-resource"))
    if "$ref" in s:
        errs.append(v.forbidden(f"{path}.$ref", "$ref is not supported"))
    if typ is not None and typ not in _TYPES:
        errs.append(v.not_supported(f"{path}.type", typ, _TYPES))
    if s.get("uniqueItems"):
        errs.append(v.forbidden(f"{path}.uniqueItems", "uniqueItems cannot be set to true since the runtime "
                                                       "complexity becomes quadratic"))
    if "x-kubernetes-preserve-unknown-fields" in s and s["x-kubernetes-preserve-unknown-fields"] is not True:
        errs.append(v.invalid(f"{path}.x-kubernetes-preserve-unknown-fields", s["x-kubernetes-preserve-unknown-fields"],
                              "must be true or undefined"))
    # arrays and their items
    items = s.get("items")
    if typ == "array" and items is None:
        errs.append(v.FieldError(f"{path}.items", v.REQUIRED, "Required value: must be specified"))
    if isinstance(items, list):
        errs.append(v.forbidden(f"{path}.items", "items must be a schema object and not an array"))
    elif isinstance(items, dict):
        _node(items, f"{path}.items", _ITEM, errs)
    # objects
    props = s.get("properties") or {}
    for k, sub in props.items():
        if isinstance(sub, dict):
            _node(sub, _key(path, k), _FIELD, errs)
    addl = s.get("additionalProperties")
    if addl is not None:
        if lvl == _ROOT:
            errs.append(v.forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if props and (addl is False or isinstance(addl, dict)):
            errs.append(v.forbidden(f"{path}.additionalProperties", "additionalProperties and properties are "
                                                                    "mutual exclusive"))
        if isinstance(addl, dict):
            _node(addl, f"{path}.additionalProperties", _FIELD, errs)
    # the extensions
    if int_or_string and preserve:
        errs.append(v.invalid(f"{path}.x-kubernetes-preserve-unknown-fields", True,
                              "must be false if x-kubernetes-int-or-string is true"))
    if int_or_string and embedded:
        errs.append(v.invalid(f"{path}.x-kubernetes-embedded-resource", True,
                              "must be false if x-kubernetes-int-or-string is true"))
    if embedded and typ != "object":
        if not typ:
            errs.append(FieldError(f"{path}.type", v.REQUIRED,
                                   "Required value: must be object if x-kubernetes-embedded-resource is true"))
        else:
            errs.append(v.invalid(f"{path}.type", typ, "must be object if x-kubernetes-embedded-resource is true"))
    elif not typ and not int_or_string and not preserve:
        what = {_ROOT: "at the root", _ITEM: "for specified array items",
                _FIELD: "for specified object fields"}[lvl]
        errs.append(FieldError(f"{path}.type", v.REQUIRED, f"Required value: must not be empty {what}"))
    if embedded and addl is not None:
        errs.append(v.forbidden(f"{path}.additionalProperties",
                                "must not be used if x-kubernetes-embedded-resource is set"))
    if embedded and not preserve and not props:
        errs.append(FieldError(f"{path}.properties", v.REQUIRED, "Required value: must not be empty if "
                               "x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"))
    if lvl == _ROOT and typ and typ != "object":
        errs.append(v.invalid(f"{path}.type", typ, "must be object at the root"))
    check_meta = lvl == _ROOT or embedded
    if check_meta:
        for k in ("kind", "apiVersion"):
            sub = props.get(k)
            if isinstance(sub, dict) and sub.get("type") != "string":
                errs.append(v.invalid(f"{_key(path, k)}.type", sub.get("type") or "", "must be string"))
    md = props.get("metadata")
    if isinstance(md, dict):
        _metadata(md, _key(path, "metadata"), lvl, check_meta, errs)
    _list_type(s, path, errs)
    if s.get("x-kubernetes-map-type") is not None and s["x-kubernetes-map-type"] not in _MAP_TYPES:
        errs.append(v.not_supported(f"{path}.x-kubernetes-map-type", s["x-kubernetes-map-type"], _MAP_TYPES))
    _value_checks(s, path, errs)
    for junctor in ("allOf", "anyOf", "oneOf"):
        branches = s.get(junctor) or []
        skip_types = junctor == "anyOf" and int_or_string and _int_or_string_branches(branches)
        for i, b in enumerate(branches):
            if isinstance(b, dict):
                if junctor == "allOf" and i == 0 and int_or_string and _int_or_string_branches(b.get("anyOf") or []):
                    _nested(b, f"{path}.allOf[{i}]", errs, skip_any_of=True)
                else:
                    _nested(b, f"{path}.{junctor}[{i}]", errs, skip_types=skip_types)
    if isinstance(s.get("not"), dict):
        _nested(s["not"], f"{path}.not", errs)
    if "default" in s and lvl == _ROOT:
        errs.append(v.forbidden(f"{path}.default", "must not be set at the root"))
    elif "default" in s:
        _check_default(s, path, errs)


def _int_or_string_branches(branches: list[Any]) -> bool:
    return len(branches) == 2 and branches[0] == {"type": "integer"} and branches[1] == {"type": "string"}


def _metadata(md: dict[str, Any], path: str, lvl: str, check: bool, errs: list[FieldError]) -> None:
    if check and md.get("type") != "object":
        errs.append(v.invalid(f"{path}.type", md.get("type") or "", "must be object"))
    if lvl != _ROOT:
        return
    allowed = {"type", "properties"}
    props = md.get("properties") or {}
    if set(md) - allowed or set(props) - {"name", "generateName"}:
        errs.append(v.forbidden(path, "must not specify anything other than name and generateName, but "
                                      "metadata is implicitly specified"))


def _list_type(s: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    lt = s.get("x-kubernetes-list-type")
    keys = s.get("x-kubernetes-list-map-keys")
    if lt is not None:
        if s.get("type") != "array":
            errs.append(v.invalid(f"{path}.x-kubernetes-list-type", lt, "must only be used if type is array"))
        if lt not in _LIST_TYPES:
            errs.append(v.not_supported(f"{path}.x-kubernetes-list-type", lt, _LIST_TYPES))
    if keys and lt != "map":
        errs.append(v.forbidden(f"{path}.x-kubernetes-list-map-keys",
                                "must be empty if x-kubernetes-list-type is not map"))
    if lt == "map":
        items: dict[str, Any] = s["items"] if isinstance(s.get("items"), dict) else {}
        if not keys:
            errs.append(FieldError(f"{path}.x-kubernetes-list-map-keys", v.REQUIRED,
                                   "Required value: must not be empty if x-kubernetes-list-type is map"))
        if items.get("type") != "object":
            errs.append(v.invalid(f"{path}.items.type", items.get("type") or "",
                                  "must be object if parent array's x-kubernetes-list-type is map"))
        iprops = items.get("properties") or {}
        required = set(items.get("required") or [])
        for i, k in enumerate(keys or []):
            kp = iprops.get(k)
            if kp is None:
                errs.append(v.invalid(f"{path}.x-kubernetes-list-map-keys[{i}]", k,
                                      "entries must all be names of item properties"))
            elif kp.get("type") not in ("string", "integer", "number", "boolean") and \
                    not kp.get("x-kubernetes-int-or-string"):
                errs.append(v.invalid(f"{path}.items.properties[{k}].type", kp.get("type") or "",
                                      "must be a scalar type if parent array's x-kubernetes-list-type is map"))
            elif k not in required and "default" not in kp:
                errs.append(FieldError(f"{path}.items.properties[{k}]", v.REQUIRED,
                                       "Required value: this property is in x-kubernetes-list-map-keys, so it must "
                                       "have a default or be a required property"))
    if lt == "set":
        items = s["items"] if isinstance(s.get("items"), dict) else {}
        if items.get("type") in ("object", "array") and items.get("x-kubernetes-map-type") != "atomic":
            errs.append(v.invalid(f"{path}.items.x-kubernetes-map-type", items.get("x-kubernetes-map-type") or "",
                                  "must be atomic as item of a list with x-kubernetes-list-type=set")
                        if items.get("type") == "object" else
                        v.invalid(f"{path}.items.x-kubernetes-list-type", items.get("x-kubernetes-list-type") or "",
                                  "must be atomic as item of a list with x-kubernetes-list-type=set"))


def _value_checks(s: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    pattern = s.get("pattern")
    if pattern is not None:
        try:
            values.compile_pattern(pattern)
        except re.error as e:
            errs.append(v.invalid(f"{path}.pattern", pattern, f"must be a valid regular expression, but isn't: {e}"))
    for k in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
        n = s.get(k)
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
            errs.append(v.invalid(f"{path}.{k}", n, "must be a non-negative integer"))


def _nested(s: dict[str, Any], path: str, errs: list[FieldError], *, skip_types: bool = False,
            skip_any_of: bool = False) -> None:
    """A schema under allOf/anyOf/oneOf/not: value checks only."""
    for key, msg in _FORBIDDEN_NESTED:
        if key == "type" and skip_types:
            continue
        val = s.get(key)
        if val not in (None, False, "", [], {}):
            errs.append(v.forbidden(f"{path}.{key}", msg))
    _value_checks(s, path, errs)
    if "metadata" in (s.get("properties") or {}):
        errs.append(v.forbidden(_key(path, "metadata"), "must not be specified in a nested context"))
    for k, sub in (s.get("properties") or {}).items():
        if isinstance(sub, dict) and k != "metadata":
            _nested(sub, _key(path, k), errs)
    if isinstance(s.get("items"), dict):
        _nested(s["items"], f"{path}.items", errs)
    for junctor in ("allOf", "anyOf", "oneOf"):
        if junctor == "anyOf" and skip_any_of:
            continue
        for i, b in enumerate(s.get(junctor) or []):
            if isinstance(b, dict):
                _nested(b, f"{path}.{junctor}[{i}]", errs)
    if isinstance(s.get("not"), dict):
        _nested(s["not"], f"{path}.not", errs)


def _check_default(s: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    """A default must validate against its own schema and keep only fields it specifies."""
    dflt = copy.deepcopy(s["default"])
    wrapper = {"properties": {"x": s}}
    holder = {"x": dflt}
    pruned = pruning.prune(holder, {"type": "object", "properties": {"x": s}}) if isinstance(dflt, dict) else []
    if pruned:
        errs.append(v.invalid(f"{path}.default", "", "must not have unknown fields"))
        return
    pruning.default(holder, wrapper)
    for e in values.validate(holder["x"], s, "<default>"):
        msg = e.message.replace("<default> in body", "in body")
        errs.append(FieldError(f"{path}.default" + e.field.removeprefix("<default>"), e.reason, msg))
