"""Authentication and authorization delegated to the apiserver, for a component's own HTTPS
endpoint (Kubernetes' ``DelegatingAuthenticationOptions`` / ``DelegatingAuthorizationOptions``,
which kube-scheduler, kube-controller-manager and the kubelet use).

* **Authentication**: a client certificate verified against the client CA (the TLS layer
  checks it, :mod:`minik8s.tlspeer`; CN = user, O = groups), else a ``Bearer`` token asked
  of the apiserver with a TokenReview. Answers are cached 10 s (Kubernetes' delegated
  authentication cache). No credentials, or a token the apiserver rejects: 401.
* **Authorization**: a SubjectAccessReview for the caller: ``resourceAttributes`` (the
  kubelet asks about ``nodes/<subresource>``) or ``nonResourceAttributes`` (``get /metrics``
  for the scheduler and controller-manager). Allowed answers are cached 5 min, denied 30 s,
  as the kubelet's webhook authorizer; ``always_allow_paths`` (``/healthz``, ``/readyz``,
  ``/livez`` by default, as ``--authorization-always-allow-paths``) skip it.

The apiserver is reached with the component's own credentials (its ApiClient): the
scheduler's, controller-manager's and kubelet's roles may create both reviews.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from minik8s import errors
from minik8s.api.resources import SUBJECTACCESSREVIEWS, TOKENREVIEWS
from minik8s.tlspeer import PEER_KEY

__all__ = ["ALWAYS_ALLOW_PATHS", "Caller", "Decision", "DelegatingFilter", "SubjectAccessReviewer", "TokenReviewer"]

log = logging.getLogger(__name__)

ALWAYS_ALLOW_PATHS = ("/healthz", "/readyz", "/livez")
ALLOWED_TTL = 300.0
DENIED_TTL = 30.0
TOKEN_TTL = 10.0
_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    message: str = ""  # the refusal's text (a 403's body)


class SubjectAccessReviewer:
    """SubjectAccessReviews, cached per (caller, attributes)."""

    def __init__(self, client: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
        """``client``: an ApiClient allowed to create SubjectAccessReviews. ``clock`` is for tests."""
        self.client = client
        self.clock = clock
        self._cache: dict[tuple[Any, ...], tuple[float, bool]] = {}

    async def allowed(self, caller: Caller, attributes: dict[str, Any], *, non_resource: bool = False) -> bool:
        """Whether the apiserver allows ``caller`` the ``attributes`` (resourceAttributes, or
        nonResourceAttributes ``{"path", "verb"}``)."""
        key = (caller, non_resource, tuple(sorted(attributes.items())))
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        spec: dict[str, Any] = {"user": caller.name, "groups": list(caller.groups),
                                "nonResourceAttributes" if non_resource else "resourceAttributes": attributes}
        if caller.uid:
            spec["uid"] = caller.uid
        if caller.extra:
            spec["extra"] = {k: list(v) for k, v in caller.extra}
        review = await self.client.create(SUBJECTACCESSREVIEWS, {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})
        allowed = bool((review.get("status") or {}).get("allowed"))
        self._cache[key] = (now + (ALLOWED_TTL if allowed else DENIED_TTL), allowed)
        if len(self._cache) > 10_000:  # bounded: drop what has expired
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        return allowed


class TokenReviewer:
    """Bearer tokens checked by the apiserver (TokenReview), cached ``TOKEN_TTL`` seconds."""

    def __init__(self, client: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.clock = clock
        self._cache: dict[str, tuple[float, Caller | None]] = {}

    async def authenticate(self, token: str) -> Caller | None:
        now = self.clock()
        hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        review = await self.client.create(TOKENREVIEWS, {"apiVersion": "authentication.k8s.io/v1",
                                                         "kind": "TokenReview", "spec": {"token": token}})
        status = review.get("status") or {}
        caller = None
        if status.get("authenticated"):
            u = status.get("user") or {}
            caller = Caller(u.get("username", ""), tuple(u.get("groups") or ()), u.get("uid", ""),
                            tuple((k, tuple(v)) for k, v in sorted((u.get("extra") or {}).items())))
        self._cache[token] = (now + TOKEN_TTL, caller)
        if len(self._cache) > 10_000:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        return caller


#: ``authorize(caller, method, path) -> Decision``.
Authorize = Callable[[Caller, str, str], Awaitable[Decision]]


def non_resource_authorizer(reviewer: SubjectAccessReviewer) -> Authorize:
    """Authorize a request as the non-resource URL it asks for (``get /metrics``)."""
    async def authorize(caller: Caller, method: str, path: str) -> Decision:
        verb = _VERBS.get(method.upper(), method.lower())
        if await reviewer.allowed(caller, {"path": path, "verb": verb}, non_resource=True):
            return Decision(True)
        return Decision(False, f'forbidden: User "{caller.name}" cannot {verb} path "{path}"')

    return authorize


class DelegatingFilter:
    """ASGI: authenticate (client certificate, else TokenReview) and authorize
    (SubjectAccessReview) every request before ``app``; 401 / 403 as plain text."""

    def __init__(self, app: Any, authorize: Authorize, *, tokens: TokenReviewer | None = None,
                 always_allow_paths: tuple[str, ...] = ALWAYS_ALLOW_PATHS) -> None:
        self.app = app
        self.authorize = authorize
        self.tokens = tokens
        self.always_allow_paths = always_allow_paths

    async def caller(self, scope: dict[str, Any]) -> Caller | None:
        subject = (scope.get("state") or {}).get(PEER_KEY)
        if subject is not None:
            return Caller(subject[0], (*subject[1], "system:authenticated"))
        if self.tokens is None:
            return None
        for k, v in scope.get("headers", ()):
            if k == b"authorization":
                scheme, _, token = v.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    return await self.tokens.authenticate(token.strip())
        return None

    def _allowed_always(self, path: str) -> bool:
        for p in self.always_allow_paths:
            if path == p or (p.endswith("*") and path.startswith(p[:-1])):
                return True
        return False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from starlette.responses import PlainTextResponse
        from starlette.websockets import WebSocket

        refusal = None
        if not self._allowed_always(scope["path"]):
            try:
                caller = await self.caller(scope)
                if caller is None:
                    refusal = PlainTextResponse("Unauthorized", status_code=401)
                else:
                    decision = await self.authorize(caller, scope.get("method", "GET"), scope["path"])
                    if not decision.allowed:
                        refusal = PlainTextResponse(decision.message or "Forbidden", status_code=403)
            except errors.MiniK8sError as e:
                log.warning("delegated authentication/authorization failed: %s", e)
                refusal = PlainTextResponse("Forbidden: the apiserver could not be asked", status_code=403)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await WebSocket(scope, receive, send).send_denial_response(refusal)
        else:
            await refusal(scope, receive, send)
