"""The scheduler's VolumeBinding against a real apiserver of its own, with the real storage
controllers running: pods follow their volumes' node affinity, wait for unbound immediate
claims, and a claim of the default (WaitForFirstConsumer) class is provisioned on the node
the scheduler picked before the pod is bound there. Nodes are registered through the API as a
kubelet would; no kubelet runs, so bound pods stay Pending on their node.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from minik8s import localpath
from minik8s.api.resources import EVENTS, NODES, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, PODS, STORAGECLASSES
from scheduler.scheduler import Scheduler
from tests.integration.controller_harness import get_or_none, new_namespace, running
from tests.integration.test_scheduler_process import node, pod
from tests.integration.test_storage_controllers import _All, _pv, _pvc
from tests.waiting import eventually


@pytest.fixture
async def client(apiserver_factory) -> AsyncIterator:
    server = apiserver_factory()
    async with server.client() as c:
        for name in ("node-a", "node-b"):
            body = node(name)
            body["metadata"]["annotations"] = {localpath.ANN_NODE_DIR: f"/var/lib/minik8s-test/{name}/local-path"}
            await c.create(NODES, body)
        sched = Scheduler(c)
        await sched.start_informers(timeout=30)
        task = asyncio.create_task(sched.run())
        try:
            async with running(c, lambda f: _All(c, f)):
                yield c
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await sched.close()


def _with_claim(name: str, claim: str) -> dict:
    return pod(name, volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": claim}}])


async def _node_of(client, ns: str, name: str) -> str | None:
    p = await client.get(PODS, name, namespace=ns)
    return (p.get("spec") or {}).get("nodeName")


async def _failed_scheduling(client, ns: str, name: str) -> list[str]:
    evs = await client.list(EVENTS, namespace=ns, field_selector=f"involvedObject.name={name}")
    return [e["message"] for e in evs["items"] if e["reason"] == "FailedScheduling"]


async def test_pod_follows_its_volume_node_affinity(client) -> None:
    ns = await new_namespace(client, "aff")
    pv = _pv("on-b", "1Gi", cls="pinned")
    pv["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-b"]}]}]}}
    await client.create(PERSISTENTVOLUMES, pv)
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("c", "1Gi", cls="pinned"), namespace=ns)

    async def bound():
        return (await client.get(PERSISTENTVOLUMECLAIMS, "c", namespace=ns))["status"].get("phase") == "Bound"

    assert await eventually(bound, what="claim bound")
    for i in range(3):
        await client.create(PODS, _with_claim(f"p{i}", "c"), namespace=ns)
    for i in range(3):
        assert await eventually(lambda i=i: _node_of(client, ns, f"p{i}")) == "node-b"


async def test_unbound_or_missing_claims_keep_the_pod_pending(client) -> None:
    ns = await new_namespace(client, "wait")
    await client.create(PODS, _with_claim("no-claim", "nothing"), namespace=ns)
    msgs = await eventually(lambda: _failed_scheduling(client, ns, "no-claim"), what="FailedScheduling")
    assert msgs[0] == ('0/2 nodes are available: persistentvolumeclaim "nothing" not found. '
                       'preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.')
    # An Immediate claim nothing can satisfy: the pod waits for the binder, not for a node.
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("later", "1Gi"), namespace=ns)
    await client.create(PODS, _with_claim("waits", "later"), namespace=ns)
    msgs = await eventually(lambda: _failed_scheduling(client, ns, "waits"), what="FailedScheduling")
    assert msgs[0] == ("0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
                       "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
    # A volume appears: the claim binds and the pod is scheduled without anything else happening.
    await client.create(PERSISTENTVOLUMES, _pv("fits", "1Gi"))
    assert await eventually(lambda: _node_of(client, ns, "waits"), what="pod scheduled once bound")


async def test_default_class_claim_is_provisioned_on_the_chosen_node(client) -> None:
    ns = await new_namespace(client, "wffc")
    await eventually(lambda: get_or_none(client, STORAGECLASSES, "local-path"), what="default class")
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("data", "16Mi", cls=None), namespace=ns)
    body = _with_claim("app", "data")
    body["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "node-a"}
    await client.create(PODS, body, namespace=ns)
    assert await eventually(lambda: _node_of(client, ns, "app"), what="pod bound") == "node-a"
    pvc = await client.get(PERSISTENTVOLUMECLAIMS, "data", namespace=ns)
    # Bound before the pod was: the scheduler waited for the volume.
    assert pvc["status"]["phase"] == "Bound"
    assert pvc["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "node-a"
    pv = await client.get(PERSISTENTVOLUMES, pvc["spec"]["volumeName"])
    assert pv["spec"]["hostPath"]["path"].startswith("/var/lib/minik8s-test/node-a/local-path/")
    # A second pod on the claim goes where the volume is.
    await client.create(PODS, _with_claim("second", "data"), namespace=ns)
    assert await eventually(lambda: _node_of(client, ns, "second")) == "node-a"


async def test_read_write_once_pod_claim_takes_one_pod(client) -> None:
    ns = await new_namespace(client, "rwop")
    await client.create(PERSISTENTVOLUMES, _pv("solo", "1Gi", modes=("ReadWriteOncePod",)))
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("one", "1Gi", modes=("ReadWriteOncePod",)), namespace=ns)
    await client.create(PODS, _with_claim("first", "one"), namespace=ns)
    assert await eventually(lambda: _node_of(client, ns, "first"), what="first pod scheduled")
    await client.create(PODS, _with_claim("second", "one"), namespace=ns)
    msgs = await eventually(lambda: _failed_scheduling(client, ns, "second"), what="FailedScheduling")
    assert msgs[0] == ("0/2 nodes are available: node has pod using PersistentVolumeClaim with the same name and "
                       "ReadWriteOncePod access mode. preemption: 0/2 nodes are available: "
                       "2 Preemption is not helpful for scheduling.")
    # The first pod goes: the claim is free for the second.
    await client.delete(PODS, "first", namespace=ns, grace_period_seconds=0)
    assert await eventually(lambda: _node_of(client, ns, "second"), what="second pod scheduled")


async def test_local_path_claims_avoid_nodes_without_local_path(client) -> None:
    ns = await new_namespace(client, "hollow")
    await client.create(NODES, node("no-disk"))  # registered without the local-path annotation
    await eventually(lambda: get_or_none(client, STORAGECLASSES, "local-path"), what="default class")
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("data", "16Mi", cls=None), namespace=ns)
    body = _with_claim("app", "data")
    body["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "no-disk"}
    await client.create(PODS, body, namespace=ns)
    msgs = await eventually(lambda: _failed_scheduling(client, ns, "app"), what="FailedScheduling")
    assert msgs[0].startswith("0/3 nodes are available: 1 node(s) didn't find available persistent volumes to "
                              "bind, 2 node(s) didn't match Pod's node affinity/selector.")
    assert (await client.get(PERSISTENTVOLUMECLAIMS, "data", namespace=ns))["status"]["phase"] == "Pending"


async def test_static_wait_for_first_consumer_volumes_pick_the_node(client) -> None:
    ns = await new_namespace(client, "static")
    await client.create(STORAGECLASSES, {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                         "metadata": {"name": "local-static"},
                                         "provisioner": "kubernetes.io/no-provisioner",
                                         "volumeBindingMode": "WaitForFirstConsumer"})
    for name, where in (("disk-b", "node-b"), ("disk-b-reserved", "node-b")):
        pv = _pv(name, "1Gi", cls="local-static")
        pv["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [where]}]}]}}
        if name == "disk-b-reserved":
            pv["spec"]["claimRef"] = {"namespace": ns, "name": "reserved"}
        await client.create(PERSISTENTVOLUMES, pv)
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("any", "1Gi", cls="local-static"), namespace=ns)
    await client.create(PERSISTENTVOLUMECLAIMS, _pvc("reserved", "1Gi", cls="local-static"), namespace=ns)
    for pod_name, claim_name in (("p-any", "any"), ("p-reserved", "reserved")):
        await client.create(PODS, _with_claim(pod_name, claim_name), namespace=ns)
    # Only node-b has volumes of the class: both pods go there, and each claim binds its own.
    assert await eventually(lambda: _node_of(client, ns, "p-any"), what="p-any bound") == "node-b"
    assert await eventually(lambda: _node_of(client, ns, "p-reserved"), what="p-reserved bound") == "node-b"
    assert (await client.get(PERSISTENTVOLUMECLAIMS, "any", namespace=ns))["spec"]["volumeName"] == "disk-b"
    assert (await client.get(PERSISTENTVOLUMECLAIMS, "reserved", namespace=ns))["spec"]["volumeName"] == \
        "disk-b-reserved"
