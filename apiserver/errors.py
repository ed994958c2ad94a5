"""The apiserver's errors, each answered as a meta/v1 Status with Kubernetes' reason and code.

    StatusError(code, reason, message, details)   raised anywhere in a request; rendered by app
    ├── NotFound        404 NotFound        ``pods "x" not found``
    ├── AlreadyExists   409 AlreadyExists   ``pods "x" already exists``
    ├── Conflict        409 Conflict        stale resourceVersion
    ├── Invalid         422 Invalid         field errors in details.causes
    ├── BadRequest      400 BadRequest      malformed body, namespace mismatch
    ├── Unauthorized    401 Unauthorized    no valid credentials (authentication failed)
    ├── Forbidden       403 Forbidden       e.g. namespace terminating
    ├── MethodNotAllowed 405 MethodNotAllowed
    ├── Gone            410 Expired         watch/list from a compacted resourceVersion
    ├── TooLarge        413 RequestEntityTooLarge
    ├── UnsupportedMediaType 415 UnsupportedMediaType
    ├── NotAcceptable   406 NotAcceptable       no acceptable answer format
    ├── TooManyRequests 429 TooManyRequests  an eviction a PodDisruptionBudget refuses
    ├── InsufficientStorage 507 InsufficientStorage the data dir's disk is full
    ├── ServiceUnavailable 503 ServiceUnavailable
    ├── Timeout         504 Timeout
    └── InternalError   500 InternalError   (a bug: logged with its traceback)
"""

from __future__ import annotations

from typing import Any

import orjson

from minik8s.api.resources import ResourceType


class StatusError(Exception):
    code = 500
    reason = "InternalError"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        """The meta/v1 Status, its keys in the order Go's ``metav1.Status`` struct declares them
        (details before code; within details: name, group, kind, uid, causes,
        retryAfterSeconds; within a cause: reason, message, field), as clients compare bodies
        byte for byte. Empty details (``{}``) are kept: Kubernetes sends them, and kubectl
        dereferences them."""
        body: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = _ordered_details(self.details)
        body["code"] = self.code
        return body

    def encoded(self) -> bytes:
        """The Status as Kubernetes writes it: compact JSON and a trailing newline (Go's
        ``json.Encoder``)."""
        return orjson.dumps(self.status()) + b"\n"


_DETAIL_ORDER = ("name", "group", "kind", "uid", "causes", "retryAfterSeconds")
_CAUSE_ORDER = ("reason", "message", "field")


def _ordered_details(details: dict[str, Any]) -> dict[str, Any]:
    out = {k: details[k] for k in _DETAIL_ORDER if k in details}
    if isinstance(out.get("causes"), list):
        out["causes"] = [{k: c[k] for k in _CAUSE_ORDER if k in c} if isinstance(c, dict) else c
                         for c in out["causes"]]
    out.update((k, v) for k, v in details.items() if k not in out)
    return out


def _details(rt: ResourceType | None, name: str | None, **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if rt is not None:
        if rt.group:
            d["group"] = rt.group
        d["kind"] = rt.plural
    d.update(kw)
    return d


class NotFound(StatusError):
    code, reason = 404, "NotFound"

    @classmethod
    def of(cls, rt: ResourceType, name: str) -> NotFound:
        return cls(f'{rt.group_resource} "{name}" not found', details=_details(rt, name))


class AlreadyExists(StatusError):
    code, reason = 409, "AlreadyExists"

    @classmethod
    def of(cls, rt: ResourceType, name: str) -> AlreadyExists:
        return cls(f'{rt.group_resource} "{name}" already exists', details=_details(rt, name))


class Conflict(StatusError):
    code, reason = 409, "Conflict"

    @classmethod
    def of(cls, rt: ResourceType, name: str, why: str) -> Conflict:
        return cls(f'Operation cannot be fulfilled on {rt.group_resource} "{name}": {why}',
                   details=_details(rt, name))


class Invalid(StatusError):
    code, reason = 422, "Invalid"

    @classmethod
    def of(cls, kind: str, group: str, name: str, errors: list[Any]) -> Invalid:
        """``errors`` are FieldErrors (field, reason, message)."""
        texts = [e.text() for e in errors]
        msg = f'{kind}{"." + group if group else ""} "{name}" is invalid: '
        msg += texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
        details: dict[str, Any] = {"name": name, "kind": kind,
                                   "causes": [{"reason": e.reason, "message": e.message, "field": e.field}
                                              for e in errors]}
        if not name:
            del details["name"]  # omitempty, as Go writes StatusDetails
        if group:
            details["group"] = group
        return cls(msg, details=details)


class BadRequest(StatusError):
    code, reason = 400, "BadRequest"


class Unauthorized(StatusError):
    code, reason = 401, "Unauthorized"


class Forbidden(StatusError):
    code, reason = 403, "Forbidden"


class MethodNotAllowed(StatusError):
    code, reason = 405, "MethodNotAllowed"


class Gone(StatusError):
    code, reason = 410, "Expired"


class TooLarge(StatusError):
    code, reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(StatusError):
    code, reason = 415, "UnsupportedMediaType"


class NotAcceptable(StatusError):
    code, reason = 406, "NotAcceptable"


class Timeout(StatusError):
    code, reason = 504, "Timeout"


class TooManyRequests(StatusError):
    code, reason = 429, "TooManyRequests"


class ServiceUnavailable(StatusError):
    code, reason = 503, "ServiceUnavailable"


class InsufficientStorage(StatusError):
    code, reason = 507, "InsufficientStorage"


class InternalError(StatusError):
    code, reason = 500, "InternalError"


def not_found_path() -> StatusError:
    """A path that names no resource: Kubernetes answers 404 with reason NotFound."""
    return NotFound("the server could not find the requested resource", details={})
