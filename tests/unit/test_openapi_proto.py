"""The protobuf OpenAPI v2 document (gnostic's openapi.v2.Document) read back with a plain
wire-format reader: every definition, path and vendor extension of the JSON document is there."""

from __future__ import annotations

import orjson

from apiserver import openapi_proto, openapi_served


def fields(buf: bytes) -> list[tuple[int, object]]:
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        else:
            raise AssertionError(f"wire type {wire}")
        out.append((num, value))
    return out


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def one(msg: bytes, num: int) -> bytes:
    found = [v for n, v in fields(msg) if n == num]
    assert len(found) == 1, (num, len(found))
    return found[0]  # type: ignore[return-value]


def named(msg: bytes, num: int) -> dict[str, bytes]:
    """repeated Named* (name = 1, value = 2) as a dict."""
    return {one(v, 1).decode(): one(v, 2) for n, v in fields(msg) if n == num}  # type: ignore[arg-type]


def test_document_holds_the_json_document():
    doc = orjson.loads(openapi_served.v2_body())
    pb = openapi_proto.document()
    assert one(pb, 1) == b"2.0"
    defs = named(one(pb, 9), 1)
    assert set(defs) == set(doc["definitions"])
    paths = named(one(pb, 8), 2)
    assert set(paths) == set(doc["paths"])
    # a definition's vendor extension (Schema field 31) carries its GVK as YAML (JSON)
    deployment = defs["io.k8s.api.apps.v1.Deployment"]
    ext = named(deployment, 31)
    gvk = orjson.loads(one(ext["x-kubernetes-group-version-kind"], 2))
    assert gvk == doc["definitions"]["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"]
    # its properties (Schema 25 -> Properties 1 -> NamedSchema) and their types (Schema 22)
    props = named(one(deployment, 25), 1)
    assert set(props) == set(doc["definitions"]["io.k8s.api.apps.v1.Deployment"]["properties"])
    assert one(one(props["kind"], 22), 1) == b"string"
    # an operation: GET of a pod (PathItem field 2) with its operationId (Operation field 5)
    path = next(p for p in doc["paths"] if p.endswith("/pods/{name}") and "namespaces" in p)
    get = one(paths[path], 2)
    assert one(get, 5).decode() == doc["paths"][path]["get"]["operationId"]


def test_negotiation():
    assert openapi_proto.wanted(None) == "application/json"
    assert openapi_proto.wanted("application/json, */*") == "application/json"
    assert openapi_proto.wanted("application/com.github.proto-openapi.spec.v2@v1.0+protobuf") == \
        "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
    assert openapi_proto.wanted("application/xml") is None
