"""The PersistentVolume binder: claims meet volumes, volumes follow their claims (Kubernetes'
``pkg/controller/volume/persistentvolume`` PersistentVolumeController).

One queue holds two kinds of key: ``pvc:<namespace>/<name>`` and ``pv:<name>``.

Claims (``sync_claim``):

* unbound: bind to the best matching volume (:func:`minik8s.volumebinding.find_best_volume`): the
  volume gets ``claimRef`` and phase Bound, then the claim gets ``volumeName``,
  ``pv.kubernetes.io/bind-completed`` and status Bound with the volume's modes and capacity.
  ``pv.kubernetes.io/bound-by-controller`` marks each side the binder filled in itself.
  With no volume: a class that waits for its first consumer waits (event
  ``WaitForFirstConsumer``) until the scheduler names a node
  (``volume.kubernetes.io/selected-node``); a class with a provisioner gets the claim annotated
  ``volume.kubernetes.io/storage-provisioner`` (event ``ExternalProvisioning``), and the
  provisioner takes over; with no class the claim stays Pending (event ``FailedBinding``).
* pre-bound by a person (``volumeName`` set): bound once that volume exists and fits
  (``VolumeMismatch`` when it does not).
* bound: stays Bound; Lost (event ``ClaimLost``) if its volume disappears, or if the volume
  names another claim (``ClaimMisbound``).

Volumes (``sync_volume``): Available with no claim; Bound while their claim is bound to them;
Released once the claim is gone, then reclaimed by policy: ``Retain`` keeps it Released (data
and claimRef stay), ``Delete`` is the provisioner's for volumes it provisioned and Failed
(``VolumeFailedDelete``) for others, as no in-tree deleter exists here; ``Recycle`` is Failed
too (``VolumeFailedRecycle``). A volume the binder bound to a claim that is now bound elsewhere
is released back to Available.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from controllers.base import Controller, tombstone_safe
from minik8s import errors
from minik8s import volumebinding as util
from minik8s.api import typed
from minik8s.api.resources import NODES, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, STORAGECLASSES
from minik8s.api.typed import ObjectReference, PersistentVolume, PersistentVolumeClaim
from minik8s.api.wellknown import storage as storage_api
from minik8s.api.wellknown import volumes as v
from minik8s.client.events import NORMAL, WARNING, EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient
from minik8s.nodeselector import NodeView

log = logging.getLogger(__name__)

PV_PREFIX, PVC_PREFIX = "pv:", "pvc:"
NOT_SUPPORTED_PROVISIONER = "kubernetes.io/no-provisioner"
_CLAIM_REF_INDEX = "claimRef"


def _claim_ref_index(pv: dict[str, Any]) -> list[str]:
    key = util.claim_ref_key(pv)
    return [key] if key else []


def _with_kind(obj: Mapping[str, Any], kind: str, api_version: str = "v1") -> dict[str, Any]:
    """A deep copy of ``obj`` with its kind and apiVersion: the body of a write or an event's object."""
    out = copy.deepcopy(dict(obj))
    out.setdefault("kind", kind)
    out.setdefault("apiVersion", api_version)
    return out


class PersistentVolumeBinder(Controller):
    name = "persistentvolume-binder"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.recorder = recorder or EventRecorder(client, component="persistentvolume-controller")
        self.pv_informer = informers.informer(PERSISTENTVOLUMES, indexers={_CLAIM_REF_INDEX: _claim_ref_index})
        self.pvc_informer = informers.informer(PERSISTENTVOLUMECLAIMS)
        self.class_informer = informers.informer(STORAGECLASSES)
        self.node_informer = informers.informer(NODES)
        self.informers = [self.pv_informer, self.pvc_informer, self.class_informer, self.node_informer]
        self.pv_informer.add_handler(on_add=self._volume_changed, on_update=lambda old, cur: self._volume_changed(cur),
                                     on_delete=self._volume_deleted)
        self.pvc_informer.add_handler(on_add=self._claim_changed, on_update=lambda old, cur: self._claim_changed(cur),
                                      on_delete=self._claim_deleted)
        self.class_informer.add_handler(on_add=self._class_changed, on_update=lambda old, cur: self._class_changed(cur),
                                        on_delete=None)

    # -- handlers: only enqueue ---------------------------------------------------------------

    def _volume_changed(self, obj: dict[str, Any]) -> None:
        pv = typed.persistent_volume(obj)
        self.enqueue_key(PV_PREFIX + pv["metadata"]["name"])
        ref = util.claim_ref_key(pv)
        if ref:
            self.enqueue_key(PVC_PREFIX + ref)
        elif not pv["metadata"].get("deletionTimestamp"):
            self._enqueue_unbound_claims()  # a new or freed volume may be the one a claim waits for

    def _volume_deleted(self, pv: dict[str, Any] | None) -> None:
        pv = tombstone_safe(pv)
        if pv is None:
            return
        ref = util.claim_ref_key(pv)
        if ref:
            self.enqueue_key(PVC_PREFIX + ref)

    def _claim_changed(self, obj: dict[str, Any]) -> None:
        pvc = typed.persistent_volume_claim(obj)
        self.enqueue_key(PVC_PREFIX + util.claim_key(pvc))
        name = (pvc.get("spec") or {}).get("volumeName")
        if name:
            self.enqueue_key(PV_PREFIX + name)

    def _claim_deleted(self, pvc: dict[str, Any] | None) -> None:
        pvc = tombstone_safe(pvc)
        if pvc is None:
            return
        for pv in self.pv_informer.store.by_index(_CLAIM_REF_INDEX, util.claim_key(pvc)):
            self.enqueue_key(PV_PREFIX + pv["metadata"]["name"])

    def _class_changed(self, obj: dict[str, Any]) -> None:
        name = typed.storage_class(obj)["metadata"]["name"]
        for pvc in map(typed.persistent_volume_claim, self.pvc_informer.store.list()):
            if not (pvc.get("spec") or {}).get("volumeName") and util.storage_class(pvc) == name:
                self.enqueue_key(PVC_PREFIX + util.claim_key(pvc))

    def _enqueue_unbound_claims(self) -> None:
        for pvc in map(typed.persistent_volume_claim, self.pvc_informer.store.list()):
            if not (pvc.get("spec") or {}).get("volumeName"):
                self.enqueue_key(PVC_PREFIX + util.claim_key(pvc))

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        if key.startswith(PVC_PREFIX):
            pvc = self.pvc_informer.store.get(key[len(PVC_PREFIX):])
            if pvc is not None:
                await self.sync_claim(typed.persistent_volume_claim(pvc))
        elif key.startswith(PV_PREFIX):
            pv = self.pv_informer.store.get(key[len(PV_PREFIX):])
            if pv is not None:
                await self.sync_volume(typed.persistent_volume(pv))

    async def sync_claim(self, pvc: PersistentVolumeClaim) -> None:
        md, spec = pvc["metadata"], pvc.get("spec") or {}
        if (md.get("annotations") or {}).get(v.ANN_BIND_COMPLETED):
            await self._sync_bound_claim(pvc)
        elif not spec.get("volumeName"):
            await self._sync_unbound_claim(pvc)
        else:
            await self._sync_prebound_claim(pvc)

    async def _sync_unbound_claim(self, pvc: PersistentVolumeClaim) -> None:
        cls_name = util.storage_class(pvc)
        cached_sc = self.class_informer.store.get(cls_name) if cls_name else None
        sc = typed.storage_class(cached_sc) if cached_sc is not None else None
        delay = sc is not None and sc.get("volumeBindingMode") == storage_api.BINDING_WAIT_FOR_FIRST_CONSUMER
        selected = ((pvc["metadata"].get("annotations") or {}).get(v.ANN_SELECTED_NODE))
        node = None
        if selected:
            node_obj = self.node_informer.store.get(selected)
            node = NodeView.of(node_obj) if node_obj is not None else NodeView(selected, {})
        pv = util.find_best_volume(pvc, map(typed.persistent_volume, self.pv_informer.store.list()), node=node,
                                   delay_binding=delay)
        if pv is not None:
            await self._bind(pv, pvc)
            return
        if delay and not selected:
            self.recorder.event(_with_kind(pvc, "PersistentVolumeClaim"), NORMAL, "WaitForFirstConsumer",
                                "waiting for first consumer to be created before binding")
        elif not cls_name:
            self.recorder.event(_with_kind(pvc, "PersistentVolumeClaim"), NORMAL, "FailedBinding",
                                "no persistent volumes available for this claim and no storage class is set")
        elif sc is None:
            self.recorder.event(_with_kind(pvc, "PersistentVolumeClaim"), WARNING, "ProvisioningFailed",
                                f'storageclass.storage.k8s.io "{cls_name}" not found')
        elif sc.get("provisioner") == NOT_SUPPORTED_PROVISIONER:
            self.recorder.event(_with_kind(pvc, "PersistentVolumeClaim"), WARNING, "ProvisioningFailed",
                                f"no volume plugin matched name: {NOT_SUPPORTED_PROVISIONER}")
        else:
            await self._hand_to_provisioner(pvc, sc["provisioner"])
        await self._set_claim_phase(pvc, v.CLAIM_PENDING)

    async def _hand_to_provisioner(self, pvc: PersistentVolumeClaim, provisioner: str) -> None:
        ann = pvc["metadata"].get("annotations") or {}
        if ann.get(v.ANN_STORAGE_PROVISIONER) != provisioner or ann.get(v.ANN_BETA_STORAGE_PROVISIONER) != provisioner:
            ns, name = pvc["metadata"]["namespace"], pvc["metadata"]["name"]
            patch = {"metadata": {"annotations": {v.ANN_STORAGE_PROVISIONER: provisioner,
                                                  v.ANN_BETA_STORAGE_PROVISIONER: provisioner},
                                  "resourceVersion": pvc["metadata"]["resourceVersion"]}}
            try:
                await self.client.patch(PERSISTENTVOLUMECLAIMS, name, patch, namespace=ns)
            except errors.NotFound:
                return
        self.recorder.event(_with_kind(pvc, "PersistentVolumeClaim"), NORMAL, "ExternalProvisioning",
                            f"Waiting for a volume to be created either by the external provisioner '{provisioner}' "
                            "or manually by the system administrator. If volume creation is delayed, please verify "
                            "that the provisioner is running and correctly registered.")

    async def _sync_prebound_claim(self, pvc: PersistentVolumeClaim) -> None:
        name = pvc["spec"]["volumeName"]
        cached = self.pv_informer.store.get(name)
        if cached is None:
            await self._set_claim_phase(pvc, v.CLAIM_PENDING)
            return
        pv = typed.persistent_volume(cached)
        if not (pv.get("spec") or {}).get("claimRef"):
            why = util.mismatch(pv, pvc)
            if why is not None:
                self.recorder.event(_with_kind(pvc, "PersistentVolumeClaim"), WARNING, "VolumeMismatch",
                                    f'Cannot bind to requested volume "{name}": {why}')
                await self._set_claim_phase(pvc, v.CLAIM_PENDING)
                return
            await self._bind(pv, pvc)
        elif util.is_bound_to(pv, pvc):
            await self._bind(pv, pvc)
        else:
            self.recorder.event(_with_kind(pvc, "PersistentVolumeClaim"), WARNING, "FailedBinding",
                                f'volume "{name}" already bound to a different claim.')
            await self._set_claim_phase(pvc, v.CLAIM_PENDING)

    async def _sync_bound_claim(self, pvc: PersistentVolumeClaim) -> None:
        name = (pvc.get("spec") or {}).get("volumeName")
        if not name:
            await self._lose_claim(pvc, "ClaimLost",
                                   "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!")
            return
        cached = self.pv_informer.store.get(name)
        pv = typed.persistent_volume(cached) if cached is not None else None
        if pv is None:
            await self._lose_claim(pvc, "ClaimLost",
                                   "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
        elif not (pv.get("spec") or {}).get("claimRef") or util.is_bound_to(pv, pvc):
            await self._bind(pv, pvc)  # finish or confirm the binding (idempotent)
        else:
            await self._lose_claim(pvc, "ClaimMisbound",
                                   "Two claims are bound to the same volume, this one is bound incorrectly")

    async def _lose_claim(self, pvc: PersistentVolumeClaim, reason: str, message: str) -> None:
        if (pvc.get("status") or {}).get("phase") != v.CLAIM_LOST:
            self.recorder.event(_with_kind(pvc, "PersistentVolumeClaim"), WARNING, reason, message)
        await self._set_claim_phase(pvc, v.CLAIM_LOST)

    async def sync_volume(self, pv: PersistentVolume) -> None:
        spec = pv.get("spec") or {}
        ref = spec.get("claimRef")
        phase = (pv.get("status") or {}).get("phase")
        if not ref or not ref.get("uid"):
            # Unused, or pre-bound by a person to a claim not yet bound.
            if phase != v.VOLUME_AVAILABLE and not (phase == v.VOLUME_FAILED and ref):
                await self._set_volume_phase(pv, v.VOLUME_AVAILABLE)
            return
        cached = self.pvc_informer.store.get(util.claim_ref_key(pv) or "")
        pvc = typed.persistent_volume_claim(cached) if cached is not None else None
        if pvc is None:
            pvc = await self._live_claim(ref)  # the cache may lag: ask before releasing anything
        if pvc is not None and pvc["metadata"].get("uid") != ref.get("uid"):
            pvc = None  # a new claim of the same name: the one this volume served is gone
        if pvc is None:
            if phase not in (v.VOLUME_RELEASED, v.VOLUME_FAILED):
                released = await self._set_volume_phase(pv, v.VOLUME_RELEASED)
                if released is None:
                    return
                pv = released
            if (pv.get("status") or {}).get("phase") == v.VOLUME_RELEASED:
                await self._reclaim(pv)
            return
        claimed = (pvc.get("spec") or {}).get("volumeName")
        if not claimed:
            self.enqueue_key(PVC_PREFIX + util.claim_key(pvc))  # the claim's sync finishes the binding
        elif claimed == pv["metadata"]["name"]:
            if phase != v.VOLUME_BOUND:
                await self._set_volume_phase(pv, v.VOLUME_BOUND)
        elif (pv["metadata"].get("annotations") or {}).get(v.ANN_BOUND_BY_CONTROLLER):
            await self._unbind(pv)  # the binder's own half-binding, superseded: give it back

    async def _live_claim(self, ref: ObjectReference) -> PersistentVolumeClaim | None:
        try:
            return typed.persistent_volume_claim(
                await self.client.get(PERSISTENTVOLUMECLAIMS, ref.get("name") or "", namespace=ref.get("namespace")))
        except errors.NotFound:
            return None

    async def _reclaim(self, pv: PersistentVolume) -> None:
        policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy")
        name = pv["metadata"]["name"]
        if policy == v.RECLAIM_DELETE:
            if (pv["metadata"].get("annotations") or {}).get(v.ANN_PROVISIONED_BY):
                return  # the provisioner that made it deletes it
            await self._fail_volume(pv, "VolumeFailedDelete",
                                    f'error getting deleter volume plugin for volume "{name}": '
                                    "no deletable volume plugin matched")
        elif policy == v.RECLAIM_RECYCLE:
            await self._fail_volume(pv, "VolumeFailedRecycle", "No recycler plugin found for the volume!")

    # -- writes -------------------------------------------------------------------------------

    async def _bind(self, pv: PersistentVolume, pvc: PersistentVolumeClaim) -> None:
        """Both halves of a binding, each written only where it differs (``bind``)."""
        pv_name, pvc_md = pv["metadata"]["name"], pvc["metadata"]
        if not util.is_bound_to(pv, pvc) or not pv["spec"]["claimRef"].get("uid"):
            updated = _with_kind(pv, "PersistentVolume")
            updated["spec"]["claimRef"] = util.claim_ref(pvc)
            updated["metadata"].setdefault("annotations", {})[v.ANN_BOUND_BY_CONTROLLER] = "yes"
            try:
                pv = typed.persistent_volume(await self.client.update(PERSISTENTVOLUMES, updated))
            except errors.NotFound:
                return
            log.info("bound volume %s to claim %s", pv_name, util.claim_key(pvc))
        if (pv.get("status") or {}).get("phase") != v.VOLUME_BOUND:
            if await self._set_volume_phase(pv, v.VOLUME_BOUND) is None:
                return
        ann = pvc_md.get("annotations") or {}
        if pvc["spec"].get("volumeName") != pv_name or ann.get(v.ANN_BIND_COMPLETED) != "yes":
            updated = _with_kind(pvc, "PersistentVolumeClaim")
            new_ann = updated["metadata"].setdefault("annotations", {})
            if not updated["spec"].get("volumeName"):
                updated["spec"]["volumeName"] = pv_name
                new_ann[v.ANN_BOUND_BY_CONTROLLER] = "yes"
            new_ann[v.ANN_BIND_COMPLETED] = "yes"
            try:
                pvc = typed.persistent_volume_claim(await self.client.update(PERSISTENTVOLUMECLAIMS, updated))
            except errors.NotFound:
                return
        want = util.bound_claim_status(pvc, pv)
        if (pvc.get("status") or {}) != want:
            updated = _with_kind(pvc, "PersistentVolumeClaim")
            updated["status"] = want
            try:
                await self.client.update_status(PERSISTENTVOLUMECLAIMS, updated)
            except errors.NotFound:
                return

    async def _unbind(self, pv: PersistentVolume) -> None:
        updated = _with_kind(pv, "PersistentVolume")
        updated["spec"].pop("claimRef", None)
        (updated["metadata"].get("annotations") or {}).pop(v.ANN_BOUND_BY_CONTROLLER, None)
        try:
            pv = typed.persistent_volume(await self.client.update(PERSISTENTVOLUMES, updated))
        except errors.NotFound:
            return
        await self._set_volume_phase(pv, v.VOLUME_AVAILABLE)

    async def _set_claim_phase(self, pvc: PersistentVolumeClaim, phase: str) -> None:
        if (pvc.get("status") or {}).get("phase") == phase:
            return
        updated = _with_kind(pvc, "PersistentVolumeClaim")
        updated.setdefault("status", {})["phase"] = phase
        try:
            await self.client.update_status(PERSISTENTVOLUMECLAIMS, updated)
        except errors.NotFound:
            pass

    async def _set_volume_phase(self, pv: PersistentVolume, phase: str, message: str | None = None) -> PersistentVolume | None:
        status = pv.get("status") or {}
        if status.get("phase") == phase and status.get("message") == message:
            return pv
        updated = _with_kind(pv, "PersistentVolume")
        new_status = updated.setdefault("status", {})
        new_status["phase"] = phase
        if message:
            new_status["message"] = message
        else:
            new_status.pop("message", None)
        try:
            return typed.persistent_volume(await self.client.update_status(PERSISTENTVOLUMES, updated))
        except errors.NotFound:
            return None

    async def _fail_volume(self, pv: PersistentVolume, reason: str, message: str) -> None:
        if (pv.get("status") or {}).get("phase") != v.VOLUME_FAILED:
            self.recorder.event(_with_kind(pv, "PersistentVolume"), WARNING, reason, message)
            await self._set_volume_phase(pv, v.VOLUME_FAILED, message)
