"""The built-in dynamic provisioner: local-path volumes, as k3s' local-path provisioner, run by
the controller-manager (the contract with the kubelets is :mod:`minik8s.localpath`).

At start it makes sure the default StorageClass ``local-path`` exists. Then:

* claims (``pvc:<namespace>/<name>``): a claim the binder handed to this provisioner
  (``volume.kubernetes.io/storage-provisioner``), still unbound, of a class of ours, gets a
  PersistentVolume ``pvc-<claim uid>`` on the node the scheduler chose for its first pod
  (``volume.kubernetes.io/selected-node``): a ``hostPath`` directory under that node's
  advertised dir, node affinity to the node, the class's reclaim policy and mount options,
  pre-bound to the claim so the binder binds exactly it. Events on the claim: ``Provisioning``
  then ``ProvisioningSucceeded``, or ``ProvisioningFailed`` saying why (no node chosen under
  ``Immediate`` binding, an access mode a node-local directory cannot give, a node that
  advertises no directory).
* volumes (``pv:<name>``): a volume of ours that is Released with reclaim ``Delete`` is
  deleted; its node's kubelet removes the directory and then the cleanup finalizer. A volume
  whose node is gone from the cluster has nobody to clean up after it: the finalizer is
  dropped with a warning event, and the directory (if the host still has it) is left.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from controllers.base import Controller
from minik8s import errors, localpath
from minik8s import volumebinding as util
from minik8s.api import typed
from minik8s.api.resources import NODES, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, STORAGECLASSES
from minik8s.api.typed import PersistentVolume, PersistentVolumeClaim, StorageClass
from minik8s.api.wellknown import volumes as v
from minik8s.client.events import NORMAL, WARNING, EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

PV_PREFIX, PVC_PREFIX = "pv:", "pvc:"


def _claim_ref(pvc: PersistentVolumeClaim) -> dict[str, Any]:
    return {**pvc, "kind": "PersistentVolumeClaim", "apiVersion": "v1"}


def volume_for(pvc: PersistentVolumeClaim, sc: StorageClass, node: str, base_dir: str) -> dict[str, Any]:
    """The PersistentVolume provisioned for ``pvc`` of class ``sc`` on ``node``."""
    md, spec = pvc["metadata"], pvc.get("spec") or {}
    name = f"pvc-{md['uid']}"
    pv_spec: dict[str, Any] = {
        "capacity": {"storage": ((spec.get("resources") or {}).get("requests") or {})["storage"]},
        "accessModes": list(spec.get("accessModes") or []),
        "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
        "storageClassName": sc["metadata"]["name"],
        "volumeMode": spec.get("volumeMode") or "Filesystem",
        "hostPath": {"path": localpath.volume_dir(base_dir, name, md["namespace"], md["name"]),
                     "type": "DirectoryOrCreate"},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": localpath.HOSTNAME_LABEL, "operator": "In", "values": [node]}]}]}},
        "claimRef": util.claim_ref(pvc),
    }
    if sc.get("mountOptions"):
        pv_spec["mountOptions"] = list(sc["mountOptions"])
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {v.ANN_PROVISIONED_BY: localpath.PROVISIONER},
                         "finalizers": [localpath.CLEANUP_FINALIZER]},
            "spec": pv_spec}


class LocalPathProvisioner(Controller):
    name = "local-path-provisioner"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 ensure_default_class: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.recorder = recorder or EventRecorder(client, component=f"{localpath.PROVISIONER}")
        self.ensure_default_class = ensure_default_class
        self.pvc_informer = informers.informer(PERSISTENTVOLUMECLAIMS)
        self.pv_informer = informers.informer(PERSISTENTVOLUMES)
        self.class_informer = informers.informer(STORAGECLASSES)
        self.node_informer = informers.informer(NODES)
        self.informers = [self.pvc_informer, self.pv_informer, self.class_informer, self.node_informer]
        self.pvc_informer.add_handler(on_add=self._claim, on_update=lambda old, cur: self._claim(cur), on_delete=None)
        self.pv_informer.add_handler(on_add=self._volume, on_update=lambda old, cur: self._volume(cur), on_delete=None)
        self.node_informer.add_handler(on_add=None, on_update=None, on_delete=self._node_deleted)

    async def run(self, workers: int) -> None:
        if self.ensure_default_class:
            await self.create_default_class()
        await super().run(workers)

    async def create_default_class(self) -> None:
        """The default StorageClass, created once at start-up (an existing one is left as is)."""
        for attempt in range(30):
            try:
                await self.client.create(STORAGECLASSES, localpath.default_storage_class())
                log.info("created the default StorageClass %s", localpath.STORAGE_CLASS)
                return
            except errors.AlreadyExists:
                return
            except errors.MiniK8sError as e:
                if attempt == 0:
                    log.warning("cannot create StorageClass %s yet: %s; retrying", localpath.STORAGE_CLASS, e)
                await asyncio.sleep(1.0)

    # -- handlers -----------------------------------------------------------------------------

    def _claim(self, obj: dict[str, Any]) -> None:
        pvc = typed.persistent_volume_claim(obj)
        ann = pvc["metadata"].get("annotations") or {}
        if ann.get(v.ANN_STORAGE_PROVISIONER) == localpath.PROVISIONER and not (pvc.get("spec") or {}).get("volumeName"):
            self.enqueue_key(PVC_PREFIX + util.claim_key(pvc))

    def _volume(self, obj: dict[str, Any]) -> None:
        pv = typed.persistent_volume(obj)
        if (pv["metadata"].get("annotations") or {}).get(v.ANN_PROVISIONED_BY) == localpath.PROVISIONER:
            self.enqueue_key(PV_PREFIX + pv["metadata"]["name"])

    def _node_deleted(self, node: dict[str, Any] | None) -> None:
        for pv in self.pv_informer.store.list():
            if pv["metadata"].get("deletionTimestamp"):
                self._volume(pv)

    # -- sync ---------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        if key.startswith(PVC_PREFIX):
            pvc = self.pvc_informer.store.get(key[len(PVC_PREFIX):])
            if pvc is not None:
                await self.provision(typed.persistent_volume_claim(pvc))
        elif key.startswith(PV_PREFIX):
            pv = self.pv_informer.store.get(key[len(PV_PREFIX):])
            if pv is not None:
                await self.reclaim(typed.persistent_volume(pv))

    async def provision(self, pvc: PersistentVolumeClaim) -> None:
        md, spec = pvc["metadata"], pvc.get("spec") or {}
        ann = md.get("annotations") or {}
        if (spec.get("volumeName") or md.get("deletionTimestamp")
                or ann.get(v.ANN_STORAGE_PROVISIONER) != localpath.PROVISIONER):
            return
        cached_sc = self.class_informer.store.get(util.storage_class(pvc))
        sc = typed.storage_class(cached_sc) if cached_sc is not None else None
        if sc is None or sc.get("provisioner") != localpath.PROVISIONER:
            return
        pv_name = f"pvc-{md['uid']}"
        if self.pv_informer.store.get(pv_name) is not None:
            return  # provisioned already; the binder binds it
        claim = _claim_ref(pvc)
        node = ann.get(v.ANN_SELECTED_NODE)
        if not node:
            self._failed(claim, "configuration error, no node was specified")
            return
        modes = [m for m in spec.get("accessModes") or () if m not in localpath.SUPPORTED_ACCESS_MODES]
        if modes:
            self._failed(claim, "NodePath only supports ReadWriteOnce and ReadWriteOncePod access modes")
            return
        node_obj = self.node_informer.store.get(node)
        node_md = (typed.node(node_obj).get("metadata") or {}) if node_obj is not None else {}
        base = (node_md.get("annotations") or {}).get(localpath.ANN_NODE_DIR)
        if not base:
            self._failed(claim, f'node "{node}" has no local-path directory (annotation {localpath.ANN_NODE_DIR}): '
                                "its kubelet does not serve local-path volumes")
            return
        key = f"{md['namespace']}/{md['name']}"
        self.recorder.event(claim, NORMAL, "Provisioning",
                            f'External provisioner is provisioning volume for claim "{key}"')
        try:
            await self.client.create(PERSISTENTVOLUMES, volume_for(pvc, sc, node, base))
        except errors.AlreadyExists:
            return
        log.info("provisioned %s for claim %s on node %s", pv_name, key, node)
        self.recorder.event(claim, NORMAL, "ProvisioningSucceeded", f"Successfully provisioned volume {pv_name}")

    def _failed(self, claim: dict[str, Any], why: str) -> None:
        self.recorder.event(claim, WARNING, "ProvisioningFailed", f"failed to provision volume with StorageClass "
                                                                  f'"{util.storage_class(claim)}": {why}')

    async def reclaim(self, pv: PersistentVolume) -> None:
        md = pv["metadata"]
        if md.get("deletionTimestamp"):
            node = localpath.node_of(pv)
            if (localpath.CLEANUP_FINALIZER in (md.get("finalizers") or ())
                    and node and self.node_informer.store.get(node) is None):
                await self._drop_cleanup(pv, node)
            return
        phase = (pv.get("status") or {}).get("phase")
        if phase == v.VOLUME_RELEASED and (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") == v.RECLAIM_DELETE:
            try:
                await self.client.delete(PERSISTENTVOLUMES, md["name"], preconditions={"uid": md["uid"]})
            except (errors.NotFound, errors.Conflict):
                return
            log.info("deleting released volume %s; node %s removes its directory", md["name"], localpath.node_of(pv))

    async def _drop_cleanup(self, pv: PersistentVolume, node: str) -> None:
        self.recorder.event({**pv, "kind": "PersistentVolume", "apiVersion": "v1"}, WARNING, "VolumeFailedDelete",
                            f'node "{node}" is gone: nothing can remove the directory '
                            f'{(pv.get("spec") or {}).get("hostPath", {}).get("path")}')
        updated: dict[str, Any] = copy.deepcopy(dict(pv))
        updated.setdefault("kind", "PersistentVolume")
        updated.setdefault("apiVersion", "v1")
        updated["metadata"]["finalizers"] = [f for f in pv["metadata"].get("finalizers") or ()
                                             if f != localpath.CLEANUP_FINALIZER]
        try:
            await self.client.update(PERSISTENTVOLUMES, updated)
        except errors.NotFound:
            pass
