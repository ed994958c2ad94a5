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
30 seconds, per (user, groups, verb, subresource).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from minik8s.api.resources import SUBJECTACCESSREVIEWS

__all__ = ["Caller", "Decision", "SubjectAccessReviewAuthorizer", "attributes"]

_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_SUBPATHS = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"), ("/spec", "spec"))
ALLOWED_TTL = 300.0
DENIED_TTL = 30.0


@dataclasses.dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller of the node API."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    message: str = ""  # the refusal's text (a 403's body)


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
    def __init__(self, client: Any, node_name: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        """``client``: an ApiClient with the node's credentials (``system:node`` may create
        SubjectAccessReviews). ``clock`` is for tests."""
        self.client = client
        self.node_name = node_name
        self.clock = clock
        self._cache: dict[tuple[Any, ...], tuple[float, Decision]] = {}

    async def authorize(self, caller: Caller, method: str, path: str) -> Decision:
        verb, sub = attributes(method, path)
        key = (caller, verb, sub)
        now = self.clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        spec: dict[str, Any] = {"user": caller.name, "groups": list(caller.groups),
                                "resourceAttributes": {"verb": verb, "resource": "nodes", "subresource": sub,
                                                       "name": self.node_name, "version": "v1", "group": ""}}
        if caller.uid:
            spec["uid"] = caller.uid
        if caller.extra:
            spec["extra"] = {k: list(v) for k, v in caller.extra}
        review = await self.client.create(SUBJECTACCESSREVIEWS, {
            "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})
        status = review.get("status") or {}
        if status.get("allowed"):
            decision = Decision(True)
        else:
            decision = Decision(False, f"Forbidden (user={caller.name}, verb={verb}, resource=nodes, "
                                       f"subresource={sub})")
        self._cache[key] = (now + (ALLOWED_TTL if decision.allowed else DENIED_TTL), decision)
        if len(self._cache) > 10_000:  # bounded: drop what has expired
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        return decision
