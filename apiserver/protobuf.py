"""Decoding of ``application/vnd.kubernetes.protobuf`` request bodies into Kubernetes JSON.

The real kubectl sends its ``create`` generators (deployment, namespace, configmap, secret,
service), ``create token`` and drain's evictions as protobuf, and does not fall back to JSON on
a 415. ``apiserver.app`` hands such a body to :func:`decode` and goes on exactly as if the
client had sent the JSON this returns.

The body is Kubernetes' envelope: the four bytes ``k8s\\x00``, then a ``runtime.Unknown``
message (1 typeMeta {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType) whose
``raw`` is the object's own protobuf message. What each field number of that message means
is in ``apiserver.protobuf_types``; this module reads the wire format (varint, 64-bit,
length-delimited, 32-bit) and builds the JSON Go's encoding would give for the same object:

* proto2: a field is considered only when it is on the wire; numbers the tables do not know
  are skipped, as Kubernetes does for fields newer than itself;
* Go writes every non-pointer scalar, zero or not, and its JSON drops the ``omitempty`` zeros:
  zero scalars are dropped unless the table marks the field as keeping them (a Go pointer such
  as ``replicas``); entries of lists and maps are always kept;
* a nested message on the wire is an object, even an empty one (Go prints ``"status": {}``),
  except a zero ``Time``, which Go prints as ``null`` and so is left out here;
* ``Time`` and ``MicroTime`` become RFC 3339 strings, ``Quantity`` its string,
  ``IntOrString`` an int or a string, ``bytes`` base64 (Secret ``data``), ``FieldsV1`` and
  ``RawExtension`` the JSON they carry.

Anything malformed raises ``ValueError`` naming the field path; an unknown kind raises
``ValueError`` naming the kind.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Iterator
from typing import Any

import orjson

from apiserver import protobuf_types
from minik8s import timestamps

__all__ = ["MAGIC", "CONTENT_TYPE", "decode"]

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# Wire types.
_VARINT, _FIXED64, _LEN, _FIXED32 = 0, 1, 2, 5

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_ZERO = ("", 0, False)


def decode(raw: bytes) -> dict[str, Any]:
    """The Kubernetes JSON object of a protobuf request body (``k8s\\x00`` + runtime.Unknown)."""
    if not raw.startswith(MAGIC):
        raise ValueError("body does not start with the Kubernetes protobuf prefix 'k8s\\x00'")
    buf = bytes(raw)
    api_version = kind = content_encoding = content_type = ""
    inner: tuple[int, int] | None = None
    for number, wire, value in _fields(buf, len(MAGIC), len(buf), "Unknown"):
        if number == 1:
            start, end = _expect_len(wire, value, "typeMeta")
            for n, w, v in _fields(buf, start, end, "typeMeta"):
                if n == 1:
                    api_version = _string(buf, w, v, "typeMeta.apiVersion")
                elif n == 2:
                    kind = _string(buf, w, v, "typeMeta.kind")
        elif number == 2:
            inner = _expect_len(wire, value, "raw")
        elif number == 3:
            content_encoding = _string(buf, wire, value, "contentEncoding")
        elif number == 4:
            content_type = _string(buf, wire, value, "contentType")
    if content_encoding:
        raise ValueError(f"unsupported contentEncoding {content_encoding!r}")
    if not kind:
        raise ValueError("the protobuf envelope names no kind")
    start, end = inner if inner is not None else (0, 0)
    if content_type.split(";")[0].strip() == "application/json":
        # runtime.Unknown may carry JSON; Kubernetes accepts that too.
        try:
            obj = orjson.loads(buf[start:end]) if end > start else {}
        except orjson.JSONDecodeError as e:
            raise ValueError(f"raw JSON of {kind}: {e}") from None
        if not isinstance(obj, dict):
            raise ValueError(f"raw JSON of {kind} is not an object")
        return {"apiVersion": api_version, "kind": kind, **obj}
    if content_type and content_type.split(";")[0].strip() != CONTENT_TYPE:
        raise ValueError(f"unsupported contentType {content_type!r}")
    message = protobuf_types.message_for(api_version, kind)
    if message is None:
        raise ValueError(f"no protobuf decoding for kind {kind!r} in {api_version or 'no apiVersion'}")
    return {"apiVersion": api_version, "kind": kind, **_message(buf, start, end, message, "")}


# --- messages --------------------------------------------------------------------------------


def _message(buf: bytes, start: int, end: int, name: str, path: str) -> dict[str, Any]:
    table = protobuf_types.MESSAGES[name]
    out: dict[str, Any] = {}
    for number, wire, value in _fields(buf, start, end, path or name):
        field = table.get(number)
        if field is None:
            continue  # a field newer than these tables: skipped, as Kubernetes does
        where = _join(path, field.name)
        if field.inline:
            s, e = _expect_len(wire, value, where or field.type)
            _merge(out, _message(buf, s, e, field.type, path))
        elif field.map:
            key, item = _map_entry(buf, wire, value, field, where)
            out.setdefault(field.name, {})[key] = item
        elif field.repeated:
            items = out.setdefault(field.name, [])
            if wire == _LEN and field.type in ("int", "bool"):
                # A packed list: proto2 does not pack by default, but a reader must accept it.
                s, e = value
                pos = s
                while pos < e:
                    n, pos = _varint(buf, pos, e, where)
                    items.append(_signed(n) if field.type == "int" else n != 0)
            else:
                item = _value(buf, wire, value, field.type, f"{where}[{len(items)}]")
                items.append(None if item is _ABSENT else item)
        else:
            item = _value(buf, wire, value, field.type, where)
            if item is _ABSENT or (not field.keep_zero and _is_zero(item)):
                out.pop(field.name, None)
            elif isinstance(item, dict) and isinstance(out.get(field.name), dict):
                _merge(out[field.name], item)  # a message field seen twice is merged (proto)
            else:
                out[field.name] = item
    return out


def _map_entry(buf: bytes, wire: int, value: Any, field: protobuf_types.Field, where: str) -> tuple[str, Any]:
    s, e = _expect_len(wire, value, where)
    key = ""
    item: Any = _MISSING
    for n, w, v in _fields(buf, s, e, where):
        if n == 1:
            key = _string(buf, w, v, f"{where} key")
        elif n == 2:
            item = _value(buf, w, v, field.type, f"{where}[{key}]")
    if item is _MISSING:
        return key, _zero_of(field.type)  # an entry without a value holds the zero value
    return key, None if item is _ABSENT else item


class _Absent:
    """A value Go's JSON leaves out entirely (a zero Time: ``null``)."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()
_MISSING: Any = object()


def _value(buf: bytes, wire: int, value: Any, type_: str, where: str) -> Any:
    if type_ == "string":
        return _string(buf, wire, value, where)
    if type_ == "int":
        return _signed(_expect_varint(wire, value, where))
    if type_ == "bool":
        return _expect_varint(wire, value, where) != 0
    s, e = _expect_len(wire, value, where)
    if type_ == "bytes":
        return base64.b64encode(buf[s:e]).decode("ascii")
    if type_ in ("Time", "MicroTime"):
        return _time(buf, s, e, where, micro=type_ == "MicroTime")
    if type_ == "Quantity":
        text = "0"
        for n, w, v in _fields(buf, s, e, where):
            if n == 1:
                text = _string(buf, w, v, where) or "0"
        return text
    if type_ == "IntOrString":
        return _int_or_string(buf, s, e, where)
    if type_ in ("RawExtension", "FieldsV1"):
        return _embedded(buf, s, e, where)
    return _message(buf, s, e, type_, where)


def _time(buf: bytes, start: int, end: int, where: str, *, micro: bool) -> Any:
    seconds: int | None = None
    nanos = 0
    for n, w, v in _fields(buf, start, end, where):
        if n == 1:
            seconds = _signed(_expect_varint(w, v, where))
        elif n == 2:
            nanos = _signed(_expect_varint(w, v, where))
    if seconds is None and not nanos:
        return _ABSENT  # Go marshals the zero time as no bytes; its JSON is null
    if not 0 <= nanos < 1_000_000_000:
        raise ValueError(f"{where}: nanos {nanos} out of range")
    try:
        moment = _EPOCH + datetime.timedelta(seconds=seconds or 0, microseconds=nanos // 1000)
    except OverflowError:
        raise ValueError(f"{where}: time out of range ({seconds} seconds)") from None
    return timestamps.format_micro_time(moment) if micro else timestamps.format_time(moment)


def _int_or_string(buf: bytes, start: int, end: int, where: str) -> int | str:
    kind, int_val, str_val = 0, 0, ""
    for n, w, v in _fields(buf, start, end, where):
        if n == 1:
            kind = _signed(_expect_varint(w, v, where))
        elif n == 2:
            int_val = _signed(_expect_varint(w, v, where))
        elif n == 3:
            str_val = _string(buf, w, v, where)
    if kind == 0:
        return int_val
    if kind == 1:
        return str_val
    raise ValueError(f"{where}: IntOrString type {kind} is neither 0 (int) nor 1 (string)")


def _embedded(buf: bytes, start: int, end: int, where: str) -> Any:
    """RawExtension / FieldsV1: field 1 holds JSON (or, for RawExtension, a protobuf object)."""
    raw = b""
    for n, w, v in _fields(buf, start, end, where):
        if n == 1:
            s, e = _expect_len(w, v, where)
            raw = buf[s:e]
    if not raw:
        return _ABSENT
    if raw.startswith(MAGIC):
        return decode(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"{where}: embedded object is not JSON ({e})") from None


# --- the wire format -------------------------------------------------------------------------


def _fields(buf: bytes, start: int, end: int, where: str) -> Iterator[tuple[int, int, Any]]:
    """``(field number, wire type, value)``: an int, or ``(start, end)`` for length-delimited."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end, where)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError(f"{where}: field number 0")
        if wire == _VARINT:
            value, pos = _varint(buf, pos, end, where)
        elif wire == _LEN:
            length, pos = _varint(buf, pos, end, where)
            if length > end - pos:
                raise ValueError(f"{where}: field {number} runs past the end of its message")
            span = (pos, pos + length)
            value = span  # type: ignore[assignment]  # a field's value is an int or a (start, end) span
            pos += length
        elif wire == _FIXED64:
            if pos + 8 > end:
                raise ValueError(f"{where}: truncated 64-bit field {number}")
            value = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wire == _FIXED32:
            if pos + 4 > end:
                raise ValueError(f"{where}: truncated 32-bit field {number}")
            value = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise ValueError(f"{where}: unsupported wire type {wire} for field {number}")
        yield number, wire, value


def _varint(buf: bytes, pos: int, end: int, where: str) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise ValueError(f"{where}: truncated varint")
        if shift >= 64:
            raise ValueError(f"{where}: varint longer than 10 bytes")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & 0xFFFF_FFFF_FFFF_FFFF, pos
        shift += 7


def _signed(n: int) -> int:
    # int32 and int64 are two's complement on the wire (negative int32s sign-extended to 64 bits).
    return n - (1 << 64) if n >= 1 << 63 else n


def _string(buf: bytes, wire: int, value: Any, where: str) -> str:
    s, e = _expect_len(wire, value, where)
    # Go does not check UTF-8 when unmarshalling and replaces bad bytes when writing JSON.
    return buf[s:e].decode("utf-8", errors="replace")


def _expect_len(wire: int, value: Any, where: str) -> tuple[int, int]:
    if wire != _LEN:
        raise ValueError(f"{where}: wire type {wire} where a length-delimited field was expected")
    span: tuple[int, int] = value
    return span


def _expect_varint(wire: int, value: Any, where: str) -> int:
    if wire != _VARINT:
        raise ValueError(f"{where}: wire type {wire} where a varint was expected")
    number: int = value
    return number


# --- helpers ---------------------------------------------------------------------------------


def _join(path: str, name: str) -> str:
    if not name:
        return path
    return f"{path}.{name}" if path else name


def _is_zero(value: Any) -> bool:
    return type(value) in (str, int, bool) and value in _ZERO


def _zero_of(type_: str) -> Any:
    return {"string": "", "int": 0, "bool": False, "bytes": "", "Quantity": "0", "IntOrString": 0}.get(type_, {})


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        elif isinstance(value, list) and isinstance(into.get(key), list):
            into[key].extend(value)
        else:
            into[key] = value
