"""The one exception tree of the minik8s client side.

Everything the REST client, informers and leader election raise is one of these; aiohttp
errors are converted into them at the boundary (``client/rest.py``), so no caller ever catches
an aiohttp type.
An :class:`ApiError` carries the server's ``meta/v1 Status`` unchanged, so a component can
report it exactly as ``kubectl`` would.

::

    Exception
     └── MiniK8sError                  base of everything below
          ├── ConnectionFailed         the apiserver could not be reached (refused, DNS, TLS, reset,
          │                            timeout) or a response stream broke off
          └── ApiError                 the apiserver answered with a non-2xx Status
               ├── BadRequest          400 BadRequest
               ├── Unauthorized        401 Unauthorized
               ├── Forbidden           403 Forbidden
               ├── NotFound            404 NotFound
               ├── AlreadyExists       409 with reason AlreadyExists
               ├── Conflict            409 Conflict (stale resourceVersion, field-manager conflict)
               ├── Gone                410 Expired / Gone (resourceVersion too old)
               │    └── WatchExpired   410 ERROR event inside a watch stream
               ├── Invalid             422 Invalid (validation failed; causes name the fields)
               ├── TooManyRequests     429 TooManyRequests (retry_after_seconds may say when)
               └── ServerError         5xx InternalError, ServiceUnavailable, Timeout ...

Codes without a class of their own (405, 406, 415, ...) raise a plain :class:`ApiError`.
"""

from __future__ import annotations

import json
from typing import Any

# What Kubernetes says when a non-Status body comes back (client-go does the same).
_DEFAULT_REASONS: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    403: ("Forbidden", "the server does not allow access to the requested resource"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    406: ("NotAcceptable", "the server was unable to respond with a content type that the client supports"),
    409: ("Conflict", "the server reported a conflict"),
    410: ("Gone", "the server has asked for the client to retry the request"),
    415: ("UnsupportedMediaType", "the server was unable to decode the body of the request"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
    500: ("InternalError", "an error on the server has prevented the request from succeeding"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request"),
}


class MiniK8sError(Exception):
    """Raised never directly: the base every client-side error shares."""


class ConnectionFailed(MiniK8sError):
    """Raised when the apiserver cannot be reached or the connection breaks mid-request."""


class ApiError(MiniK8sError):
    """Raised when the apiserver answers with a non-2xx status; ``status`` is its meta/v1 Status."""

    def __init__(self, status: dict[str, Any], code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"({self.reason}) {self.message}" if self.reason else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, reason={self.reason!r}, message={self.message!r})"

    @property
    def details(self) -> dict[str, Any]:
        return self.status.get("details") or {}

    @property
    def causes(self) -> list[dict[str, Any]]:
        return self.details.get("causes") or []

    @property
    def retry_after_seconds(self) -> int | None:
        return self.details.get("retryAfterSeconds")

    @classmethod
    def from_status(cls, status: dict[str, Any], *, code: int | None = None) -> ApiError:
        """The error for a meta/v1 Status (as returned or as a watch ERROR event's object)."""
        code = int(status.get("code") or code or 500)
        default_reason, default_message = _DEFAULT_REASONS.get(code, ("", f"unexpected status code {code}"))
        reason = status.get("reason") or default_reason
        message = status.get("message") or default_message
        return _class_for(code, reason)(status, code, reason, message)

    @classmethod
    def from_response(cls, code: int, body: bytes | str | dict[str, Any] | None) -> ApiError:
        """The error for an HTTP response: its Status body when it is one, else a synthesized one."""
        status: dict[str, Any] | None = None
        if isinstance(body, dict):
            status = body
        elif body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict) and parsed.get("kind") == "Status":
                status = parsed
        if status is None:
            reason, message = _DEFAULT_REASONS.get(code, ("", f"unexpected status code {code}"))
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body if isinstance(body, str) else ""
            if text.strip() and code not in (404,):
                # A non-Status body is often a plain-text reason worth showing (proxies, panics).
                message = f"{message} ({text.strip()[:500]})"
            status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason, "code": code}
        return cls.from_status(status, code=code)


class BadRequest(ApiError):
    """Raised on 400: the request was malformed (bad selector, bad patch, bad query parameter)."""


class Unauthorized(ApiError):
    """Raised on 401: no or wrong credentials."""


class Forbidden(ApiError):
    """Raised on 403: authenticated but not allowed, or a namespace is terminating."""


class NotFound(ApiError):
    """Raised on 404: the object (or the whole resource path) does not exist."""


class AlreadyExists(ApiError):
    """Raised on 409 with reason AlreadyExists: create of a name that is taken."""


class Conflict(ApiError):
    """Raised on 409 Conflict: stale resourceVersion on update, or an apply field conflict."""


class Gone(ApiError):
    """Raised on 410 Expired/Gone: the resourceVersion asked for is older than the server keeps."""


class WatchExpired(Gone):
    """Raised inside a watch stream on an ERROR event with code 410: the watcher must relist."""


class Invalid(ApiError):
    """Raised on 422 Invalid: the object failed validation; ``causes`` name each field."""


class TooManyRequests(ApiError):
    """Raised on 429: the server is overloaded; ``retry_after_seconds`` says when to retry."""


class ServerError(ApiError):
    """Raised on any 5xx: the server failed (InternalError, ServiceUnavailable, Timeout)."""


_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 410: Gone,
    422: Invalid, 429: TooManyRequests,
}


def _class_for(code: int, reason: str) -> type[ApiError]:
    if code == 409:
        return AlreadyExists if reason == "AlreadyExists" else Conflict
    if code >= 500:
        return ServerError
    return _BY_CODE.get(code, ApiError)
