"""Bootstrap signer: signs the ``kube-public/cluster-info`` ConfigMap with every bootstrap token
usable for signing, as Kubernetes' ``pkg/controller/bootstrap/bootstrapsigner.go`` does, so a
joining node can check that the cluster it reached knows its token before trusting the CA in
it (``minik8s join``, as ``kubeadm join``'s token discovery).

For each token Secret (``kube-system``, type ``bootstrap.kubernetes.io/token``) that is not
expired and has ``usage-bootstrap-signing: "true"``, the ConfigMap gets
``jws-kubeconfig-<token-id>``: a detached JWS (``header..signature``, HS256, ``kid`` the
token id, keyed by the whole token ``<id>.<secret>``) over its ``kubeconfig``. Signatures of
tokens that are gone are removed. The key is always the ConfigMap's namespace/name.
"""

from __future__ import annotations

import base64
import datetime
import logging
from collections.abc import Iterable
from typing import Any

from controllers.base import Controller
from minik8s import errors, timestamps
from minik8s.api import bootstraptoken as bt
from minik8s.api import typed
from minik8s.api.resources import CONFIGMAPS, SECRETS
from minik8s.api.typed import Secret
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

CLUSTER_INFO_KEY = "kube-public/cluster-info"
JWS_PREFIX = "jws-kubeconfig-"


def _data(secret: Secret, key: str) -> str:
    raw = (secret.get("data") or {}).get(key)
    return base64.b64decode(raw).decode() if raw else ""


def signing_tokens(secrets: Iterable[Secret], now: datetime.datetime) -> dict[str, str]:
    """token id → secret of the tokens usable for signing right now."""
    out: dict[str, str] = {}
    for s in secrets:
        if s.get("type") != bt.SECRET_TYPE or s["metadata"].get("deletionTimestamp"):
            continue
        token_id, token_secret = _data(s, "token-id"), _data(s, "token-secret")
        if not token_id or not token_secret or _data(s, "usage-bootstrap-signing") != "true":
            continue
        exp = _data(s, "expiration")
        if exp:
            expires = timestamps.parse(exp)
            if expires is None or expires < now:
                continue
        out[token_id] = token_secret
    return out


class BootstrapSigner(Controller):
    name = "bootstrapsigner"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.cm_informer = informers.informer(CONFIGMAPS, namespace="kube-public")
        self.secret_informer = informers.informer(SECRETS, namespace=bt.NAMESPACE)
        self.informers = [self.cm_informer, self.secret_informer]
        wake = lambda *objs: self.enqueue_key(CLUSTER_INFO_KEY)  # noqa: E731 - every event means one key
        self.cm_informer.add_handler(on_add=wake, on_update=wake)
        self.secret_informer.add_handler(on_add=wake, on_update=wake, on_delete=wake)

    async def sync(self, key: str) -> None:
        cached = self.cm_informer.store.get(key)
        if cached is None:
            return
        data = dict(typed.config_map(cached).get("data") or {})
        content = data.get("kubeconfig")
        if content is None:
            return
        now = datetime.datetime.now(datetime.UTC)
        tokens = signing_tokens(map(typed.secret, self.secret_informer.store.list()), now)
        want = {k: v for k, v in data.items() if not k.startswith(JWS_PREFIX)}
        for token_id, token_secret in tokens.items():
            want[JWS_PREFIX + token_id] = bt.detached_signature(content, token_id, token_secret)
        if want == data:
            return
        try:
            await self.client.update(CONFIGMAPS, {**cached, "data": want})
        except errors.NotFound:
            return
        log.info("bootstrapsigner: %s signed for %d token(s)", key, len(tokens))
