"""The OpenAPI v2 document as protobuf: gnostic's ``openapi.v2.Document``, which kubectl asks
for (``Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf``) when it validates
a kind the OpenAPI v3 documents do not list. Kubernetes serves it (kube-openapi); without it,
``kubectl apply`` of a file holding a kind the server lacks failed whole ("failed to download
openapi") instead of naming the kind.

:func:`encode` converts the JSON document (``apiserver/openapi.py``) field by field with the
field numbers of gnostic's ``openapiv2/OpenAPIv2.proto``: vendor extensions (``x-...``),
defaults, enums and examples become ``NamedAny``/``Any`` whose ``yaml`` holds the value as
JSON (valid YAML), as gnostic and kube-openapi write them. Keys the proto has no field for are
left out, as gnostic leaves them.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Mapping
from typing import Any

import orjson

from apiserver import openapi_served

MEDIA_TYPES = ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
               "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
# What kube-openapi answers either with: the '@' form is no valid media type for Go's mime
# parser, and kubectl refuses a Content-Type it cannot parse.
CONTENT_TYPE = MEDIA_TYPES[1]

# --- wire format ------------------------------------------------------------------------------

def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _len(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _str(field: int, value: Any) -> bytes:
    return _len(field, str(value).encode()) if value not in (None, "") else b""


def _bool(field: int, value: Any) -> bytes:
    return _varint(field << 3) + b"\x01" if value else b""


def _int(field: int, value: Any) -> bytes:
    return _varint(field << 3) + _varint(int(value)) if value else b""


def _double(field: int, value: Any) -> bytes:
    return _varint(field << 3 | 1) + struct.pack("<d", float(value)) if value else b""


def _msg(field: int, payload: bytes, *, keep_empty: bool = False) -> bytes:
    return _len(field, payload) if payload or keep_empty else b""


def _strs(field: int, values: Any) -> bytes:
    return b"".join(_len(field, str(v).encode()) for v in values or ())


# --- messages ---------------------------------------------------------------------------------

def _any(value: Any) -> bytes:
    """openapi.v2.Any: the value as YAML text (field 2)."""
    return _len(2, orjson.dumps(value))


def _extensions(field: int, node: Mapping[str, Any]) -> bytes:
    """repeated NamedAny: every ``x-`` key of ``node``."""
    return b"".join(_len(field, _str(1, k) + _msg(2, _any(v), keep_empty=True))
                    for k, v in node.items() if k.startswith("x-"))


def _schema(s: Mapping[str, Any]) -> bytes:
    if not isinstance(s, Mapping):
        return b""
    out = [_str(1, s.get("$ref")), _str(2, s.get("format")), _str(3, s.get("title")),
           _str(4, s.get("description"))]
    if "default" in s:
        out.append(_msg(5, _any(s["default"]), keep_empty=True))
    out += [_double(6, s.get("multipleOf")), _double(7, s.get("maximum")), _bool(8, s.get("exclusiveMaximum")),
            _double(9, s.get("minimum")), _bool(10, s.get("exclusiveMinimum")), _int(11, s.get("maxLength")),
            _int(12, s.get("minLength")), _str(13, s.get("pattern")), _int(14, s.get("maxItems")),
            _int(15, s.get("minItems")), _bool(16, s.get("uniqueItems")), _int(17, s.get("maxProperties")),
            _int(18, s.get("minProperties")), _strs(19, s.get("required"))]
    out += [_msg(20, _any(v), keep_empty=True) for v in s.get("enum") or ()]
    extra = s.get("additionalProperties")
    if isinstance(extra, Mapping):
        out.append(_msg(21, _msg(1, _schema(extra), keep_empty=True), keep_empty=True))
    elif isinstance(extra, bool):
        out.append(_msg(21, _varint(2 << 3) + (b"\x01" if extra else b"\x00"), keep_empty=True))
    typ = s.get("type")
    if typ:
        out.append(_msg(22, _strs(1, typ if isinstance(typ, list) else [typ]), keep_empty=True))
    items = s.get("items")
    if isinstance(items, Mapping):
        out.append(_msg(23, _msg(1, _schema(items), keep_empty=True), keep_empty=True))
    elif isinstance(items, list):
        out.append(_msg(23, b"".join(_msg(1, _schema(i), keep_empty=True) for i in items), keep_empty=True))
    out += [_msg(24, _schema(a), keep_empty=True) for a in s.get("allOf") or ()]
    props = s.get("properties")
    if isinstance(props, Mapping):
        out.append(_msg(25, b"".join(_len(1, _str(1, k) + _msg(2, _schema(v), keep_empty=True))
                                     for k, v in props.items()), keep_empty=True))
    out += [_str(26, s.get("discriminator")), _bool(27, s.get("readOnly"))]
    if "example" in s:
        out.append(_msg(30, _any(s["example"]), keep_empty=True))
    out.append(_extensions(31, s))
    return b"".join(out)


def _primitives(p: Mapping[str, Any]) -> bytes:
    """PrimitivesItems (the ``items`` of a non-body parameter)."""
    out = [_str(1, p.get("type")), _str(2, p.get("format"))]
    if isinstance(p.get("items"), Mapping):
        out.append(_msg(3, _primitives(p["items"]), keep_empty=True))
    out += [_str(4, p.get("collectionFormat"))]
    if "default" in p:
        out.append(_msg(5, _any(p["default"]), keep_empty=True))
    out += [_msg(16, _any(v), keep_empty=True) for v in p.get("enum") or ()]
    out.append(_extensions(18, p))
    return b"".join(out)


# Non-body parameter sub-schemas: query and formData number their fields one way, path and
# header (which have no allowEmptyValue) one lower from ``type`` on.
def _sub_schema(p: Mapping[str, Any], *, with_allow_empty: bool) -> bytes:
    shift = 0 if with_allow_empty else -1
    out = [_bool(1, p.get("required")), _str(2, p.get("in")), _str(3, p.get("description")), _str(4, p.get("name"))]
    if with_allow_empty:
        out.append(_bool(5, p.get("allowEmptyValue")))
    out += [_str(6 + shift, p.get("type")), _str(7 + shift, p.get("format"))]
    if isinstance(p.get("items"), Mapping):
        out.append(_msg(8 + shift, _primitives(p["items"]), keep_empty=True))
    out.append(_str(9 + shift, p.get("collectionFormat")))
    if "default" in p:
        out.append(_msg(10 + shift, _any(p["default"]), keep_empty=True))
    out += [_double(11 + shift, p.get("maximum")), _bool(12 + shift, p.get("exclusiveMaximum")),
            _double(13 + shift, p.get("minimum")), _bool(14 + shift, p.get("exclusiveMinimum")),
            _int(15 + shift, p.get("maxLength")), _int(16 + shift, p.get("minLength")),
            _str(17 + shift, p.get("pattern")), _int(18 + shift, p.get("maxItems")),
            _int(19 + shift, p.get("minItems")), _bool(20 + shift, p.get("uniqueItems"))]
    out += [_msg(21 + shift, _any(v), keep_empty=True) for v in p.get("enum") or ()]
    out += [_double(22 + shift, p.get("multipleOf")), _extensions(23 + shift, p)]
    return b"".join(out)


_NON_BODY = {"header": (1, False), "formData": (2, True), "query": (3, True), "path": (4, False)}


def _parameter(p: Mapping[str, Any]) -> bytes:
    """Parameter: a body parameter, or one of the four non-body kinds."""
    where = p.get("in")
    if where == "body":
        return _msg(1, _str(1, p.get("description")) + _str(2, p.get("name")) + _str(3, where)
                    + _bool(4, p.get("required")) + _msg(5, _schema(p.get("schema") or {}), keep_empty=True)
                    + _extensions(6, p), keep_empty=True)
    field, allow_empty = _NON_BODY.get(where or "", (3, True))
    return _msg(2, _msg(field, _sub_schema(p, with_allow_empty=allow_empty), keep_empty=True), keep_empty=True)


def _parameters_item(p: Mapping[str, Any]) -> bytes:
    if "$ref" in p:  # JsonReference
        return _msg(2, _str(1, p["$ref"]) + _str(2, p.get("description")), keep_empty=True)
    return _msg(1, _parameter(p), keep_empty=True)


def _responses(rs: Mapping[str, Any]) -> bytes:
    out = []
    for code, r in rs.items():
        if code.startswith("x-"):
            continue
        if "$ref" in r:
            value = _msg(2, _str(1, r["$ref"]), keep_empty=True)
        else:
            body = _str(1, r.get("description"))
            if isinstance(r.get("schema"), Mapping):
                body += _msg(2, _msg(1, _schema(r["schema"]), keep_empty=True), keep_empty=True)
            value = _msg(1, body + _extensions(5, r), keep_empty=True)
        out.append(_len(1, _str(1, code) + _msg(2, value, keep_empty=True)))
    return b"".join(out) + _extensions(2, rs)


def _operation(op: Mapping[str, Any]) -> bytes:
    out = [_strs(1, op.get("tags")), _str(2, op.get("summary")), _str(3, op.get("description")),
           _str(5, op.get("operationId")), _strs(6, op.get("produces")), _strs(7, op.get("consumes"))]
    out += [_len(8, _parameters_item(p)) for p in op.get("parameters") or ()]
    out += [_msg(9, _responses(op.get("responses") or {}), keep_empty=True), _strs(10, op.get("schemes")),
            _bool(11, op.get("deprecated"))]
    out += [_len(12, _security_requirement(s)) for s in op.get("security") or ()]
    out.append(_extensions(13, op))
    return b"".join(out)


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def _path_item(item: Mapping[str, Any]) -> bytes:
    out = [_str(1, item.get("$ref"))]
    out += [_msg(n, _operation(item[m]), keep_empty=True) for m, n in _METHODS.items() if m in item]
    out += [_len(9, _parameters_item(p)) for p in item.get("parameters") or ()]
    out.append(_extensions(10, item))
    return b"".join(out)


def _security_requirement(req: Mapping[str, Any]) -> bytes:
    return b"".join(_len(1, _str(1, k) + _msg(2, _strs(1, v), keep_empty=True)) for k, v in req.items())


def _security_definition(d: Mapping[str, Any]) -> bytes:
    if d.get("type") == "apiKey":
        return _msg(2, _str(1, d.get("type")) + _str(2, d.get("name")) + _str(3, d.get("in"))
                    + _str(4, d.get("description")) + _extensions(5, d), keep_empty=True)
    if d.get("type") == "basic":
        return _msg(1, _str(1, d.get("type")) + _str(2, d.get("description")) + _extensions(3, d), keep_empty=True)
    return b""  # oauth2 flows: not used by this server


def encode(doc: Mapping[str, Any]) -> bytes:
    """The ``openapi.v2.Document`` of the JSON document ``doc``."""
    info = doc.get("info") or {}
    out = [_str(1, doc.get("swagger")),
           _msg(2, _str(1, info.get("title")) + _str(2, info.get("version")) + _str(3, info.get("description"))
                + _extensions(7, info)),
           _str(3, doc.get("host")), _str(4, doc.get("basePath")), _strs(5, doc.get("schemes")),
           _strs(6, doc.get("consumes")), _strs(7, doc.get("produces"))]
    paths = doc.get("paths") or {}
    out.append(_msg(8, _extensions(1, paths) + b"".join(
        _len(2, _str(1, p) + _msg(2, _path_item(item), keep_empty=True))
        for p, item in paths.items() if not p.startswith("x-")), keep_empty=True))
    defs = doc.get("definitions") or {}
    out.append(_msg(9, b"".join(_len(1, _str(1, name) + _msg(2, _schema(s), keep_empty=True))
                                for name, s in defs.items()), keep_empty=True))
    params = doc.get("parameters") or {}
    if params:
        out.append(_msg(10, b"".join(_len(1, _str(1, n) + _msg(2, _parameter(p), keep_empty=True))
                                     for n, p in params.items())))
    out += [_len(12, _security_requirement(s)) for s in doc.get("security") or ()]
    sec = doc.get("securityDefinitions") or {}
    if sec:
        out.append(_msg(13, b"".join(_len(1, _str(1, n) + _msg(2, _security_definition(d), keep_empty=True))
                                     for n, d in sec.items())))
    out.append(_extensions(16, doc))
    return b"".join(out)


def wanted(accept: str | None) -> str | None:
    """The media type to answer ``/openapi/v2`` with, as kube-openapi negotiates: the first
    Accept clause naming JSON or one of the protobuf types (no header: JSON); None: 406."""
    for clause in (accept or "*/*").split(","):
        mtype = clause.split(";")[0].strip().lower()
        if mtype in ("application/json", "application/*", "*/*", "*"):
            return "application/json"
        if mtype in MEDIA_TYPES:
            return CONTENT_TYPE
    return None


@functools.cache
def document() -> bytes:
    """The served v2 document, encoded once."""
    return encode(orjson.loads(openapi_served.v2_body()))
