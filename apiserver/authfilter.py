"""The apiserver's front door: authentication, impersonation and authorization of every HTTP
request and WebSocket handshake, before any handler runs (Kubernetes' handler chain order).

An ASGI wrapper around the application:

1. :class:`~apiserver.auth.authenticate.Chain` turns the request's credentials (the TLS
   peer's certificate, its headers) into a user, or answers 401 Unauthorized;
2. ``Impersonate-*`` headers switch to the impersonated user when the authorizer allows
   (:mod:`~apiserver.auth.impersonation`);
3. the request's :func:`~apiserver.auth.requestinfo.attributes` go to the authorizer chain
   (:mod:`~apiserver.auth.authorize`); anything but ALLOW answers 403 Forbidden;
4. the user is left in ``scope[USER_KEY]`` for admission, audit and the handlers.

The audit context (:mod:`apiserver.audit.context`) hears of the authenticated and the
impersonated user, and gets the ``authorization.k8s.io/decision`` and ``/reason`` annotations.
The filter sits above both ``apiserver/auth`` and ``apiserver/audit`` (as Kubernetes keeps its
handler-chain filters in ``endpoints/filters``): the audit log reads the auth package's users
and attributes, so the auth package itself never imports the audit log.

A WebSocket to ``pods/exec``, ``pods/attach`` or ``pods/portforward`` needs ``create`` on the
subresource besides ``get`` (the upgrade is a GET that runs commands; Kubernetes checks
``create`` too since 1.35). A WebSocket's offer of subprotocols loses any bearer-token protocol
(:mod:`~apiserver.auth.websocket_protocol`) before the application sees it, so none is echoed.
Lifespan events pass straight through.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.responses import Response
from starlette.websockets import WebSocket

from apiserver import errors
from apiserver.audit import context as audit_context
from apiserver.auth import impersonation, requestinfo, websocket_protocol
from apiserver.auth.attributes import Attributes, Authorizer, Decision
from apiserver.auth.authenticate import Chain, Credentials, Unauthenticated
from apiserver.auth.authorize import forbidden_message
from apiserver.auth.user import USER_KEY
from apiserver.auth.x509 import credentials_peer

__all__ = ["AuthFilter"]

log = logging.getLogger(__name__)

_STREAMING_SUBRESOURCES = frozenset(("exec", "attach", "portforward"))
_DECISION = "authorization.k8s.io/decision"
_REASON = "authorization.k8s.io/reason"


def _status_response(err: errors.StatusError) -> Response:
    return Response(orjson.dumps(err.status()), status_code=err.code, media_type="application/json")


class AuthFilter:
    """ASGI: authenticate, impersonate and authorize, then call ``app``."""

    def __init__(self, app: Any, authenticator: Chain, authorizer: Authorizer, *,
                 settle: Callable[[], Awaitable[None]] | None = None) -> None:
        """``settle``: awaited before a refusal is asked again — the apiserver's
        ``WatchCache.wait_current``, so a binding acknowledged before the request counts."""
        self.app = app
        self.authenticator = authenticator
        self.authorizer = authorizer
        self.settle = settle

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            scope[USER_KEY] = await self.admit(scope)
        except errors.StatusError as e:
            response = _status_response(e)
            if kind == "websocket":
                await WebSocket(scope, receive, send).send_denial_response(response)
            else:
                await response(scope, receive, send)
            return
        if kind == "websocket":  # a bearer token offered as a subprotocol is never chosen
            websocket_protocol.strip(scope)
        await self.app(scope, receive, send)

    async def admit(self, scope: dict[str, Any]) -> Any:
        """The request's user; raises the 400/401/403 Status that refuses it."""
        creds = Credentials(peer=credentials_peer(scope.get("state") or {}), headers=tuple(scope["headers"]),
                            subprotocols=tuple(scope.get("subprotocols") or ()) if scope["type"] == "websocket" else None)
        try:
            user = await self.authenticator.authenticate(creds)
        except Unauthenticated:
            raise errors.Unauthorized("Unauthorized") from None
        audit_context.authenticated(user)
        if impersonation.requested(creds):
            user = impersonation.impersonate(user, creds, self.authorizer)
            audit_context.impersonated(user)
        method = scope.get("method", "GET")
        attrs = requestinfo.attributes(user, method, scope["path"], scope.get("query_string", b""))
        scope[requestinfo.ATTRS_KEY] = attrs
        await self._authorize(attrs)
        if scope["type"] == "websocket" and attrs.subresource in _STREAMING_SUBRESOURCES:
            await self._authorize(dataclasses.replace(attrs, verb="create"))
        return user

    async def _authorize(self, attrs: Attributes) -> None:
        verdict = self.authorizer.authorize(attrs)
        if verdict.decision is Decision.NO_OPINION and self.settle is not None:
            # The grant may have been written a moment ago and not have reached the policy the
            # authorizers follow (the watch cache): catch up with every acknowledged write and
            # ask once more. Only refusals pay for this.
            await self.settle()
            verdict = self.authorizer.authorize(attrs)
        # The audit event says what authorization decided and why (Kubernetes' annotations).
        allowed = verdict.decision is Decision.ALLOW
        audit_context.add_annotation(_DECISION, "allow" if allowed else "forbid")
        audit_context.add_annotation(_REASON, verdict.reason)
        if allowed:
            return
        details: dict[str, Any] = {}
        if attrs.resource_request:
            details = {"kind": attrs.resource}
            if attrs.api_group:
                details["group"] = attrs.api_group
            if attrs.name:
                details["name"] = attrs.name
        raise errors.Forbidden(forbidden_message(attrs, verdict.reason), details=details or None)
