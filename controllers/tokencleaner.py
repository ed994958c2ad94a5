"""Token cleaner: deletes expired bootstrap token Secrets, as Kubernetes'
``pkg/controller/bootstrap/tokencleaner.go`` does (kube-system, type
``bootstrap.kubernetes.io/token``, ``expiration`` in the past). A token not yet expired is
looked at again when it will be."""

from __future__ import annotations

import base64
import datetime
import logging
from typing import Any

from controllers.base import Controller
from minik8s import errors, timestamps
from minik8s.api import bootstraptoken as bt
from minik8s.api import typed
from minik8s.api.resources import SECRETS
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)


class TokenCleaner(Controller):
    name = "tokencleaner"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.secret_informer = informers.informer(SECRETS, namespace=bt.NAMESPACE)
        self.informers = [self.secret_informer]
        self.secret_informer.add_handler(on_add=self._on_secret, on_update=lambda old, cur: self._on_secret(cur))

    def _on_secret(self, secret: dict[str, Any]) -> None:
        if secret.get("type") == bt.SECRET_TYPE:
            self.enqueue(secret)

    async def sync(self, key: str) -> None:
        cached = self.secret_informer.store.get(key)
        if cached is None:
            return
        secret = typed.secret(cached)
        if secret.get("type") != bt.SECRET_TYPE:
            return
        raw = (secret.get("data") or {}).get("expiration")
        if not raw:
            return
        try:
            exp = timestamps.parse(base64.b64decode(raw).decode())
        except ValueError:  # not base64, or not text
            return
        if exp is None:
            return
        left = (exp - datetime.datetime.now(datetime.UTC)).total_seconds()
        if left > 0:
            self.enqueue_after(cached, left)
            return
        log.info("tokencleaner: deleting expired bootstrap token %s", key)
        try:
            await self.client.delete(SECRETS, secret["metadata"]["name"], namespace=bt.NAMESPACE,
                                     preconditions={"uid": secret["metadata"]["uid"]})
        except (errors.NotFound, errors.Conflict):
            return  # gone already, or replaced by a new Secret of that name
