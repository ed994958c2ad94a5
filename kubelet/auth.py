"""Who may use the node API: the kubelet's authentication and authorization filter.

As Kubernetes' kubelet with ``--anonymous-auth=false`` and ``--client-ca-file``: every request
and WebSocket handshake must present a client certificate signed by the cluster CA (the
apiserver presents its ``kube-apiserver-kubelet-client`` one) or, with
``--authentication-token-webhook``, a bearer token the apiserver's TokenReview accepts (a
ServiceAccount's: a Prometheus scraping ``/metrics``); anything else is answered
``401 Unauthorized`` before a handler runs. The certificate's subject (CN = user, O = groups,
:mod:`minik8s.tlspeer`) then goes to the authorizer of ``--authorization-mode``:
``AlwaysAllow`` (the kubelet's default) lets every authenticated caller in; ``Webhook`` asks
the apiserver with a SubjectAccessReview for ``nodes/proxy``, ``nodes/log``, ``nodes/stats`` ...
(:mod:`kubelet.authz`); a refusal is 403 with Kubernetes' text.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket

from kubelet import authz
from minik8s import delegated_auth, errors
from minik8s.client.rest import ApiClient
from minik8s.tlspeer import PEER_KEY, Subject

__all__ = ["AuthFilter", "MODES", "always_allow", "webhook"]

log = logging.getLogger(__name__)

#: ``authorize(subject, method, path) -> (allowed, refusal text)``.
Authorize = Callable[[Subject, str, str], Awaitable[tuple[bool, str]]]


async def always_allow(subject: Subject, method: str, path: str) -> tuple[bool, str]:
    return True, ""


class NodeConfig(Protocol):
    """What an authorization mode reads of the kubelet's configuration (a KubeletConfig)."""

    @property
    def node_name(self) -> str: ...


def webhook(cfg: NodeConfig, client: ApiClient) -> Authorize:
    """``--authorization-mode=Webhook``: a SubjectAccessReview per (caller, verb, subresource),
    cached (:class:`kubelet.authz.SubjectAccessReviewAuthorizer`)."""
    reviewer = authz.SubjectAccessReviewAuthorizer(client, cfg.node_name)

    async def authorize(subject: Subject, method: str, path: str) -> tuple[bool, str]:
        caller = authz.Caller(subject[0], (*subject[1], "system:authenticated"))
        try:
            decision = await reviewer.authorize(caller, method, path)
        except errors.MiniK8sError as e:
            log.warning("SubjectAccessReview for %s failed: %s", subject[0], e)
            verb, sub = authz.attributes(method, path)
            return False, (f"Forbidden (user={subject[0]}, verb={verb}, resource=nodes, subresource={sub}): "
                           f"the apiserver could not be asked")
        return decision.allowed, decision.message

    return authorize


#: Mode name -> factory(config, api_client) making its authorize function.
MODES: dict[str, Callable[[NodeConfig, ApiClient], Authorize]] = {"AlwaysAllow": lambda cfg, client: always_allow,
                                                     "Webhook": webhook}


class AuthFilter:
    """ASGI: refuse requests without a verified client certificate (or, with ``tokens``, a
    bearer token the apiserver's TokenReview accepts) with 401, or that the authorizer denies
    (403), then call ``app``."""

    def __init__(self, app: Any, authorize: Authorize = always_allow, *,
                 tokens: delegated_auth.TokenReviewer | None = None) -> None:
        self.app = app
        self.authorize = authorize
        self.tokens = tokens

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        subject = (scope.get("state") or {}).get(PEER_KEY)
        if subject is None and self.tokens is not None:
            subject = await self._token_subject(scope)
        refusal = None
        if subject is None:
            refusal = PlainTextResponse("Unauthorized", status_code=401)
        else:
            allowed, text = await self.authorize(subject, scope.get("method", "GET"), scope["path"])
            if not allowed:
                refusal = PlainTextResponse(text or f"Forbidden (user={subject[0]}, path={scope['path']})",
                                            status_code=403)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await WebSocket(scope, receive, send).send_denial_response(refusal)
        else:
            await refusal(scope, receive, send)

    async def _token_subject(self, scope: dict[str, Any]) -> Subject | None:
        """``(user, groups)`` of the request's bearer token, as the apiserver reviews it."""
        assert self.tokens is not None
        for k, v in scope.get("headers", ()):
            if k == b"authorization":
                scheme, _, token = v.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and token.strip():
                    try:
                        caller = await self.tokens.authenticate(token.strip())
                    except errors.MiniK8sError as e:
                        log.warning("TokenReview failed: %s", e)
                        return None
                    return (caller.name, tuple(g for g in caller.groups if g != "system:authenticated")) \
                        if caller is not None else None
        return None
