"""The kubelet's half of local-path storage (kubelet/localpath.py) against a real apiserver,
acting as the node with the node's own credentials (so the node authorizer judges every write).

A deleted volume's directory goes, then its cleanup finalizer; a second look at a stale copy of a
volume already gone (the node authorizer then answers 403, not 404) must not stop the kubelet:
CI once saw a kubelet exit on exactly that.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import os
import uuid

from kubelet.localpath import LocalPathVolumes
from minik8s import errors, localpath
from minik8s.api.resources import NODES, PERSISTENTVOLUMES
from minik8s.api.wellknown import volumes as v
from minik8s.client.rest import ApiClient
from tests.waiting import eventually

# tests/waiting.py's eventually, with these tests' deadline
_eventually = functools.partial(eventually, timeout=15.0)


def _pv(name: str, node: str, path: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {v.ANN_PROVISIONED_BY: localpath.PROVISIONER},
                     "finalizers": [localpath.CLEANUP_FINALIZER]},
        "spec": {"capacity": {"storage": "1Mi"}, "accessModes": ["ReadWriteOnce"],
                 "persistentVolumeReclaimPolicy": "Delete", "hostPath": {"path": path},
                 "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                     {"key": localpath.HOSTNAME_LABEL, "operator": "In", "values": [node]}]}]}}},
    }


async def test_deleted_volume_is_cleaned_and_a_stale_copy_is_skipped(client, apiserver_process, tmp_path) -> None:
    node = f"lp-{uuid.uuid4().hex[:6]}"
    await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
    kc = apiserver_process.kubeconfig_for(f"system:node:{node}", ("system:nodes",))
    async with ApiClient.from_kubeconfig(str(kc)) as as_node:
        vols = LocalPathVolumes(as_node, node_name=node, node_root=str(tmp_path))
        task = asyncio.create_task(vols.run())
        try:
            name = f"pvc-{uuid.uuid4()}"
            path = localpath.volume_dir(vols.base, name, "default", "data")
            await _eventually(lambda: asyncio.sleep(0, os.path.isdir(vols.base)))
            os.makedirs(path)
            (tmp_path / "marker").write_text("x")
            pv = await client.create(PERSISTENTVOLUMES, _pv(name, node, path))
            await client.delete(PERSISTENTVOLUMES, name)
            stale = copy.deepcopy(await client.get(PERSISTENTVOLUMES, name))
            assert stale["metadata"]["deletionTimestamp"] and pv["metadata"]["uid"] == stale["metadata"]["uid"]

            async def cleaned() -> bool:
                cur = await client.get(PERSISTENTVOLUMES, name)
                return localpath.CLEANUP_FINALIZER not in (cur["metadata"].get("finalizers") or ())
            await _eventually(cleaned)
            assert not os.path.exists(path)
            assert (tmp_path / "marker").exists()  # only the volume's own directory went
            # What the pv-protection controller does for a volume no claim uses (none runs here).
            await client.patch(PERSISTENTVOLUMES, name, {"metadata": {"finalizers": None}})

            async def gone() -> bool:
                try:
                    await client.get(PERSISTENTVOLUMES, name)
                except errors.NotFound:
                    return True
                return False
            await _eventually(gone)

            # The informer's copy can lag the deletion; a look at it is skipped, not fatal.
            await vols.clean(stale)
            vols._wake.set()
            await asyncio.sleep(0.5)
            assert not task.done(), task
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await client.delete(NODES, node)
