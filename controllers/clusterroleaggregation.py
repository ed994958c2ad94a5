"""ClusterRole aggregation: a ClusterRole with an ``aggregationRule`` holds the union of the rules
of every ClusterRole its selectors match (Kubernetes' ``pkg/controller/clusterroleaggregation``).

That is how ``admin``, ``edit`` and ``view`` get their rules (from the ``system:aggregate-to-*``
roles and each other, through the ``rbac.authorization.k8s.io/aggregate-to-*`` labels), and
how a user extends them: label a ClusterRole ``aggregate-to-view: "true"`` and every ``view``
binding grants its rules.

Any ClusterRole change may change what some aggregated role selects, so the handler enqueues
every ClusterRole that has an ``aggregationRule`` (there are few). ``sync`` gathers the rules of
the matching roles (itself excluded), in name order, without duplicates, and writes them with
an update only when they differ. The controller needs ``escalate`` on clusterroles (the
``system:controller:clusterrole-aggregation-controller`` role), since it grants what it copies.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from controllers.base import Controller, tombstone_safe
from minik8s import errors, labels
from minik8s.api import typed
from minik8s.api.resources import CLUSTERROLES
from minik8s.api.typed import ClusterRole, PolicyRule
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)


def aggregated_rules(role: ClusterRole, all_roles: Iterable[ClusterRole]) -> list[PolicyRule]:
    """The rules ``role``'s aggregationRule selects (pure: the sync's whole decision)."""
    selectors = []
    for sel in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        try:
            selectors.append(labels.from_label_selector(sel))
        except ValueError:
            continue  # validation refuses these; an old stored one selects nothing
    name = role["metadata"]["name"]
    rules: list[PolicyRule] = []
    for other in sorted(all_roles, key=lambda r: r["metadata"]["name"]):
        if other["metadata"]["name"] == name:
            continue
        other_labels = other["metadata"].get("labels") or {}
        if not any(s.matches(other_labels) for s in selectors):
            continue
        for r in other.get("rules") or []:
            if r not in rules:
                rules.append(r)
    return rules


class ClusterRoleAggregationController(Controller):
    name = "clusterrole-aggregation"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.roles = informers.informer(CLUSTERROLES)
        self.informers = [self.roles]
        self.roles.add_handler(on_add=self._changed, on_update=lambda old, cur: self._changed(cur),
                               on_delete=lambda obj: self._changed(tombstone_safe(obj)))

    def _changed(self, _obj: dict[str, Any] | None) -> None:
        for role in self.roles.store.list():
            if role.get("aggregationRule"):
                self.enqueue(role)

    async def sync(self, key: str) -> None:
        cached = self.roles.store.get(key)
        if cached is None:
            return
        role = typed.cluster_role(cached)
        if not role.get("aggregationRule"):
            return
        want = aggregated_rules(role, map(typed.cluster_role, self.roles.store.list()))
        if (role.get("rules") or []) == want:
            return
        new = {**cached, "rules": want}  # the cached object stays untouched
        try:
            await self.client.update(CLUSTERROLES, new)
        except errors.NotFound:
            return
