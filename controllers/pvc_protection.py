"""PVC protection: a claim being deleted stays until no pod uses it (Kubernetes'
``pkg/controller/volume/pvcprotection``).

Every claim is created with the ``kubernetes.io/pvc-protection`` finalizer (the apiserver
adds it). When a claim has a deletionTimestamp and the finalizer, this controller removes the
finalizer once no pod uses the claim: a pod uses it when it is on a node, not finished
(Succeeded or Failed), and names the claim in a ``persistentVolumeClaim`` volume. The pod
cache answering "unused" is confirmed with a live list first, as Kubernetes does, so a pod
created a moment ago is not missed. Pod changes requeue the claims they name.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from controllers.base import Controller, tombstone_safe
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import PERSISTENTVOLUMECLAIMS, PODS, split_key
from minik8s.api.typed import Pod
from minik8s.api.wellknown import volumes as v
from minik8s.client.cache import namespace_index
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)


def claims_of(pod: Pod) -> list[str]:
    """The claim names a pod's volumes refer to."""
    return [vol["persistentVolumeClaim"].get("claimName", "")
            for vol in (pod.get("spec") or {}).get("volumes") or [] if vol.get("persistentVolumeClaim")]


def pod_uses_claim(pod: Pod, claim: str) -> bool:
    """Whether ``pod`` holds ``claim``: scheduled, not finished, naming it in a volume."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return False  # the kubelet starts no pod whose claim is being deleted
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    return claim in claims_of(pod)


class PVCProtectionController(Controller):
    name = "pvc-protection"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.pvc_informer = informers.informer(PERSISTENTVOLUMECLAIMS)
        self.pod_informer = informers.informer(PODS, indexers={"namespace": namespace_index})
        self.informers = [self.pvc_informer, self.pod_informer]
        self.pvc_informer.add_handler(on_add=self._claim, on_update=lambda old, cur: self._claim(cur), on_delete=None)
        self.pod_informer.add_handler(on_add=self._pod, on_update=lambda old, cur: self._pod(cur),
                                      on_delete=self._pod)

    def _claim(self, obj: dict[str, Any]) -> None:
        md = typed.persistent_volume_claim(obj)["metadata"]
        if md.get("deletionTimestamp") and v.PVC_PROTECTION_FINALIZER in (md.get("finalizers") or ()):
            self.enqueue(obj)

    def _pod(self, obj: dict[str, Any] | None) -> None:
        obj = tombstone_safe(obj)
        if obj is None:
            return
        pod = typed.pod(obj)
        ns = pod["metadata"].get("namespace")
        for claim in claims_of(pod):
            self.enqueue_key(f"{ns}/{claim}")

    async def sync(self, key: str) -> None:
        cached = self.pvc_informer.store.get(key)
        if cached is None:
            return
        md = typed.persistent_volume_claim(cached)["metadata"]
        if not md.get("deletionTimestamp") or v.PVC_PROTECTION_FINALIZER not in (md.get("finalizers") or ()):
            return
        ns, name = split_key(key)
        if any(pod_uses_claim(typed.pod(p), name) for p in self.pod_informer.store.by_index("namespace", ns or "")):
            return  # a pod's change requeues the claim
        live = await self.client.list(PODS, namespace=ns)
        if any(pod_uses_claim(typed.pod(p), name) for p in live.get("items") or []):
            return
        updated = copy.deepcopy(cached)
        updated.setdefault("kind", "PersistentVolumeClaim")
        updated.setdefault("apiVersion", "v1")
        updated["metadata"]["finalizers"] = [f for f in md.get("finalizers") or () if f != v.PVC_PROTECTION_FINALIZER]
        try:
            await self.client.update(PERSISTENTVOLUMECLAIMS, updated)
        except errors.NotFound:
            return
        log.info("removed %s from claim %s: no pod uses it", v.PVC_PROTECTION_FINALIZER, key)
