"""The volume binder, the protection controllers and the local-path provisioner against a real
apiserver of their own (volumes are cluster-wide: a shared server would mix tests' volumes).

Pods are written through the API as a scheduler and kubelet would (``nodeName``, phase), so
the controllers see what they would in a cluster; tests wait for what the controllers write.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from controllers.localpath_provisioner import LocalPathProvisioner
from controllers.pv_binder import PersistentVolumeBinder
from controllers.pv_protection import PVProtectionController
from controllers.pvc_protection import PVCProtectionController
from minik8s import localpath
from minik8s.api.resources import (
    EVENTS,
    NODES,
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    PODS,
    STORAGECLASSES,
)
from tests.integration.controller_harness import get_or_none, new_namespace, running
from tests.waiting import eventually


class _All:
    """The four storage controllers behind the one-controller harness."""

    def __init__(self, client, factory, **provisioner) -> None:
        self.ctrls = [PersistentVolumeBinder(client, factory), PVCProtectionController(client, factory),
                      PVProtectionController(client, factory), LocalPathProvisioner(client, factory, **provisioner)]
        self.recorder = self.ctrls[0].recorder

    async def run(self, workers: int) -> None:
        await asyncio.gather(*(c.run(workers) for c in self.ctrls))


@pytest.fixture
async def client(apiserver_factory) -> AsyncIterator:
    server = apiserver_factory()
    async with server.client() as c:
        async with running(c, lambda f: _All(c, f)):
            yield c


def _pv(name: str, size: str, *, modes=("ReadWriteOnce",), cls: str = "", policy: str = "Retain",
        labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
                     "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": f"/tmp/{name}"}}}


def _pvc(name: str, size: str, *, modes=("ReadWriteOnce",), cls: str | None = "", **spec) -> dict:
    body = {"accessModes": list(modes), "resources": {"requests": {"storage": size}}, **spec}
    if cls is not None:
        body["storageClassName"] = cls
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name}, "spec": body}


async def _phase(client, rt, name: str, ns: str | None = None) -> str | None:
    obj = await get_or_none(client, rt, name, namespace=ns)
    return None if obj is None else (obj.get("status") or {}).get("phase")


async def _events(client, ns: str, name: str) -> list[tuple[str, str, str]]:
    evs = await client.list(EVENTS, namespace=ns, field_selector=f"involvedObject.name={name}")
    return [(e["type"], e["reason"], e["message"]) for e in evs["items"]]


async def test_binds_each_claim_to_the_smallest_matching_volume(client) -> None:
    ns = await new_namespace(client, "bind")
    for body in (_pv("v-1g", "1Gi"), _pv("v-5g", "5Gi"), _pv("v-rwx", "2Gi", modes=("ReadWriteMany",)),
                 _pv("v-gold", "3Gi", labels={"tier": "gold"})):
        await client.create(PERSISTENTVOLUMES, body)
    await eventually(lambda: _phase(client, PERSISTENTVOLUMES, "v-5g"), what="volume Available")
    assert await _phase(client, PERSISTENTVOLUMES, "v-5g") == "Available"

    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("small", "500Mi"), namespace=ns)
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("gold", "2Gi", selector={"matchLabels": {"tier": "gold"}}),
                        namespace=ns)
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("shared", "1Gi", modes=("ReadWriteMany",)), namespace=ns)

    async def bound(name: str):
        pvc = await client.get(PERSISTENTVOLUMECLAIMS, name, namespace=ns)
        return pvc if pvc["status"].get("phase") == "Bound" else None

    small = await eventually(lambda: bound("small"), what="claim small Bound")
    assert small["spec"]["volumeName"] == "v-1g"
    assert small["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}
    assert small["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    assert small["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"
    assert (await eventually(lambda: bound("gold")))["spec"]["volumeName"] == "v-gold"
    assert (await eventually(lambda: bound("shared")))["spec"]["volumeName"] == "v-rwx"
    pv = await client.get(PERSISTENTVOLUMES, "v-1g")
    assert pv["spec"]["claimRef"]["name"] == "small" and pv["spec"]["claimRef"]["uid"] == small["metadata"]["uid"]
    await eventually(lambda: _phase(client, PERSISTENTVOLUMES, "v-1g"), what="volume phase")
    assert await eventually(lambda: _check(client, "v-1g", "Bound"))
    assert await _phase(client, PERSISTENTVOLUMES, "v-5g") == "Available"


async def _check(client, name: str, phase: str) -> bool:
    return await _phase(client, PERSISTENTVOLUMES, name) == phase


async def test_claim_larger_than_every_volume_stays_pending_and_says_why(client) -> None:
    ns = await new_namespace(client, "big")
    await client.create(PERSISTENTVOLUMES, _pv("only-1g", "1Gi"))
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("huge", "100Gi"), namespace=ns)
    want = ("Normal", "FailedBinding", "no persistent volumes available for this claim and no storage class is set")
    assert await eventually(lambda: _has(client, ns, "huge", want), what="FailedBinding event")
    assert await _phase(client, PERSISTENTVOLUMECLAIMS, "huge", ns) == "Pending"
    # A class nobody defined: Kubernetes says so.
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("ghost", "1Gi", cls="ghost"), namespace=ns)
    want = ("Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "ghost" not found')
    assert await eventually(lambda: _has(client, ns, "ghost", want), what="ProvisioningFailed event")


async def _has(client, ns: str, name: str, event: tuple[str, str, str]) -> bool:
    return event in await _events(client, ns, name)


async def test_release_retain_keeps_and_delete_fails_without_a_deleter(client) -> None:
    ns = await new_namespace(client, "rel")
    await client.create(PERSISTENTVOLUMES, _pv("keep", "1Gi", cls="manual"))
    await client.create(PERSISTENTVOLUMES, _pv("drop", "1Gi", cls="manual2", policy="Delete"))
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("a", "1Gi", cls="manual"), namespace=ns)
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("b", "1Gi", cls="manual2"), namespace=ns)
    assert await eventually(lambda: _check(client, "keep", "Bound"))
    assert await eventually(lambda: _check(client, "drop", "Bound"))
    await client.delete(PERSISTENTVOLUMECLAIMS, "a", namespace=ns)
    await client.delete(PERSISTENTVOLUMECLAIMS, "b", namespace=ns)
    assert await eventually(lambda: _check(client, "keep", "Released"), what="keep Released")
    kept = await client.get(PERSISTENTVOLUMES, "keep")
    assert kept["spec"]["claimRef"]["name"] == "a"  # Released keeps its claimRef (and data)
    assert await eventually(lambda: _check(client, "drop", "Failed"), what="drop Failed")
    failed = await client.get(PERSISTENTVOLUMES, "drop")
    assert failed["status"]["message"] == ('error getting deleter volume plugin for volume "drop": '
                                           "no deletable volume plugin matched")
    # A new claim with the old name does not get the Released volume back.
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("a", "1Gi", cls="manual"), namespace=ns)
    await asyncio.sleep(0.5)
    assert await _phase(client, PERSISTENTVOLUMECLAIMS, "a", ns) == "Pending"
    assert await _phase(client, PERSISTENTVOLUMES, "keep") == "Released"


async def test_bound_volume_deleted_stays_until_its_claim_lets_go(client) -> None:
    ns = await new_namespace(client, "prot")
    await client.create(PERSISTENTVOLUMES, _pv("held", "1Gi"))
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("c", "1Gi"), namespace=ns)
    assert await eventually(lambda: _check(client, "held", "Bound"))
    # A pod on a node uses the claim.
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"},
           "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}],
                    "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "c"}}]}}
    await client.create(PODS, pod, namespace=ns)
    await client.delete(PERSISTENTVOLUMES, "held")
    await client.delete(PERSISTENTVOLUMECLAIMS, "c", namespace=ns)
    await asyncio.sleep(1.0)
    pvc = await client.get(PERSISTENTVOLUMECLAIMS, "c", namespace=ns)
    assert pvc["metadata"]["deletionTimestamp"] and pvc["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    pv = await client.get(PERSISTENTVOLUMES, "held")
    assert pv["metadata"]["deletionTimestamp"] and pv["status"]["phase"] == "Bound"
    # The pod goes: the claim goes, the volume is released, and only then goes too.
    await client.delete(PODS, "user", namespace=ns, grace_period_seconds=0)
    assert await eventually(lambda: _gone(client, PERSISTENTVOLUMECLAIMS, "c", ns), what="claim removed")
    assert await eventually(lambda: _gone(client, PERSISTENTVOLUMES, "held"), what="volume removed")


async def _gone(client, rt, name: str, ns: str | None = None) -> bool:
    return await get_or_none(client, rt, name, namespace=ns) is None


async def test_prebound_claim_and_mismatch(client) -> None:
    ns = await new_namespace(client, "pre")
    await client.create(PERSISTENTVOLUMES, _pv("exact", "1Gi"))
    await client.create(PERSISTENTVOLUMES, _pv("larger", "10Gi"))
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("want-larger", "1Gi", volumeName="larger"), namespace=ns)
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("too-big", "5Gi", volumeName="exact"), namespace=ns)
    assert await eventually(lambda: _check(client, "larger", "Bound"))
    want = ("Warning", "VolumeMismatch", 'Cannot bind to requested volume "exact": requested PV is too small')
    assert await eventually(lambda: _has(client, ns, "too-big", want), what="VolumeMismatch event")
    assert await _phase(client, PERSISTENTVOLUMES, "exact") == "Available"


async def test_local_path_provisioning_follows_the_selected_node(client) -> None:
    ns = await new_namespace(client, "prov")
    sc = await eventually(lambda: get_or_none(client, STORAGECLASSES, "local-path"), what="default class")
    assert sc["provisioner"] == localpath.PROVISIONER and sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": "disk-node", "labels": {"kubernetes.io/hostname": "disk-node"},
        "annotations": {localpath.ANN_NODE_DIR: "/var/lib/minik8s-test/disk-node/local-path"}}})
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("data", "64Mi", cls=None), namespace=ns)
    pvc = await client.get(PERSISTENTVOLUMECLAIMS, "data", namespace=ns)
    assert pvc["spec"]["storageClassName"] == "local-path"
    want = ("Normal", "WaitForFirstConsumer", "waiting for first consumer to be created before binding")
    assert await eventually(lambda: _has(client, ns, "data", want), what="WaitForFirstConsumer event")
    # The scheduler's choice of node, as it writes it.
    await client.patch(PERSISTENTVOLUMECLAIMS, "data", {"metadata": {"annotations": {
        "volume.kubernetes.io/selected-node": "disk-node"}}}, namespace=ns)

    async def bound():
        p = await client.get(PERSISTENTVOLUMECLAIMS, "data", namespace=ns)
        return p if p["status"].get("phase") == "Bound" else None

    pvc = await eventually(bound, what="provisioned claim Bound")
    pv_name = f"pvc-{pvc['metadata']['uid']}"
    assert pvc["spec"]["volumeName"] == pv_name
    assert pvc["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"] == localpath.PROVISIONER
    pv = await client.get(PERSISTENTVOLUMES, pv_name)
    assert pv["spec"]["hostPath"] == {"path": f"/var/lib/minik8s-test/disk-node/local-path/{pv_name}_{ns}_data",
                                      "type": "DirectoryOrCreate"}
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["disk-node"]}]
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == localpath.PROVISIONER
    assert set(pv["metadata"]["finalizers"]) == {localpath.CLEANUP_FINALIZER, "kubernetes.io/pv-protection"}
    reasons = [r for _, r, _ in await _events(client, ns, "data")]
    assert "Provisioning" in reasons and "ProvisioningSucceeded" in reasons

    # Released under Delete: the provisioner deletes the volume; the node's cleanup finalizer
    # holds it until the node is gone (no kubelet runs here), then it is dropped.
    await client.delete(PERSISTENTVOLUMECLAIMS, "data", namespace=ns)

    async def terminating():
        v = await get_or_none(client, PERSISTENTVOLUMES, pv_name)
        return v is not None and v["metadata"].get("deletionTimestamp") and \
            v["metadata"]["finalizers"] == [localpath.CLEANUP_FINALIZER]

    assert await eventually(terminating, what="volume deleted, waiting for its node")
    await client.delete(NODES, "disk-node")
    assert await eventually(lambda: _gone(client, PERSISTENTVOLUMES, pv_name), what="volume removed")


async def test_provisioning_failures_are_explained(client) -> None:
    ns = await new_namespace(client, "pfail")
    await eventually(lambda: get_or_none(client, STORAGECLASSES, "local-path"), what="default class")
    await client.create(STORAGECLASSES, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                         "metadata": {"name": "now"}, "provisioner": localpath.PROVISIONER})
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("immediate", "1Gi", cls="now"), namespace=ns)
    want = ("Warning", "ProvisioningFailed",
            'failed to provision volume with StorageClass "now": configuration error, no node was specified')
    assert await eventually(lambda: _has(client, ns, "immediate", want), what="no node event")
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("rwx", "1Gi", modes=("ReadWriteMany",), cls="local-path",
                                                     ), namespace=ns)
    await client.patch(PERSISTENTVOLUMECLAIMS, "rwx", {"metadata": {"annotations": {
        "volume.kubernetes.io/selected-node": "somewhere"}}}, namespace=ns)
    want = ("Warning", "ProvisioningFailed", 'failed to provision volume with StorageClass "local-path": '
            "NodePath only supports ReadWriteOnce and ReadWriteOncePod access modes")
    assert await eventually(lambda: _has(client, ns, "rwx", want), what="access mode event")


async def test_a_bound_claim_whose_volume_vanishes_is_lost(client) -> None:
    ns = await new_namespace(client, "lost")
    await client.create(PERSISTENTVOLUMES, _pv("fragile", "1Gi"))
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("c", "1Gi"), namespace=ns)
    assert await eventually(lambda: _check(client, "fragile", "Bound"))
    # Forced away past its protection (as an administrator could), the volume is gone for good.
    await client.patch(PERSISTENTVOLUMES, "fragile", {"metadata": {"finalizers": None}})
    await client.delete(PERSISTENTVOLUMES, "fragile")
    assert await eventually(lambda: _claim_phase_is(client, ns, "c", "Lost"), what="claim Lost")
    want = ("Warning", "ClaimLost", "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
    assert await eventually(lambda: _has(client, ns, "c", want), what="ClaimLost event")


async def _claim_phase_is(client, ns: str, name: str, phase: str) -> bool:
    return await _phase(client, PERSISTENTVOLUMECLAIMS, name, ns) == phase
