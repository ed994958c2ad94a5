"""The apiserver's errors, each answered as a meta/v1 Status with Kubernetes' reason and code.

    StatusError(code, reason, message, details)   raised anywhere in a request; rendered by app
    ├── NotFound        404 NotFound        ``pods "x" not found``
    ├── AlreadyExists   409 AlreadyExists   ``pods "x" already exists``
    ├── Conflict        409 Conflict        stale resourceVersion
    ├── Invalid         422 Invalid         field errors in details.causes
    ├── BadRequest      400 BadRequest      malformed body, namespace mismatch
    ├── Forbidden       403 Forbidden       e.g. namespace terminating
    ├── MethodNotAllowed 405 MethodNotAllowed
    ├── Gone            410 Expired         watch/list from a compacted resourceVersion
    ├── TooLarge        413 RequestEntityTooLarge
    ├── UnsupportedMediaType 415 UnsupportedMediaType
    ├── Timeout         504 Timeout
    └── InternalError   500 InternalError   (a bug: logged with its traceback)
"""

from __future__ import annotations

from typing import Any

from minik8s.api.resources import ResourceType


class StatusError(Exception):
    code = 500
    reason = "InternalError"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


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
    def of(cls, rt: ResourceType, name: str) -> "NotFound":
        return cls(f'{rt.group_resource} "{name}" not found', details=_details(rt, name))


class AlreadyExists(StatusError):
    code, reason = 409, "AlreadyExists"

    @classmethod
    def of(cls, rt: ResourceType, name: str) -> "AlreadyExists":
        return cls(f'{rt.group_resource} "{name}" already exists', details=_details(rt, name))


class Conflict(StatusError):
    code, reason = 409, "Conflict"

    @classmethod
    def of(cls, rt: ResourceType, name: str, why: str) -> "Conflict":
        return cls(f'Operation cannot be fulfilled on {rt.group_resource} "{name}": {why}',
                   details=_details(rt, name))


class Invalid(StatusError):
    code, reason = 422, "Invalid"

    @classmethod
    def of(cls, kind: str, group: str, name: str, errors: list[Any]) -> "Invalid":
        """``errors`` are FieldErrors (field, reason, message)."""
        texts = [e.text() for e in errors]
        msg = f'{kind}{"." + group if group else ""} "{name}" is invalid: '
        msg += texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
        details: dict[str, Any] = {"name": name, "kind": kind,
                                   "causes": [{"reason": e.reason, "message": e.message, "field": e.field}
                                              for e in errors]}
        if group:
            details["group"] = group
        return cls(msg, details=details)


class BadRequest(StatusError):
    code, reason = 400, "BadRequest"


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


class ServiceUnavailable(StatusError):
    code, reason = 503, "ServiceUnavailable"


class InternalError(StatusError):
    code, reason = 500, "InternalError"


def not_found_path() -> StatusError:
    """A path that names no resource: Kubernetes answers 404 with reason NotFound."""
    return NotFound("the server could not find the requested resource", details={})
