"""ServiceAccounts controller: a ``default`` ServiceAccount in every active namespace, as
Kubernetes' ``pkg/controller/serviceaccount/serviceaccounts_controller.go`` keeps one.

The key is a namespace name. A new or updated namespace, and a deleted ServiceAccount named
``default``, enqueue their namespace; ``sync`` creates the account when the namespace is
active and the cache has none (AlreadyExists is success: the cache was behind). A namespace
being terminated gets nothing: the namespace controller is emptying it.
"""

from __future__ import annotations

import logging
from typing import Any

from controllers.base import Controller, tombstone_safe
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import NAMESPACES, SERVICEACCOUNTS
from minik8s.api.wellknown.serviceaccounts import DEFAULT_NAME
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

#: the accounts every namespace gets (Kubernetes' DefaultServiceAccountsControllerOptions)
ACCOUNTS = (DEFAULT_NAME,)


def namespace_active(obj: dict[str, Any] | None) -> bool:
    """Whether a namespace (as the cache holds it, or None) exists and is not being terminated."""
    if obj is None:
        return False
    ns = typed.namespace(obj)
    return not ns["metadata"].get("deletionTimestamp") and (ns.get("status") or {}).get("phase") != "Terminating"


class ServiceAccountsController(Controller):
    name = "serviceaccount"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.ns_informer = informers.informer(NAMESPACES)
        self.sa_informer = informers.informer(SERVICEACCOUNTS)
        self.informers = [self.ns_informer, self.sa_informer]
        self.ns_informer.add_handler(on_add=self.enqueue, on_update=lambda old, cur: self.enqueue(cur))
        self.sa_informer.add_handler(on_delete=self._on_sa_delete)

    def _on_sa_delete(self, obj: dict[str, Any] | None) -> None:
        obj = tombstone_safe(obj)
        sa = typed.service_account(obj) if obj is not None else None
        if sa is not None and sa["metadata"].get("name") in ACCOUNTS:
            self.enqueue_key(sa["metadata"]["namespace"])

    async def sync(self, key: str) -> None:
        if not namespace_active(self.ns_informer.store.get(key)):
            return
        for name in ACCOUNTS:
            if self.sa_informer.store.get(f"{key}/{name}") is not None:
                continue
            try:
                await self.client.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                           "metadata": {"name": name}}, namespace=key)
            except errors.AlreadyExists:
                continue
            except errors.Forbidden:  # the namespace began terminating meanwhile
                return
            log.info("serviceaccount: created %s/%s", key, name)
