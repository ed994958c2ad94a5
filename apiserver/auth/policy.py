"""The apiserver's authorization state, in one place: the RBAC policy index and the Node graph
(both following the watch cache), the RBAC and Node authorizers built on them, the REST write
hooks that guard RBAC objects (escalation prevention) and node writes (NodeRestriction), and
the review endpoints (SubjectAccessReview & co.).

``ApiServer`` makes one :class:`Authorization`, calls :meth:`attach` once its watch cache has
listed, and registers the write hooks and review handlers; ``--authorization-mode`` finds the
authorizers here (``RBAC``, ``Node``).
"""

from __future__ import annotations

from typing import Any

from minik8s.api.resources import ResourceType

from apiserver.auth import authorize, escalation, node, rbac, reviews
from apiserver.auth import user as u
from apiserver.auth.attributes import Attributes, Authorizer, Decision, Verdict


class _Chain:
    """What the reviews ask when the app has no authorizer chain of its own (in-process use):
    system:masters, then Node, then RBAC — the default ``--authorization-mode``."""

    def __init__(self, *authorizers: Authorizer) -> None:
        self.authorizers = authorizers

    def authorize(self, attrs: Attributes) -> Verdict:
        if u.MASTERS in attrs.user.groups:
            return Verdict(Decision.ALLOW)
        reasons = []
        for a in self.authorizers:
            v = a.authorize(attrs)
            if v.decision is not Decision.NO_OPINION:
                return v
            if v.reason:
                reasons.append(v.reason)
        return Verdict(Decision.NO_OPINION, ", ".join(reasons))


class Authorization:
    def __init__(self) -> None:
        self.index = rbac.PolicyIndex()
        self.graph = node.NodeGraph()
        self.rbac = rbac.RBACAuthorizer(self.index)
        self.node = node.NodeAuthorizer(self.graph)
        self.default_chain = _Chain(self.node, self.rbac)
        self.reviews = reviews.Reviews(self.index, self.default_chain, list(self.node.rules))

    def attach(self, cache: Any) -> None:
        """Follow ``cache`` (a started WatchCache)."""
        self.index.attach(cache)
        self.graph.attach(cache)

    #: writes checked against the writer's own permissions (escalation prevention)
    guarded = frozenset(escalation.GUARDED)

    def write_hooks(self) -> dict[ResourceType, Any]:
        return {**escalation.write_hooks(self.index, self.rbac), **node.write_hooks()}


# ``--authorization-mode=Node,RBAC``: the authorizers of the apiserver's own Authorization.
authorize.register_mode("Node", lambda server: server.authz.node)
authorize.register_mode("RBAC", lambda server: server.authz.rbac)
