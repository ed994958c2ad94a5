"""The audit filter: the outermost layer of the apiserver's handler chain (Kubernetes'
``WithAuditInit`` and ``WithAudit``).

Every HTTP request and WebSocket handshake gets an Audit-ID (the client's ``Audit-ID`` header
when it sent one, else a new UUID) and answers with it in the ``Audit-Id`` header, audit log
or not. With a policy, the request gets an :class:`~apiserver.audit.context.AuditContext`;
once the authentication filter knows the requester the policy is asked for the level, and the
stages are recorded (each unless omitted):

* ``RequestReceived`` — when the requester is known, before anything is decided;
* ``ResponseStarted`` — when the headers of a long-running request (watch, proxy, exec,
  attach, log, portforward) are sent; for a request refused by authentication (401) this is
  its only event, as Kubernetes records failed authentication;
* ``ResponseComplete`` — when the answer was sent;
* ``Panic`` — when the handler raised instead of answering.

The request path only fills the context and appends a record to the backend's buffer; events
are built and written by the backend's thread (:mod:`apiserver.audit.backend`). The request
body is kept for ``Request`` and above, a JSON answer for ``RequestResponse`` and for errors
(their Status goes into ``responseStatus``).
"""

from __future__ import annotations

import time
from typing import Any

from apiserver.audit import context as audit_context
from apiserver.audit.backend import BufferedBackend
from apiserver.audit.context import AuditContext
from apiserver.audit.policy import Policy
from apiserver.auth import requestinfo
from apiserver.auth.user import ANONYMOUS_USER
from apiserver.uids import new_uid
from minik8s.metrics import LoopCounter

__all__ = ["AuditFilter"]

#: apiserver_audit_level_total: the level the policy gave each request (on the event loop only).
LEVELS = LoopCounter("apiserver_audit_level", "Counter of policy levels for audit events (1 per request).", ["level"])

_LONG_RUNNING_VERBS = frozenset(("watch", "proxy"))
_LONG_RUNNING_SUBRESOURCES = frozenset(("attach", "exec", "proxy", "log", "portforward"))
_LEVELS = {"None": 0, "Metadata": 1, "Request": 2, "RequestResponse": 3}
_MAX_KEPT = 3 * 1024 * 1024  # bodies beyond Kubernetes' request limit are not kept


def _read_headers(ctx: AuditContext, scope: dict[str, Any]) -> None:
    """The user agent, content type and source IPs, in one pass over the headers. Source IPs
    are X-Forwarded-For's hops, X-Real-Ip, then the peer (Kubernetes' ``utilnet.SourceIPs``)."""
    forwarded = real = ""
    for k, v in scope["headers"]:
        if k == b"user-agent":
            ctx.user_agent = v.decode("latin-1")
        elif k == b"content-type":
            ctx.request_ctype = v.decode("latin-1").split(";")[0].strip().lower()
        elif k == b"x-forwarded-for":
            forwarded = v.decode("latin-1")
        elif k == b"x-real-ip":
            real = v.decode("latin-1").strip()
    ips = [ip.strip() for ip in forwarded.split(",") if ip.strip()] if forwarded else []
    if real and real not in ips:
        ips.append(real)
    client = scope.get("client")
    if client and client[0] not in ips:
        ips.append(client[0])
    ctx.source_ips = ips


def _attributes(ctx: AuditContext, user: Any) -> Any:
    """The request's authorization attributes (cached by requestinfo), kept in ``ctx``."""
    attrs = requestinfo.attributes(user if user is not None else ANONYMOUS_USER, ctx.method, ctx.path, ctx.query)
    ctx.attributes = attrs
    ctx.long_running = attrs.resource_request and (attrs.verb in _LONG_RUNNING_VERBS or
                                                   attrs.subresource in _LONG_RUNNING_SUBRESOURCES)
    return attrs


def _audit_id(scope: dict[str, Any]) -> str:
    for k, v in scope["headers"]:
        if k == b"audit-id":
            given: str = v.decode("latin-1").strip()
            if given and len(given) <= 64:
                return given
    return new_uid()  # a version 4 UUID, from a pool of random bytes (uuid4() costs 5x more)


class AuditFilter:
    """ASGI: Audit-ID on every answer; with a policy and backend, the stage events."""

    def __init__(self, app: Any, policy: Policy | None = None, backend: BufferedBackend | None = None) -> None:
        self.app = app
        self.policy = policy if backend is not None else None
        self.backend = backend

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        audit_id = _audit_id(scope)
        id_header = (b"Audit-Id", audit_id.encode())
        if self.policy is None:
            async def send_with_id(message: dict[str, Any]) -> None:
                if message["type"] in ("http.response.start", "websocket.http.response.start"):
                    message["headers"] = [*message.get("headers", ()), id_header]
                elif message["type"] == "websocket.accept":
                    message["headers"] = [*message.get("headers", ()), id_header]
                await send(message)

            await self.app(scope, receive, send_with_id)
            return
        await self._audited(scope, receive, send, audit_id, id_header)

    def _on_authenticated(self, ctx: AuditContext) -> None:
        assert self.policy is not None and self.backend is not None
        decision = self.policy.decide(_attributes(ctx, ctx.user), ctx.user)
        LEVELS.child(decision.level).inc()
        ctx.level = decision.level
        ctx.omit_stages = decision.omit_stages
        ctx.omit_managed_fields = decision.omit_managed_fields
        if decision.level != "None" and "RequestReceived" not in decision.omit_stages:
            self.backend.add((ctx, "RequestReceived", ctx.received, 0, {}, None, False))

    async def _audited(self, scope: dict[str, Any], receive: Any, send: Any, audit_id: str,
                       id_header: tuple[bytes, bytes]) -> None:
        backend = self.backend
        assert backend is not None
        ctx = AuditContext(audit_id, time.time())
        ctx.method = "GET" if scope["type"] == "websocket" else scope.get("method", "GET")
        path = scope["path"]
        qs: bytes = scope.get("query_string", b"")
        ctx.uri = path + ("?" + qs.decode("latin-1") if qs else "")
        _read_headers(ctx, scope)
        ctx.path, ctx.query = path, qs
        ctx.on_authenticated = self._on_authenticated
        body: list[bytes] = []
        body_size = 0

        async def receive_kept() -> dict[str, Any]:
            nonlocal body_size
            message: dict[str, Any] = await receive()
            # Request and above log the body; a create's names the object at every level
            if message["type"] == "http.request" and (ctx.level in ("Request", "RequestResponse") or
                                                      ctx.method == "POST" and ctx.level == "Metadata"):
                chunk = message.get("body", b"")
                if chunk and body_size + len(chunk) <= _MAX_KEPT:
                    body.append(chunk)
                    body_size += len(chunk)
            return message

        kept: list[bytes] | None = None
        kept_size = 0

        async def send_audited(message: dict[str, Any]) -> None:
            nonlocal kept, kept_size
            t = message["type"]
            if t in ("http.response.start", "websocket.http.response.start", "websocket.accept"):
                message["headers"] = [*message.get("headers", ()), id_header]
                ctx.code = 101 if t == "websocket.accept" else message.get("status", 200)
                ctype = b""
                for k, v in message.get("headers", ()):
                    if k.lower() == b"content-type":
                        ctype = v
                ctx.response_ctype = ctype.decode("latin-1").lower()
                ctx.started = time.time()
                level = _LEVELS.get(ctx.level or "None", 0)
                if level and (ctx.code >= 400 or level >= 3 and not ctx.long_running) and "json" in ctx.response_ctype:
                    kept = []
                if (ctx.long_running and level and ctx.user is not None
                        and "ResponseStarted" not in ctx.omit_stages):
                    backend.add((ctx, "ResponseStarted", ctx.started, ctx.code, dict(ctx.annotations),
                                 ctx.impersonated_user, False))
            elif kept is not None and t in ("http.response.body", "websocket.http.response.body"):
                chunk = message.get("body", b"")
                if chunk and kept_size + len(chunk) <= _MAX_KEPT:
                    kept.append(chunk)
                    kept_size += len(chunk)
            await send(message)

        token = audit_context.set_current(ctx)
        try:
            await self.app(scope, receive_kept, send_audited)
        except BaseException:
            if ctx.level not in (None, "None") and "Panic" not in ctx.omit_stages:
                ctx.request_body = b"".join(body) or None
                backend.add((ctx, "Panic", time.time(), 500, dict(ctx.annotations), ctx.impersonated_user, True))
            raise
        finally:
            audit_context.reset_current(token)
        ctx.request_body = b"".join(body) or None
        ctx.response_body = kept
        if ctx.user is None:
            # Refused before anyone was authenticated (401): the policy sees no user, and the
            # one event is ResponseStarted, as Kubernetes' failed-authentication audit.
            self._on_unauthenticated(ctx)
            return
        if ctx.level not in (None, "None") and "ResponseComplete" not in ctx.omit_stages:
            backend.add((ctx, "ResponseComplete", time.time(), ctx.code, ctx.annotations, ctx.impersonated_user,
                         True))

    def _on_unauthenticated(self, ctx: AuditContext) -> None:
        assert self.policy is not None and self.backend is not None
        decision = self.policy.decide(_attributes(ctx, None), None)
        LEVELS.child(decision.level).inc()
        ctx.level = decision.level
        ctx.omit_managed_fields = decision.omit_managed_fields
        if decision.level != "None" and "ResponseStarted" not in decision.omit_stages:
            self.backend.add((ctx, "ResponseStarted", time.time(), ctx.code or 401, ctx.annotations, None, True))
