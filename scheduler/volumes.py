"""What the scheduler knows of storage: claims, volumes and classes, and the PreBind step that
hands a claim waiting for its first consumer the node the scheduler chose.

:class:`VolumeListers` keeps informers on PersistentVolumeClaims, PersistentVolumes and
StorageClasses (the scheduler's shared factory) for the VolumeBinding filter plugin, indexes the
scheduler's pods by the claims they name (ReadWriteOncePod: one pod per claim), and calls
``on_change`` when any of them changes, so pods that failed on volumes are tried again.

:meth:`VolumeListers.pre_bind` is Kubernetes' VolumeBinding PreBind for what minik8s binds:
every unbound claim of the pod whose class is ``WaitForFirstConsumer`` is annotated
``volume.kubernetes.io/selected-node: <node>`` (the binder and the provisioner act on it), and
the pod is bound only once all its claims are Bound (or :class:`PreBindError` after
``timeout`` seconds: the pod goes back to the queue).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from minik8s import errors, volumebinding
from minik8s.api import typed
from minik8s.api.resources import PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, STORAGECLASSES
from minik8s.api.wellknown import storage as storage_api
from minik8s.api.wellknown import volumes as v
from minik8s.client.informer import Informer, SharedInformerFactory
from minik8s.client.rest import ApiClient

__all__ = ["PreBindError", "VolumeListers", "claim_names"]

log = logging.getLogger(__name__)

DEFAULT_BIND_TIMEOUT = 120.0


class PreBindError(errors.MiniK8sError):
    """Raised when a pod's claims could not be made ready for it on its node."""


def claim_names(pod: typed.Pod) -> list[str]:
    """The claims a pod's volumes name, in order, each once."""
    out: list[str] = []
    for vol in (pod.get("spec") or {}).get("volumes") or ():
        src = vol.get("persistentVolumeClaim")
        if src and src.get("claimName") and src["claimName"] not in out:
            out.append(src["claimName"])
    return out


def _bound(pvc: typed.PersistentVolumeClaim | None) -> bool:
    return pvc is not None and bool(pvc) and bool((pvc.get("spec") or {}).get("volumeName")) and \
        (pvc.get("status") or {}).get("phase") == v.CLAIM_BOUND


_CLAIMS_INDEX = "claims"


def _claims_index(pod: dict[str, Any]) -> list[str]:
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    return [f"{ns}/{name}" for name in claim_names(typed.pod(pod))]


class VolumeListers:
    def __init__(self, factory: SharedInformerFactory, *, pods: Informer | None = None,
                 on_change: Callable[[], object] | None = None, bind_timeout: float = DEFAULT_BIND_TIMEOUT) -> None:
        """``pods``: the scheduler's informer of unfinished pods, indexed here by the claims
        they name (for ReadWriteOncePod)."""
        self.pods = pods
        if pods is not None:
            pods.add_indexers({_CLAIMS_INDEX: _claims_index})
        self.claims = factory.informer(PERSISTENTVOLUMECLAIMS)
        self.volumes = factory.informer(PERSISTENTVOLUMES)
        self.classes = factory.informer(STORAGECLASSES)
        self.on_change = on_change
        self.bind_timeout = bind_timeout
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        for inf in (self.volumes, self.classes):
            inf.add_handler(on_add=self._changed, on_update=lambda old, cur: self._changed(cur), on_delete=self._changed)
        self.claims.add_handler(on_add=self._claim, on_update=lambda old, cur: self._claim(cur),
                                on_delete=self._changed)

    def claim(self, namespace: str, name: str) -> typed.PersistentVolumeClaim | None:
        pvc = self.claims.store.get(f"{namespace}/{name}")
        return None if pvc is None else typed.persistent_volume_claim(pvc)

    def volume(self, name: str) -> typed.PersistentVolume | None:
        pv = self.volumes.store.get(name)
        return None if pv is None else typed.persistent_volume(pv)

    def storage_class(self, name: str) -> typed.StorageClass | None:
        sc = self.classes.store.get(name) if name else None
        return None if sc is None else typed.storage_class(sc)

    def pods_using(self, namespace: str, claim: str) -> list[typed.Pod]:
        """The scheduled, unfinished pods that name the claim."""
        if self.pods is None:
            return []
        return [typed.pod(p) for p in self.pods.store.by_index(_CLAIMS_INDEX, f"{namespace}/{claim}")
                if (p.get("spec") or {}).get("nodeName")]

    def all_volumes(self) -> list[dict[str, Any]]:
        return self.volumes.store.list()

    def waits_for_first_consumer(self, pvc: typed.PersistentVolumeClaim) -> bool:
        sc = self.storage_class(volumebinding.storage_class(pvc))
        return sc is not None and sc.get("volumeBindingMode") == storage_api.BINDING_WAIT_FOR_FIRST_CONSUMER

    def _changed(self, obj: dict[str, Any] | None) -> None:
        if self.on_change is not None:
            self.on_change()

    def _claim(self, obj: dict[str, Any]) -> None:
        pvc = typed.persistent_volume_claim(obj)
        if _bound(pvc):
            md = pvc["metadata"]
            for fut in self._waiters.pop(f"{md.get('namespace')}/{md.get('name')}", ()):
                if not fut.done():
                    fut.set_result(None)
        self._changed(obj)

    async def pre_bind(self, client: ApiClient, pod: typed.Pod, node: str) -> None:
        """Name ``node`` on the pod's delayed claims and wait until every claim is Bound."""
        ns = (pod.get("metadata") or {}).get("namespace") or "default"
        pending: list[str] = []
        for name in claim_names(pod):
            pvc = self.claim(ns, name)
            if pvc is None:
                raise PreBindError(f'persistentvolumeclaim "{name}" not found')
            if _bound(pvc):
                continue
            pending.append(name)
            ann = pvc["metadata"].get("annotations") or {}
            if self.waits_for_first_consumer(pvc) and ann.get(v.ANN_SELECTED_NODE) != node:
                try:
                    await client.patch(PERSISTENTVOLUMECLAIMS, name, {"metadata": {"annotations": {
                        v.ANN_SELECTED_NODE: node}}}, namespace=ns)
                except errors.ApiError as e:
                    raise PreBindError(f"binding volumes: {e}") from None
        if pending:
            await self._wait_bound(ns, pending)

    async def _wait_bound(self, ns: str, names: list[str]) -> None:
        loop = asyncio.get_running_loop()
        futures = []
        for name in names:
            if _bound(self.claim(ns, name)):
                continue
            fut = loop.create_future()
            self._waiters.setdefault(f"{ns}/{name}", []).append(fut)
            futures.append(fut)
        if not futures:
            return
        try:
            await asyncio.wait_for(asyncio.gather(*futures), self.bind_timeout)
        except TimeoutError:
            raise PreBindError("binding volumes: timed out waiting for the condition") from None
        finally:
            for name in names:
                left = [f for f in self._waiters.get(f"{ns}/{name}", ()) if not f.done()]
                if left:
                    self._waiters[f"{ns}/{name}"] = left
                else:
                    self._waiters.pop(f"{ns}/{name}", None)
