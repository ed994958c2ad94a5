"""Root CA certificate publisher: the ``kube-root-ca.crt`` ConfigMap in every active namespace,
holding the CA bundle that verifies the apiserver (``ca.crt``), as Kubernetes'
``pkg/controller/certificates/rootcacertpublisher/publisher.go`` keeps it.

Pods read it through the projected token volume the ServiceAccount admission adds
(``/var/run/secrets/kubernetes.io/serviceaccount/ca.crt``). The key is a namespace name; a new
or updated namespace, and any change to (or deletion of) a ConfigMap of that name, enqueue it.
``sync`` creates the ConfigMap, or puts back its data and description annotation when they
differ from the controller's CA (a user edit is undone, as Kubernetes does).

The CA comes from ``--root-ca-file``, else from the controller-manager's kubeconfig
(``certificate-authority`` / ``certificate-authority-data``), as kube-controller-manager
takes it; without either the controller is not started.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from controllers.base import Controller, tombstone_safe
from controllers.serviceaccounts import namespace_active
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import CONFIGMAPS, NAMESPACES
from minik8s.api.wellknown.serviceaccounts import ROOT_CA_CONFIGMAP, ROOT_CA_KEY
from minik8s.client import kubeconfig
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
               "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
               "distributions of Kubernetes clusters.")


def kubeconfig_ca(path: str | None) -> str | None:
    """The CA bundle (PEM) of a kubeconfig's current context's cluster, None when it has none.
    The file is read as the controller-manager's client reads it (:mod:`minik8s.client.kubeconfig`:
    a plain block-style file without PyYAML, ~1.4 MiB of the process otherwise)."""
    if not path or not os.path.exists(path):
        return None
    access = kubeconfig.load(path).resolve()
    if access.ca_data:
        return access.ca_data.decode()
    if access.ca_file:
        with open(access.ca_file) as f:
            return f.read()
    return None


class RootCACertPublisher(Controller):
    name = "root-ca-cert-publisher"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, root_ca: str, **kwargs: Any) -> None:
        """``root_ca``: the PEM bundle to publish; ``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.root_ca = root_ca
        self.ns_informer = informers.informer(NAMESPACES)
        self.cm_informer = informers.informer(CONFIGMAPS)
        self.informers = [self.ns_informer, self.cm_informer]
        self.ns_informer.add_handler(on_add=self.enqueue, on_update=lambda old, cur: self.enqueue(cur))
        self.cm_informer.add_handler(on_update=lambda old, cur: self._on_configmap(cur),
                                     on_delete=self._on_configmap)

    def _on_configmap(self, obj: dict[str, Any] | None) -> None:
        obj = tombstone_safe(obj)
        cm = typed.config_map(obj) if obj is not None else None
        if cm is not None and cm["metadata"].get("name") == ROOT_CA_CONFIGMAP:
            self.enqueue_key(cm["metadata"]["namespace"])

    def desired(self) -> tuple[dict[str, str], str]:
        return {ROOT_CA_KEY: self.root_ca}, DESCRIPTION

    async def sync(self, key: str) -> None:
        if not namespace_active(self.ns_informer.store.get(key)):
            return
        cached = self.cm_informer.store.get(f"{key}/{ROOT_CA_CONFIGMAP}")
        data = {ROOT_CA_KEY: self.root_ca}
        if cached is None:
            try:
                await self.client.create(CONFIGMAPS, {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": ROOT_CA_CONFIGMAP, "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                    "data": data}, namespace=key)
            except (errors.AlreadyExists, errors.Forbidden):
                return  # the cache was behind; or the namespace began terminating
            log.info("root-ca-cert-publisher: published %s/%s", key, ROOT_CA_CONFIGMAP)
            return
        cm = typed.config_map(cached)
        annotations = cm["metadata"].get("annotations") or {}
        if cm.get("data") == data and not cm.get("binaryData") and annotations.get(DESCRIPTION_ANNOTATION) == DESCRIPTION:
            return
        new = {**cached, "data": data, "metadata": {**cached["metadata"],
                                                    "annotations": {**annotations, DESCRIPTION_ANNOTATION: DESCRIPTION}}}
        new.pop("binaryData", None)
        try:
            await self.client.update(CONFIGMAPS, new)
        except errors.NotFound:
            return  # deleted meanwhile: the delete event brings us back
