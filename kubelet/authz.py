"""Who may use the node's HTTP API: each authenticated caller is checked with the apiserver
through a SubjectAccessReview, as the kubelet's ``--authorization-mode=Webhook`` does
(``pkg/kubelet/server/auth.go``).

A request to the node API is asked as a request on the Node object: ``nodes/<subresource>`` of
this node, verb from the HTTP method (GET get, POST create, PUT update, PATCH patch, DELETE
delete). The subresource subdivides the API: ``/stats/...`` is ``stats``, ``/metrics/...``
``metrics``, ``/logs/...`` ``log``, ``/spec/...`` ``spec``, and everything else (exec,
container logs, pods, port-forward) ``proxy`` — so ``system:kubelet-api-admin``, or a role
granting ``nodes/proxy``, opens the API. A refusal reads as Kubernetes writes it::

    Forbidden (user=bob, verb=get, resource=nodes, subresource=proxy)

Answers are cached as the webhook authorizer caches them: allowed for 5 minutes, denied for
30 seconds, per (user, groups, verb, subresource) (:mod:`minik8s.delegated_auth`, which the
scheduler's and controller-manager's secure ports share).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from minik8s import delegated_auth
from minik8s.client.rest import ApiClient

__all__ = ["Caller", "Decision", "SubjectAccessReviewAuthorizer", "attributes"]

_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_SUBPATHS = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"), ("/spec", "spec"))

#: An authenticated caller of the node API; the review's answer (shared with the scheduler's
#: and controller-manager's secure ports).
Caller = delegated_auth.Caller
Decision = delegated_auth.Decision


def _is_subpath(path: str, base: str) -> bool:
    return path == base or path.startswith(base + "/")


def attributes(method: str, path: str) -> tuple[str, str]:
    """(verb, subresource) of a node API request."""
    verb = _VERBS.get(method.upper(), method.lower())
    for base, sub in _SUBPATHS:
        if _is_subpath(path, base):
            return verb, sub
    return verb, "proxy"


class SubjectAccessReviewAuthorizer:
    def __init__(self, client: ApiClient, node_name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        """``client``: an ApiClient with the node's credentials (``system:node`` may create
        SubjectAccessReviews). ``clock`` is for tests."""
        self.node_name = node_name
        self.reviewer = delegated_auth.SubjectAccessReviewer(client, clock=clock)

    async def authorize(self, caller: Caller, method: str, path: str) -> Decision:
        verb, sub = attributes(method, path)
        attrs = {"verb": verb, "resource": "nodes", "subresource": sub, "name": self.node_name, "version": "v1",
                 "group": ""}
        if await self.reviewer.allowed(caller, attrs):
            return Decision(True)
        return Decision(False, f"Forbidden (user={caller.name}, verb={verb}, resource=nodes, subresource={sub})")
