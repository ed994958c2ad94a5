"""Who may use the node API: the kubelet's authentication and authorization filter.

As Kubernetes' kubelet with ``--anonymous-auth=false`` and ``--client-ca-file``: every request
and WebSocket handshake must present a client certificate signed by the cluster CA (the
apiserver presents its ``kube-apiserver-kubelet-client`` one); anything else is answered
``401 Unauthorized`` before a handler runs. The certificate's subject (CN = user, O = groups,
:mod:`minik8s.tlspeer`) then goes to the authorizer of ``--authorization-mode``:
``AlwaysAllow`` (the kubelet's default) lets every authenticated caller in; ``Webhook``
(:mod:`kubelet.webhook_authz`, which registers itself with :func:`register_mode`) asks the
apiserver with a SubjectAccessReview for ``nodes/proxy``, ``nodes/log``, ``nodes/stats`` ...
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket

from minik8s.tlspeer import PEER_KEY, Subject

__all__ = ["AuthFilter", "MODES", "always_allow", "register_mode"]

#: ``authorize(subject, method, path) -> (allowed, reason)``.
Authorize = Callable[[Subject, str, str], Awaitable[tuple[bool, str]]]


async def always_allow(subject: Subject, method: str, path: str) -> tuple[bool, str]:
    return True, ""


#: Mode name -> factory(config, api_client) making its authorize function.
MODES: dict[str, Callable[[Any, Any], Authorize]] = {"AlwaysAllow": lambda cfg, client: always_allow}


def register_mode(name: str, factory: Callable[[Any, Any], Authorize]) -> None:
    """Make ``--authorization-mode=<name>`` use ``factory(kubelet_config, api_client)``."""
    MODES[name] = factory


class AuthFilter:
    """ASGI: refuse requests without a verified client certificate (401) or that the
    authorizer denies (403), then call ``app``."""

    def __init__(self, app: Any, authorize: Authorize = always_allow) -> None:
        self.app = app
        self.authorize = authorize

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        subject = (scope.get("state") or {}).get(PEER_KEY)
        refusal = None
        if subject is None:
            refusal = PlainTextResponse("Unauthorized", status_code=401)
        else:
            allowed, reason = await self.authorize(subject, scope.get("method", "GET"), scope["path"])
            if not allowed:
                refusal = PlainTextResponse(
                    f"Forbidden (user={subject[0]}, path={scope['path']}){': ' + reason if reason else ''}",
                    status_code=403)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await WebSocket(scope, receive, send).send_denial_response(refusal)
        else:
            await refusal(scope, receive, send)
