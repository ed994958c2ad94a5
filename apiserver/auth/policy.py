"""The apiserver's authorization state, in one place: the RBAC policy index and the Node graph
(both following the watch cache), the RBAC and Node authorizers built on them, the REST write
hooks that guard RBAC objects (escalation prevention) and node writes (NodeRestriction), and
the review endpoints (SubjectAccessReview & co.).

``ApiServer`` makes one :class:`Authorization`, calls :meth:`attach` once its watch cache has
listed, and registers the write hooks and review handlers. Importing this module registers the
``--authorization-mode`` modes ``Node`` and ``RBAC`` (the default is ``Node,RBAC``).
"""

from __future__ import annotations

from typing import Any

from apiserver.auth import authorize, escalation, node, rbac, reviews
from minik8s.api.resources import ResourceType


class Authorization:
    def __init__(self) -> None:
        self.index = rbac.PolicyIndex()
        self.graph = node.NodeGraph()
        self.rbac = rbac.RBACAuthorizer(self.index)
        self.node = node.NodeAuthorizer(self.graph)
        # what the reviews ask when the app was built without --authorization-mode's chain
        # (in-process use): the default chain
        self.default_chain = authorize.Chain([authorize.PrivilegedGroup(), authorize.PublicPaths(), self.node,
                                              self.rbac])
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
