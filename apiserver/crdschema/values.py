"""Validating a custom object against its CRD's OpenAPI v3 schema, as Kubernetes' schema
validator (kube-openapi's ``validate`` package, mapped to field errors by apiextensions) does.

Checks: ``type`` (and ``nullable``), ``x-kubernetes-int-or-string``, ``enum``, ``pattern``,
``minLength``/``maxLength``, ``minimum``/``maximum`` (and exclusive), ``multipleOf``,
``minItems``/``maxItems``, ``minProperties``/``maxProperties``, ``required``, ``format`` (the
formats Kubernetes checks), ``allOf``/``anyOf``/``oneOf``/``not``, ``x-kubernetes-list-type``
``set`` and ``map`` (unique items and keys) and ``x-kubernetes-embedded-resource`` (apiVersion,
kind and metadata of an embedded object).

Messages are Kubernetes': the path in Kubernetes notation (``spec.ports[0].name``) and the text
go-openapi writes (``spec.replicas in body must be of type integer: "string"``).
"""

from __future__ import annotations

import base64
import datetime
import functools
import ipaddress
import math
import re
import uuid
from typing import Any

import orjson

from apiserver import validation as v
from apiserver.validation import FieldError

__all__ = ["validate", "type_name", "compile_pattern"]

_TYPE_INVALID = "FieldValueTypeInvalid"
_TOO_MANY = "FieldValueTooMany"


def type_name(value: Any) -> str:
    """The JSON type of ``value``, as go-openapi names it in type errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_type(value: Any, typ: str) -> bool:
    if typ == "object":
        return isinstance(value, dict)
    if typ == "array":
        return isinstance(value, list)
    if typ == "string":
        return isinstance(value, str)
    if typ == "boolean":
        return isinstance(value, bool)
    if typ == "integer":
        # a float is a JSON integer only while it is one exactly (go-openapi's bound)
        return (isinstance(value, int) and not isinstance(value, bool)) or \
            (isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53)
    if typ == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    text = orjson.dumps(value).decode()
    return text if len(text) <= 256 else text[:256] + "..."


def _num(n: Any) -> str:
    return str(int(n)) if isinstance(n, float) and n.is_integer() else str(n)


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A schema ``pattern`` (ECMA/RE2 syntax; the common subset is Python's too)."""
    return re.compile(pattern)


# ---- formats ---------------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOSTNAME = re.compile(r"^(?=.{1,255}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$")
_DURATION = re.compile(r"^[-+]?(\d+(\.\d*)?(ns|us|µs|ms|s|m|h|d|w))+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S*$")


def _format_ok(fmt: str, value: str) -> bool | None:
    """Whether ``value`` has format ``fmt``; None for a format Kubernetes does not check."""
    try:
        if fmt == "email":
            return bool(_EMAIL.match(value))
        if fmt == "hostname":
            return bool(_HOSTNAME.match(value))
        if fmt == "ipv4":
            ipaddress.IPv4Address(value)
            return True
        if fmt == "ipv6":
            ipaddress.IPv6Address(value)
            return True
        if fmt == "cidr":
            ipaddress.ip_network(value, strict=False)
            return "/" in value
        if fmt == "mac":
            return bool(_MAC.match(value))
        if fmt in ("uuid", "uuid3", "uuid4", "uuid5"):
            u = uuid.UUID(value)
            return fmt == "uuid" or u.version == int(fmt[-1])
        if fmt == "byte":
            base64.b64decode(value, validate=True)
            return True
        if fmt == "date":
            if not _DATE.match(value):
                return False
            datetime.date.fromisoformat(value)
            return True
        if fmt in ("date-time", "datetime"):
            datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            return "T" in value.upper()
        if fmt == "duration":
            return bool(_DURATION.match(value))
        if fmt == "uri":
            return bool(_URI.match(value))
    except ValueError:
        return False
    return None


# ---- the walk ----------------------------------------------------------------------------------


def validate(value: Any, schema: dict[str, Any], path: str = "") -> list[FieldError]:
    """Every error of ``value`` against ``schema``; ``path`` is the value's field path ("" at
    the root of an object)."""
    errs: list[FieldError] = []
    _validate(value, schema, path, errs)
    return errs


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _validate(value: Any, s: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    shown_path = path or "."
    if value is None:
        if s.get("nullable") or (not s.get("type") and s.get("x-kubernetes-preserve-unknown-fields")):
            return
        if s.get("type") or s.get("x-kubernetes-int-or-string"):
            typ = s.get("type") or "integer,string"
            errs.append(FieldError(path, _TYPE_INVALID, f'Invalid value: "null": {shown_path} in body must be of '
                                                        f'type {typ}: "null"'))
            return
    typ = s.get("type")
    if s.get("x-kubernetes-int-or-string"):
        if not (isinstance(value, str) or _is_type(value, "integer")):
            tn = type_name(value)
            errs.append(FieldError(path, _TYPE_INVALID, f'Invalid value: "{tn}": {shown_path} in body must be of '
                                                        f'type integer,string: "{tn}"'))
            return
    elif typ and not _is_type(value, typ):
        tn = type_name(value)
        errs.append(FieldError(path, _TYPE_INVALID,
                               f'Invalid value: "{tn}": {shown_path} in body must be of type {typ}: "{tn}"'))
        return
    enum = s.get("enum")
    if enum is not None and value not in enum:
        allowed = [e if isinstance(e, str) else orjson.dumps(e).decode() for e in enum]
        errs.append(v.not_supported(path, value if isinstance(value, (str, int, float, bool)) else _shown(value),
                                    allowed))
    if isinstance(value, str):
        _string(value, s, path, shown_path, errs)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _number(value, s, path, shown_path, errs)
    elif isinstance(value, list):
        _array(value, s, path, shown_path, errs)
    elif isinstance(value, dict):
        _object(value, s, path, shown_path, errs)
    for _i, sub in enumerate(s.get("allOf") or ()):
        _validate(value, sub, path, errs)
    any_of = s.get("anyOf")
    if any_of and not any(not validate(value, sub, path) for sub in any_of):
        errs.append(v.invalid(path, _plain(value), f"{shown_path} in body must be of type "
                                                   f"{_branch_types(any_of)}" if _typed(any_of)
                              else f'"{shown_path}" must validate at least one schema (anyOf)'))
    one_of = s.get("oneOf")
    if one_of:
        passing = sum(1 for sub in one_of if not validate(value, sub, path))
        if passing != 1:
            errs.append(v.invalid(path, _plain(value), f'"{shown_path}" must validate one and only one schema '
                                                       f"(oneOf)" + ("" if passing else
                                                                     ". Found none valid")))
    if "not" in s and not validate(value, s["not"], path):
        errs.append(v.invalid(path, _plain(value), f'"{shown_path}" must not validate the schema (not)'))


def _typed(branches: list[dict[str, Any]]) -> bool:
    return all(set(b) == {"type"} for b in branches)


def _branch_types(branches: list[dict[str, Any]]) -> str:
    return ",".join(b["type"] for b in branches)


def _plain(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else _shown(value)


def _string(value: str, s: dict[str, Any], path: str, shown: str, errs: list[FieldError]) -> None:
    n = len(value)
    if "maxLength" in s and n > s["maxLength"]:
        errs.append(FieldError(path, v.TOO_LONG, f"Too long: may not be more than {s['maxLength']} bytes"))
    if "minLength" in s and n < s["minLength"]:
        errs.append(v.invalid(path, value, f"{shown} in body should be at least {s['minLength']} chars long"))
    pattern = s.get("pattern")
    if pattern is not None:
        try:
            ok = compile_pattern(pattern).search(value) is not None
        except re.error:
            ok = True  # refused when the CRD was written; nothing to check against
        if not ok:
            errs.append(v.invalid(path, value, f"{shown} in body should match '{pattern}'"))
    fmt = s.get("format")
    if fmt and _format_ok(fmt, value) is False:
        errs.append(FieldError(path, _TYPE_INVALID, f'Invalid value: "{value}": {shown} in body must be of type '
                                                    f'{fmt}: "{value}"'))


def _number(value: float, s: dict[str, Any], path: str, shown: str, errs: list[FieldError]) -> None:
    if "maximum" in s:
        mx = s["maximum"]
        if s.get("exclusiveMaximum") and value >= mx:
            errs.append(v.invalid(path, _plain(value), f"{shown} in body should be less than {_num(mx)}"))
        elif value > mx:
            errs.append(v.invalid(path, _plain(value), f"{shown} in body should be less than or equal to {_num(mx)}"))
    if "minimum" in s:
        mn = s["minimum"]
        if s.get("exclusiveMinimum") and value <= mn:
            errs.append(v.invalid(path, _plain(value), f"{shown} in body should be greater than {_num(mn)}"))
        elif value < mn:
            errs.append(v.invalid(path, _plain(value),
                                  f"{shown} in body should be greater than or equal to {_num(mn)}"))
    mult = s.get("multipleOf")
    if mult:
        q = value / mult
        if not math.isclose(q, round(q), rel_tol=0, abs_tol=1e-9):
            errs.append(v.invalid(path, _plain(value), f"{shown} in body should be a multiple of {_num(mult)}"))


def _array(value: list[Any], s: dict[str, Any], path: str, shown: str, errs: list[FieldError]) -> None:
    if "maxItems" in s and len(value) > s["maxItems"]:
        errs.append(FieldError(path, _TOO_MANY, f"Too many: {len(value)}: must have at most {s['maxItems']} items"))
    if "minItems" in s and len(value) < s["minItems"]:
        errs.append(v.invalid(path, len(value), f"{shown} in body should have at least {s['minItems']} items"))
    items = s.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _validate(item, items, f"{path}[{i}]", errs)
    list_type = s.get("x-kubernetes-list-type")
    if list_type == "set":
        seen: list[Any] = []
        for i, item in enumerate(value):
            if item in seen:
                errs.append(FieldError(f"{path}[{i}]", v.DUPLICATE, f"Duplicate value: {_shown(item)}"))
            else:
                seen.append(item)
    elif list_type == "map":
        keys = s.get("x-kubernetes-list-map-keys") or []
        seen_keys: list[tuple[Any, ...]] = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                continue
            k = tuple(item.get(key) for key in keys)
            if k in seen_keys:
                shown_key = ", ".join(f"{key}={_shown(item.get(key))}" for key in keys)
                errs.append(FieldError(f"{path}[{i}]", v.DUPLICATE, f"Duplicate value: {{{shown_key}}}"))
            else:
                seen_keys.append(k)


def _object(value: dict[str, Any], s: dict[str, Any], path: str, shown: str, errs: list[FieldError]) -> None:
    for r in s.get("required") or ():
        if r not in value or (value[r] is None and not (s.get("properties") or {}).get(r, {}).get("nullable")):
            errs.append(v.required(_child(path, r)))
    if "maxProperties" in s and len(value) > s["maxProperties"]:
        errs.append(FieldError(path, _TOO_MANY, f"Too many: {len(value)}: must have at most "
                                                f"{s['maxProperties']} items"))
    if "minProperties" in s and len(value) < s["minProperties"]:
        errs.append(v.invalid(path, len(value), f"{shown} in body should have at least {s['minProperties']} "
                                                f"properties"))
    props = s.get("properties") or {}
    addl = s.get("additionalProperties")
    embedded = s.get("x-kubernetes-embedded-resource")
    for k, item in value.items():
        if path == "" and k == "metadata" and isinstance(item, dict):
            # metadata is every object's; a schema may only restrict the name (and generateName)
            md_props = (props.get("metadata") or {}).get("properties") or {}
            for f in ("name", "generateName"):
                if f in md_props and f in item:
                    _validate(item[f], md_props[f], f"metadata.{f}", errs)
            continue
        if path == "" and k in ("apiVersion", "kind"):
            continue  # the object's own type is checked as every object's is
        if embedded and k == "metadata":
            continue
        sub = props.get(k)
        if sub is not None:
            _validate(item, sub, _child(path, k), errs)
        elif isinstance(addl, dict):
            _validate(item, addl, _child(path, k), errs)
    if embedded:
        _embedded(value, path, errs)


def _embedded(value: dict[str, Any], path: str, errs: list[FieldError]) -> None:
    """An ``x-kubernetes-embedded-resource`` object: a whole object with its own type and metadata."""
    for k in ("apiVersion", "kind"):
        if not value.get(k):
            errs.append(FieldError(_child(path, k), v.REQUIRED, "Required value: must not be empty"))
    md = value.get("metadata")
    if md is None:
        return
    if not isinstance(md, dict):
        errs.append(FieldError(_child(path, "metadata"), _TYPE_INVALID,
                               f'Invalid value: "{type_name(md)}": {_child(path, "metadata")} in body must be of '
                               f'type object: "{type_name(md)}"'))
        return
    mp = _child(path, "metadata")
    name = md.get("name")
    if name:
        for m in v.dns1123_subdomain(name):
            errs.append(v.invalid(f"{mp}.name", name, m))
    errs.extend(FieldError(e.field.replace("metadata.", mp + ".", 1), e.reason, e.message)
                for e in v.validate_labels(md.get("labels"), "metadata.labels")
                + v.validate_annotations(md.get("annotations"), "metadata.annotations"))
