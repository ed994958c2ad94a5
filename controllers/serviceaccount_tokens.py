"""Tokens controller: fills legacy ServiceAccount token Secrets, as Kubernetes'
``pkg/controller/serviceaccount/tokens_controller.go`` does.

A Secret of type ``kubernetes.io/service-account-token`` whose annotation
``kubernetes.io/service-account.name`` names a ServiceAccount of its namespace gets
``data.token`` (a JWT signed with ``--service-account-private-key-file``, Kubernetes' legacy
claims: issuer ``kubernetes/serviceaccount``, no expiry, bound to the Secret and the account's
uid), ``data.ca.crt`` (``--root-ca-file``) and ``data.namespace``, and the annotation
``kubernetes.io/service-account.uid``. The apiserver accepts such a token only while the Secret
still holds it and the account still has that uid. A token Secret whose account is gone (or
has another uid) is deleted, as Kubernetes deletes it.

The key is the Secret's ``namespace/name``; ServiceAccount events enqueue the token Secrets
of their namespace that name them.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from controllers.base import Controller, tombstone_safe
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import SECRETS, SERVICEACCOUNTS
from minik8s.api.typed import ServiceAccount
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

TOKEN_TYPE = "kubernetes.io/service-account-token"
NAME_ANNOTATION = "kubernetes.io/service-account.name"
UID_ANNOTATION = "kubernetes.io/service-account.uid"
LEGACY_ISSUER = "kubernetes/serviceaccount"
_CLAIM = "kubernetes.io/serviceaccount/"


def legacy_claims(sa: ServiceAccount, secret_name: str) -> dict[str, Any]:
    """Kubernetes' LegacyClaims for a token of ``sa`` kept in Secret ``secret_name``."""
    md = sa["metadata"]
    return {"iss": LEGACY_ISSUER, "sub": f"system:serviceaccount:{md['namespace']}:{md['name']}",
            _CLAIM + "namespace": md["namespace"], _CLAIM + "secret.name": secret_name,
            _CLAIM + "service-account.name": md["name"], _CLAIM + "service-account.uid": md["uid"]}


class TokensController(Controller):
    name = "serviceaccount-token"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, private_key: Any, key_id: str,
                 root_ca: bytes | None = None, **kwargs: Any) -> None:
        """``private_key``: the ServiceAccount signing key (a cryptography RSA/EC key);
        ``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.key, self.kid = private_key, key_id
        self.algorithm = "RS256" if isinstance(private_key, rsa.RSAPrivateKey) else \
            {256: "ES256", 384: "ES384", 521: "ES512"}[private_key.curve.key_size]
        self.root_ca = root_ca
        self.secret_informer = informers.informer(SECRETS)
        self.sa_informer = informers.informer(SERVICEACCOUNTS)
        self.informers = [self.secret_informer, self.sa_informer]
        self.secret_informer.add_handler(on_add=self._on_secret, on_update=lambda old, cur: self._on_secret(cur))
        self.sa_informer.add_handler(on_add=self._on_sa, on_update=lambda old, cur: self._on_sa(cur),
                                     on_delete=self._on_sa)

    def _on_secret(self, secret: dict[str, Any]) -> None:
        if secret.get("type") == TOKEN_TYPE:
            self.enqueue(secret)

    def _on_sa(self, obj: dict[str, Any] | None) -> None:
        obj = tombstone_safe(obj)
        if obj is None:
            return
        sa = typed.service_account(obj)
        ns, name = sa["metadata"]["namespace"], sa["metadata"]["name"]
        for s in self.secret_informer.store.list():
            md = typed.secret(s)["metadata"]
            if md.get("namespace") == ns and s.get("type") == TOKEN_TYPE \
                    and (md.get("annotations") or {}).get(NAME_ANNOTATION) == name:
                self.enqueue(s)

    async def sync(self, key: str) -> None:
        cached = self.secret_informer.store.get(key)
        if cached is None:
            return
        secret = typed.secret(cached)
        if secret.get("type") != TOKEN_TYPE or secret["metadata"].get("deletionTimestamp"):
            return
        md = secret["metadata"]
        ann = md.get("annotations") or {}
        ns = md["namespace"]
        cached_sa = self.sa_informer.store.get(f"{ns}/{ann.get(NAME_ANNOTATION, '')}")
        sa = typed.service_account(cached_sa) if cached_sa is not None else None
        if sa is None or (ann.get(UID_ANNOTATION) and ann[UID_ANNOTATION] != sa["metadata"]["uid"]):
            # the account is gone (or was replaced): its tokens go with it; read the account
            # from the API first so a lagging cache never deletes a good Secret
            live: ServiceAccount | None
            try:
                live = typed.service_account(
                    await self.client.get(SERVICEACCOUNTS, ann.get(NAME_ANNOTATION, ""), namespace=ns))
            except errors.NotFound:
                live = None
            if live is None or (ann.get(UID_ANNOTATION) and ann[UID_ANNOTATION] != live["metadata"]["uid"]):
                try:
                    await self.client.delete(SECRETS, md["name"], namespace=ns)
                    log.info("serviceaccount-token: deleted %s (its ServiceAccount is gone)", key)
                except errors.NotFound:
                    pass
                return
            sa = live
        data = dict(secret.get("data") or {})
        want = {"namespace": base64.b64encode(ns.encode()).decode()}
        if self.root_ca:
            want["ca.crt"] = base64.b64encode(self.root_ca).decode()
        if not data.get("token"):
            token = jwt.encode(legacy_claims(sa, md["name"]), self.key, algorithm=self.algorithm,
                               headers={"kid": self.kid})
            want["token"] = base64.b64encode(token.encode()).decode()
        if all(data.get(k) == v for k, v in want.items()) and ann.get(UID_ANNOTATION) == sa["metadata"]["uid"]:
            return
        updated = {**cached, "metadata": {**md, "annotations": {**ann, UID_ANNOTATION: sa["metadata"]["uid"]}},
                   "data": {**data, **want}}
        try:
            await self.client.update(SECRETS, updated)
        except errors.NotFound:
            return
        log.info("serviceaccount-token: filled %s for ServiceAccount %s", key, sa["metadata"]["name"])
