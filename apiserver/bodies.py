"""Request bodies: read within a cap, decoded by their media type, and refused before anything
recursive touches them when they are too big, too deep or an alias bomb.

* :func:`read` streams the body and stops at ``MAX_BODY`` (3 MiB, Kubernetes' request limit):
  a chunked upload without Content-Length is never held whole (413 RequestEntityTooLarge).
* :func:`decode` accepts what Kubernetes accepts (JSON, YAML, protobuf; the three patch types
  for PATCH; ``apply-patch+yaml``) and answers 415 to anything else (``text/plain`` is not
  JSON). YAML is walked as a stream of parser events first, which needs no recursion: more than
  ``MAX_DEPTH`` levels or aliases expanding to many more nodes than the document has (a
  "billion laughs") are refused before the recursive composer runs.
* :func:`check_depth` measures a decoded body iteratively: a body nesting deeper than
  ``MAX_DEPTH`` is refused (400) before validation, merging or managed-fields tracking, all of
  which recurse, and before ``orjson.dumps`` (which stops at 255 levels).
* :func:`check_stored_size` caps the object as it will be stored (1.5 MiB, the limit of
  Kubernetes' etcd requests): a body under 3 MiB may still grow (defaults, managedFields).
* :func:`require_meta` and :func:`delete_options` give the body shapes the REST code reads
  before validation (``metadata`` an object, DeleteOptions an object with typed fields) a 400
  naming the field instead of a crash.
"""

from __future__ import annotations

from typing import Any

import orjson
import pydantic
import yaml
from starlette.requests import Request

from apiserver import errors
from minik8s.api.meta import DeleteOptions

MAX_BODY = 3 * 1024 * 1024
MAX_STORED = 1536 * 1024
# Deeper than any Kubernetes object; shallow enough that every recursive step after decoding
# (pydantic, strategic merge, managedFields, orjson's 255-level encoder) stays far from its limit.
MAX_DEPTH = 100
# Aliases may expand a YAML document to at most this many nodes more than it literally has.
MAX_ALIAS_EXPANSION = 10_000

JSON = "application/json"
PROTOBUF = "application/vnd.kubernetes.protobuf"
YAML_TYPES = frozenset(("application/yaml", "application/apply-patch+yaml"))
PATCH_TYPES = frozenset(("application/json-patch+json", "application/merge-patch+json",
                         "application/strategic-merge-patch+json", "application/apply-patch+yaml"))
BODY_TYPES = frozenset((JSON, "application/yaml", PROTOBUF))

_TOO_LARGE = f"Request entity too large: limit is {MAX_BODY}"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def media_type(request: Request) -> str:
    """The request's Content-Type without parameters; JSON when absent, as Kubernetes reads it."""
    ctype = request.headers.get("content-type")
    return ctype.split(";")[0].strip().lower() if ctype else JSON


async def read(request: Request) -> bytes:
    """The body, read while counting: 413 as soon as it passes ``MAX_BODY``."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise errors.TooLarge(_TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise errors.TooLarge(_TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


def decode(raw: bytes, ctype: str, *, patch: bool = False) -> Any:
    """The decoded body (None when empty); ``patch``: a PATCH, whose media types differ."""
    if not raw:
        return None
    if patch:
        if ctype not in PATCH_TYPES:
            raise errors.UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, "
                "application/strategic-merge-patch+json")
    elif ctype not in BODY_TYPES:
        raise errors.UnsupportedMediaType(
            f'the body of the request was in an unknown format - accepted media types include: '
            f'{JSON}, application/yaml, {PROTOBUF}')
    if ctype == PROTOBUF:
        from apiserver import protobuf
        try:
            body = protobuf.decode(raw)
        except (ValueError, IndexError, KeyError, TypeError, UnicodeDecodeError) as e:
            raise errors.BadRequest(f"unable to decode protobuf body: {e}") from None
    elif ctype in YAML_TYPES:
        body = _load_yaml(raw)
    else:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise errors.BadRequest(f"the object provided is unrecognized or malformed JSON: {e}") from None
        # Each level opens a bracket: a JSON body with at most MAX_DEPTH of them (a Pod has
        # about 25) cannot nest too deep, and counting bytes is cheaper than any walk.
        if raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
            return body
    check_depth(body)
    return body


def _load_yaml(raw: bytes) -> Any:
    try:
        _scan_yaml(raw)
        return yaml.load(raw, Loader=_YAML_LOADER)
    except yaml.YAMLError as e:
        raise errors.BadRequest(f"error converting YAML to JSON: {e}") from None


def _scan_yaml(raw: bytes) -> None:
    """Refuse a too deep document or an alias bomb from the parser's events (no recursion)."""
    depth = 0
    nodes = 0  # nodes written in the document
    counts: list[int] = [0]  # expanded nodes of each open collection
    anchors: list[str | None] = [None]
    sizes: dict[str, int] = {}  # anchor -> expanded nodes under it
    expanded = 0
    for ev in yaml.parse(raw, Loader=_YAML_LOADER):
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            nodes += 1
            if depth > MAX_DEPTH:
                raise errors.BadRequest(f"error converting YAML to JSON: yaml: exceeded max depth of {MAX_DEPTH}")
            counts.append(1)
            anchors.append(ev.anchor)
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
            n = counts.pop()
            anchor = anchors.pop()
            if anchor is not None:
                sizes[anchor] = n
            counts[-1] += n
        elif isinstance(ev, yaml.ScalarEvent):
            nodes += 1
            counts[-1] += 1
            if ev.anchor is not None:
                sizes[ev.anchor] = 1
        elif isinstance(ev, yaml.AliasEvent):
            n = sizes.get(ev.anchor, 1) if ev.anchor is not None else 1
            counts[-1] += n
            expanded += n
            if expanded > nodes + MAX_ALIAS_EXPANSION:
                raise errors.BadRequest("error converting YAML to JSON: yaml: document contains excessive aliasing")


def _encoder_depth() -> int:
    """The deepest nesting orjson encodes (255 in orjson 3.x), probed once."""
    low, high = 1, 4096
    while low < high:
        mid = (low + high + 1) // 2
        node: Any = 0
        for _ in range(mid):
            node = [node]
        try:
            orjson.dumps(node)
            low = mid
        except orjson.JSONEncodeError:
            high = mid - 1
    return low


def _padding(levels: int) -> tuple[list[Any], list[Any]]:
    """``levels`` nested one-element lists: the outermost and the innermost."""
    inner: list[Any] = [None]
    outer = inner
    for _ in range(levels - 1):
        outer = [outer]
    return outer, inner


# orjson refuses to encode past a fixed depth, in C: inside (that depth - MAX_DEPTH) nested
# one-element lists, orjson.dumps fails exactly when the body nests deeper than MAX_DEPTH.
# A few microseconds instead of a walk in Python; the lists are made once (the event loop
# runs one check at a time).
_LEVELS = _encoder_depth() - MAX_DEPTH
_PAD_OUTER, _PAD_INNER = _padding(_LEVELS) if _LEVELS > 0 else ([], [None])


def check_depth(body: Any) -> None:
    """400 when ``body`` nests deeper than ``MAX_DEPTH`` (no recursion in Python)."""
    if not isinstance(body, (dict, list)):
        return
    if _LEVELS > 0:
        _PAD_INNER[0] = body
        try:
            orjson.dumps(_PAD_OUTER)
            return
        except orjson.JSONEncodeError:
            pass  # too deep, or a value JSON cannot hold (left to validation): find where
        finally:
            _PAD_INNER[0] = None
    _find_too_deep(body)


def _find_too_deep(body: Any) -> None:
    """Walk ``body`` with an explicit stack and raise naming the path past MAX_DEPTH."""
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(body, 1, ())]
    while stack:
        node, depth, path = stack.pop()
        if depth > MAX_DEPTH:
            field = _path(path)
            raise errors.BadRequest(f"the object provided nests deeper than {MAX_DEPTH} levels at {field}",
                                    details={"causes": [{"reason": "FieldValueInvalid", "field": field,
                                                         "message": f"nests deeper than {MAX_DEPTH} levels"}]})
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            if isinstance(v, (dict, list)):
                stack.append((v, depth + 1, path + (k,) if len(path) < 8 else path))


def _path(path: tuple[Any, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out + "..." if len(path) >= 8 else out


def check_stored_size(data: bytes) -> None:
    """413 when an object would be stored larger than ``MAX_STORED``."""
    if len(data) > MAX_STORED:
        raise errors.TooLarge(f"Request entity too large: the object would be stored as {len(data)} bytes, "
                              f"limit is {MAX_STORED}")


def require_meta(body: Any, kind: str, group_version: str) -> None:
    """400 when ``body.metadata`` is present but not an object (it is read before validation)."""
    if isinstance(body, dict):
        md = body.get("metadata")
        if md is not None and not isinstance(md, dict):
            raise errors.BadRequest(f'{kind} in version "{group_version}" cannot be handled as a {kind}: '
                                    f"metadata: expected an object, got {_json_type(md)}",
                                    details={"causes": [{"reason": "FieldValueTypeInvalid", "field": "metadata",
                                                         "message": f"expected an object, got {_json_type(md)}"}]})


def delete_options(body: Any) -> dict[str, Any]:
    """A DELETE body as DeleteOptions (empty when there is none); 400 naming a mistyped field."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise errors.BadRequest(f"DeleteOptions: expected an object, got {_json_type(body)}")
    try:
        DeleteOptions.model_validate(body)
    except pydantic.ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise errors.BadRequest(f"DeleteOptions: {field}: {first['msg']}",
                                details={"causes": [{"reason": "FieldValueTypeInvalid", "field": field,
                                                     "message": first["msg"]}]}) from None
    return body


def _json_type(v: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(v), "number")


def warning_header(warnings: list[str]) -> bytes:
    """A ``Warning`` header value (``299 - "text"``, quotes and backslashes escaped), in UTF-8 as
    Kubernetes sends it: a warning naming a non-Latin-1 field must not fail the response that
    reports a write already made."""
    quoted = ('299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in warnings)
    return ", ".join(quoted).encode("utf-8", "replace")
