"""The node's half of local-path storage (the contract is :mod:`minik8s.localpath`).

On start it advertises the node's volume directory (``<node data dir>/local-path``) with the
Node annotation the provisioner reads. Then it watches the PersistentVolumes provisioned for
this node; when one is deleted (its claim released it under reclaim ``Delete``) it removes the
volume's directory and then the cleanup finalizer, so the volume object goes only once its
data is gone. A failed API call is logged and retried a moment later, never allowed to stop the
kubelet; a volume that vanished meanwhile (its finalizer removed, the informer not yet told) is
skipped, as the node authorizer denies a node any write to a volume it no longer knows. A volume of reclaim policy ``Retain`` deleted by hand keeps its directory, as
Kubernetes keeps a retained volume's storage. Only a directory directly under this node's
volume directory is ever removed.
Real (Docker) nodes run this; hollow nodes have no disk to clean.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import shutil
from typing import Any

from minik8s import errors, localpath, taskgroup
from minik8s.api import typed
from minik8s.api.resources import NODES, PERSISTENTVOLUMES
from minik8s.api.wellknown import volumes as v
from minik8s.client.informer import Informer
from minik8s.client.rest import ApiClient

__all__ = ["LocalPathVolumes"]

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0  # after a failed API call, look at the deleted volumes again this much later


class LocalPathVolumes:
    def __init__(self, client: ApiClient, *, node_name: str, node_root: str) -> None:
        self.client = client
        self.node_name = node_name
        self.base = localpath.node_dir(node_root)
        self.informer = Informer(client, PERSISTENTVOLUMES)
        self._wake = asyncio.Event()

    def _mine(self, pv: typed.PersistentVolume) -> bool:
        return ((pv["metadata"].get("annotations") or {}).get(v.ANN_PROVISIONED_BY) == localpath.PROVISIONER
                and localpath.node_of(pv) == self.node_name)

    async def run(self) -> None:
        await asyncio.to_thread(os.makedirs, self.base, 0o755, True)
        await self._advertise()
        self.informer.add_handler(on_add=self._changed, on_update=lambda old, cur: self._changed(cur), on_delete=None)
        task = asyncio.create_task(self.informer.run(), name=f"local-path volumes {self.node_name}")
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                retry = False
                for pv in map(typed.persistent_volume, self.informer.store.list()):
                    if self._mine(pv) and pv["metadata"].get("deletionTimestamp"):
                        try:
                            await self.clean(pv)
                        except errors.MiniK8sError as e:
                            log.warning("volume %s: cannot finish its cleanup yet (retrying in %.0fs): %s",
                                        pv["metadata"]["name"], RETRY_SECONDS, e)
                            retry = True
                if retry:
                    asyncio.get_running_loop().call_later(RETRY_SECONDS, self._wake.set)
        finally:
            await taskgroup.cancel_and_wait([task])

    def _changed(self, obj: dict[str, Any]) -> None:
        if typed.persistent_volume(obj)["metadata"].get("deletionTimestamp"):
            self._wake.set()

    async def _advertise(self) -> None:
        for attempt in range(60):
            try:
                await self.client.patch(NODES, self.node_name, {"metadata": {"annotations": {
                    localpath.ANN_NODE_DIR: self.base}}})
                return
            except errors.MiniK8sError as e:
                if attempt == 0:
                    log.warning("node %s: cannot advertise its local-path directory yet: %s", self.node_name, e)
                await asyncio.sleep(1.0)

    async def clean(self, pv: typed.PersistentVolume) -> None:
        """Remove a deleted volume's directory, then its cleanup finalizer."""
        md = pv["metadata"]
        if localpath.CLEANUP_FINALIZER not in (md.get("finalizers") or ()):
            return
        path = ((pv.get("spec") or {}).get("hostPath") or {}).get("path") or ""
        if (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy") != v.RECLAIM_DELETE:
            log.info("volume %s deleted under reclaim policy Retain: %s is kept", md["name"], path)
        elif os.path.dirname(os.path.normpath(path)) != os.path.normpath(self.base):  # noqa: ASYNC240 - string operations, no I/O
            log.warning("volume %s: %r is not a directory of this node's local-path dir %s; not removing it",
                        md["name"], path, self.base)
        else:
            await asyncio.to_thread(shutil.rmtree, path, True)
            log.info("volume %s deleted: removed %s", md["name"], path)
        updated: dict[str, Any] = copy.deepcopy(dict(pv))  # the client writes plain JSON objects
        updated.setdefault("kind", "PersistentVolume")
        updated.setdefault("apiVersion", "v1")
        updated["metadata"]["finalizers"] = [f for f in md["finalizers"] if f != localpath.CLEANUP_FINALIZER]
        try:
            await self.client.update(PERSISTENTVOLUMES, updated)
        except errors.NotFound:
            pass
        except errors.Conflict:
            self._wake.set()  # changed meanwhile: look again
        except errors.Forbidden:
            # The node authorizer forgets a volume once it is gone, and then answers 403, not 404:
            # a second look at a stale copy (the informer has not yet seen the deletion) lands here.
            try:
                await self.client.get(PERSISTENTVOLUMES, md["name"])
            except errors.NotFound:
                return
            raise
