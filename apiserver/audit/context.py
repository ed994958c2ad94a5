"""The audit context of the request being served: its Audit-ID, the users, the level the
policy chose and the annotations code below the HTTP layer adds (Kubernetes'
``audit.AddAuditAnnotation``).

The audit filter (:mod:`apiserver.audit.filter`) makes one :class:`AuditContext` per request
and sets it in a ``ContextVar`` before anything else runs, so authorization, admission plugins
and handlers reach it without being handed the request::

    from apiserver.audit import context as audit_context
    audit_context.add_annotation("pod-security.kubernetes.io/audit-violations", text)

Without an audit log, or for a request the policy audits at level ``None``, there is no
context and :func:`add_annotation` does nothing (it costs one ``ContextVar.get``).
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

__all__ = ["AuditContext", "add_annotation", "authenticated", "current", "impersonated", "reset_current", "set_current"]

log = logging.getLogger(__name__)


class AuditContext:
    """What the audit log will say about one request (filled while it is served)."""

    __slots__ = ("audit_id", "received", "level", "omit_stages", "omit_managed_fields", "user",
                 "impersonated_user", "attributes", "annotations", "request_body", "request_ctype",
                 "response_body", "response_ctype", "code", "source_ips", "user_agent", "uri", "method",
                 "long_running", "started", "on_authenticated", "path", "query")

    def __init__(self, audit_id: str, received: float) -> None:
        self.audit_id = audit_id
        self.received = received  # time.time() when the request arrived
        self.level: str | None = None  # None until the policy was asked; "None" = not audited
        self.omit_stages: frozenset[str] = frozenset()
        self.omit_managed_fields = False
        self.user: Any = None  # UserInfo of the authenticated requester
        self.impersonated_user: Any = None
        self.attributes: Any = None  # the request's authorization Attributes
        self.annotations: dict[str, str] = {}
        self.request_body: bytes | None = None
        self.request_ctype = ""
        self.response_body: list[bytes] | None = None
        self.response_ctype = ""
        self.code = 0
        self.source_ips: list[str] = []
        self.user_agent = ""
        self.uri = ""
        self.method = ""
        self.path = ""
        self.query = b""
        self.long_running = False
        self.started = 0.0  # time.time() of ResponseStarted
        # called once the requester is known (the filter asks the policy, emits RequestReceived)
        self.on_authenticated: Any = None

    def add_annotation(self, key: str, value: str) -> None:
        """Keep ``key=value``; a key already set keeps its first value, as Kubernetes does."""
        old = self.annotations.get(key)
        if old is None:
            self.annotations[key] = value
        elif old != value:
            log.warning("audit annotation %s already set to %r for %s; %r ignored", key, old, self.audit_id, value)


_current: contextvars.ContextVar[AuditContext | None] = contextvars.ContextVar("minik8s_audit", default=None)


def current() -> AuditContext | None:
    """The audit context of the request being served (None: nothing is audited)."""
    return _current.get()


def set_current(ctx: AuditContext | None) -> contextvars.Token[AuditContext | None]:
    """Make ``ctx`` the request's audit context; the token undoes it (``reset_current``)."""
    return _current.set(ctx)


def reset_current(token: contextvars.Token[AuditContext | None]) -> None:
    """Undo the ``set_current`` that returned ``token`` (the request is done)."""
    _current.reset(token)


def add_annotation(key: str, value: str) -> None:
    """Annotate the audit event of the request being served (no-op when it is not audited)."""
    ctx = _current.get()
    if ctx is not None:
        ctx.add_annotation(key, value)


def authenticated(user: Any) -> None:
    """The authentication filter found the requester (called once per request)."""
    ctx = _current.get()
    if ctx is not None:
        ctx.user = user
        if ctx.on_authenticated is not None:
            ctx.on_authenticated(ctx)


def impersonated(user: Any) -> None:
    """The request acts as ``user`` (``Impersonate-*`` headers, allowed)."""
    ctx = _current.get()
    if ctx is not None:
        ctx.impersonated_user = user
