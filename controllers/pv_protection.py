"""PV protection: a volume being deleted stays while it is bound to a claim (Kubernetes'
``pkg/controller/volume/pvprotection``).

Every volume is created with the ``kubernetes.io/pv-protection`` finalizer (the apiserver
adds it). Once a volume has a deletionTimestamp, this controller removes the finalizer as soon
as the volume is not ``Bound``: a bound volume deleted by mistake keeps serving its claim until
the claim lets go of it (it goes Released), and only then disappears.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from controllers.base import Controller
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import PERSISTENTVOLUMES
from minik8s.api.wellknown import volumes as v
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)


class PVProtectionController(Controller):
    name = "pv-protection"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.pv_informer = informers.informer(PERSISTENTVOLUMES)
        self.informers = [self.pv_informer]
        self.pv_informer.add_handler(on_add=self._volume, on_update=lambda old, cur: self._volume(cur), on_delete=None)

    def _volume(self, obj: dict[str, Any]) -> None:
        md = typed.persistent_volume(obj)["metadata"]
        if md.get("deletionTimestamp") and v.PV_PROTECTION_FINALIZER in (md.get("finalizers") or ()):
            self.enqueue(obj)

    async def sync(self, key: str) -> None:
        cached = self.pv_informer.store.get(key)
        if cached is None:
            return
        pv = typed.persistent_volume(cached)
        md = pv["metadata"]
        if not md.get("deletionTimestamp") or v.PV_PROTECTION_FINALIZER not in (md.get("finalizers") or ()):
            return
        if (pv.get("status") or {}).get("phase") == v.VOLUME_BOUND:
            return  # in use: the phase change requeues it
        updated = copy.deepcopy(cached)
        updated.setdefault("kind", "PersistentVolume")
        updated.setdefault("apiVersion", "v1")
        updated["metadata"]["finalizers"] = [f for f in md.get("finalizers") or () if f != v.PV_PROTECTION_FINALIZER]
        try:
            await self.client.update(PERSISTENTVOLUMES, updated)
        except errors.NotFound:
            return
        log.info("removed %s from volume %s: it is not bound", v.PV_PROTECTION_FINALIZER, key)
