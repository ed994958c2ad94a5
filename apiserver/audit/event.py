"""audit.k8s.io/v1 ``Event`` documents, built from a request's audit context off the request
path (in the backend's writer thread), as Kubernetes writes them.

Per level: ``Metadata`` carries the request's metadata (user, verb, objectRef, source IPs,
user agent, response status, annotations); ``Request`` adds ``requestObject`` (the decoded
body of creates, updates, patches, deletes); ``RequestResponse`` adds ``responseObject`` (a
JSON answer; watches and other streams carry none). An error's ``responseStatus`` is the
Status it answered (status, message, reason, details, code); a success's is its code alone.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from apiserver import bodies  # the apiserver's own decoder: JSON, YAML, protobuf, patches
from apiserver.audit.context import AuditContext
from apiserver.auth.user import UserInfo

__all__ = ["build", "micro_time", "user_info"]

_LEVEL_ORDER = {"None": 0, "Metadata": 1, "Request": 2, "RequestResponse": 3}


# The text of the last second micro_time rendered: an event's two timestamps, and the events
# of one second, share it (time.gmtime and the formatting were ~2 us a call, the writer thread's).
_second: tuple[int, str] = (-1, "")


def micro_time(t: float) -> str:
    """RFC 3339 with microseconds, UTC (meta/v1 MicroTime)."""
    global _second
    secs = int(t)
    last, prefix = _second
    if last != secs:
        g = time.gmtime(secs)
        prefix = f"{g.tm_year:04d}-{g.tm_mon:02d}-{g.tm_mday:02d}T{g.tm_hour:02d}:{g.tm_min:02d}:{g.tm_sec:02d}."
        _second = (secs, prefix)
    return f"{prefix}{int((t - secs) * 1e6):06d}Z"


def user_info(user: UserInfo) -> dict[str, Any]:
    """authentication/v1 UserInfo of a UserInfo (omitting what is empty)."""
    return user.api_dict()


def _object_ref(attrs: Any) -> dict[str, Any] | None:
    if attrs is None or not attrs.resource_request:
        return None
    ref: dict[str, Any] = {"resource": attrs.resource}
    if attrs.namespace:
        ref["namespace"] = attrs.namespace
    if attrs.name:
        ref["name"] = attrs.name
    if attrs.api_group:
        ref["apiGroup"] = attrs.api_group
    if attrs.api_version:
        ref["apiVersion"] = attrs.api_version
    if attrs.subresource:
        ref["subresource"] = attrs.subresource
    return ref


def _strip_managed_fields(obj: Any) -> Any:
    if isinstance(obj, dict):
        md = obj.get("metadata")
        if isinstance(md, dict) and "managedFields" in md:
            obj = {**obj, "metadata": {k: v for k, v in md.items() if k != "managedFields"}}
        items = obj.get("items")
        if isinstance(items, list):
            obj = {**obj, "items": [_strip_managed_fields(i) for i in items]}
    return obj


def _decode_request(ctx: AuditContext) -> Any:
    try:
        return bodies.decode(ctx.request_body or b"", ctx.request_ctype or bodies.JSON, patch=ctx.method == "PATCH")
    except Exception:  # the request was refused for it; the event still says what came
        return None


def _response(ctx: AuditContext) -> Any:
    if not ctx.response_body or "json" not in ctx.response_ctype:
        return None
    try:
        return orjson.loads(b"".join(ctx.response_body))
    except orjson.JSONDecodeError:
        return None


def _response_status(ctx: AuditContext, code: int, answer: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"metadata": {}}
    if isinstance(answer, dict) and answer.get("kind") == "Status":
        for key in ("status", "message", "reason", "details"):
            if answer.get(key):
                status[key] = answer[key]
    status["code"] = code
    return status


def build(ctx: AuditContext, stage: str, stage_time: float, code: int, annotations: dict[str, str],
          impersonated: Any, final: bool) -> dict[str, Any]:
    """The event of ``ctx`` at ``stage``; ``final`` (ResponseComplete, Panic) carries objects."""
    attrs = ctx.attributes
    level = ctx.level or "Metadata"
    ev: dict[str, Any] = {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": level,
                          "auditID": ctx.audit_id, "stage": stage, "requestURI": ctx.uri,
                          "verb": attrs.verb if attrs is not None else ctx.method.lower()}
    ev["user"] = user_info(ctx.user) if ctx.user is not None else {}
    if impersonated is not None:
        ev["impersonatedUser"] = user_info(impersonated)
    ev["sourceIPs"] = ctx.source_ips
    if ctx.user_agent:
        ev["userAgent"] = ctx.user_agent
    ref = _object_ref(attrs)
    if ref is not None:
        ev["objectRef"] = ref
    if stage != "RequestReceived":
        answer = _response(ctx) if final or stage == "ResponseStarted" and code >= 400 else None
        ev["responseStatus"] = _response_status(ctx, code, answer)
        if stage == "Panic":
            ev["responseStatus"] = {"metadata": {}, "status": "Failure", "message": "Internal Server Error",
                                    "reason": "InternalError", "code": 500}
        raw = ctx.request_body if final else None
        if raw:
            needs_name = ref is not None and attrs.verb == "create" and not ref.get("name")
            if (ctx.request_ctype in ("", "application/json") and code < 400 and raw[:1] == b"{"
                    and b"\n" not in raw and b"\r" not in raw
                    and not (ctx.omit_managed_fields and b'"managedFields"' in raw)):
                # Compact JSON the server accepted goes into the line as it came (orjson embeds
                # it), not decoded and encoded again; a create's name is read from it.
                obj = orjson.loads(raw) if needs_name else None
                if _LEVEL_ORDER[level] >= 2:
                    ev["requestObject"] = orjson.Fragment(raw)
            else:
                obj = _decode_request(ctx)
                if obj is not None and _LEVEL_ORDER[level] >= 2:
                    ev["requestObject"] = _strip_managed_fields(obj) if ctx.omit_managed_fields else obj
            if needs_name and ref is not None and isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
                md = obj["metadata"]  # a create names its object in the body (Kubernetes fills it in)
                if isinstance(md.get("name"), str) and md["name"]:
                    ref["name"] = md["name"]
                if not ref.get("namespace") and isinstance(md.get("namespace"), str) and md["namespace"]:
                    ref["namespace"] = md["namespace"]
        if final and _LEVEL_ORDER[level] >= 3 and answer is not None and not ctx.long_running:
            ev["responseObject"] = _strip_managed_fields(answer) if ctx.omit_managed_fields else answer
    ev["requestReceivedTimestamp"] = micro_time(ctx.received)
    ev["stageTimestamp"] = micro_time(stage_time)
    if annotations:
        ev["annotations"] = annotations
    return ev
