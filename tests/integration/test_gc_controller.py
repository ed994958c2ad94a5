"""The garbage collector on a real apiserver: dangling dependents deleted, Orphan and
Foreground propagation through the real kubectl, and ``sync`` called directly."""

from __future__ import annotations

import asyncio

import pytest

from controllers.garbagecollector import GarbageCollector
from minik8s.api.resources import CONFIGMAPS, DEPLOYMENTS, PODS, REPLICASETS
from minik8s.client.rest import ApiClient
from tests.integration.controller_harness import get_or_none, new_namespace, running
from tests.waiting import eventually


@pytest.fixture
async def ns(client: ApiClient) -> str:
    return await new_namespace(client, "gc")


def ref(owner: dict, *, block: bool = False, controller: bool = False) -> dict:
    out = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
           "uid": owner["metadata"]["uid"]}
    if block:
        out["blockOwnerDeletion"] = True
    if controller:
        out["controller"] = True
    return out


def configmap(name: str, *owners: dict) -> dict:
    md: dict = {"name": name}
    if owners:
        md["ownerReferences"] = list(owners)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": {"k": "v"}}


def pod(name: str, *owners: dict, finalizers: list[str] | None = None) -> dict:
    md: dict = {"name": name, "labels": {"app": "gc"}}
    if owners:
        md["ownerReferences"] = list(owners)
    if finalizers:
        md["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": {"containers": [{"name": "c", "image": "minik8s/busybox:latest"}]}}


TEMPLATE = {"metadata": {"labels": {"app": "gc"}},
            "spec": {"containers": [{"name": "c", "image": "minik8s/busybox:latest"}]}}


def replicaset(name: str, *owners: dict) -> dict:
    md: dict = {"name": name}
    if owners:
        md["ownerReferences"] = list(owners)
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": md,
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "gc"}}, "template": TEMPLATE}}


async def gone(client: ApiClient, rt, name: str, ns: str) -> bool:
    return await get_or_none(client, rt, name, namespace=ns) is None


async def test_dependents_of_a_deleted_owner_are_deleted(client: ApiClient, ns: str) -> None:
    async with running(client, lambda f: GarbageCollector(client, f)):
        owner = await client.create(CONFIGMAPS, configmap("owner"), namespace=ns)
        keeper = await client.create(CONFIGMAPS, configmap("keeper"), namespace=ns)
        await client.create(CONFIGMAPS, configmap("dep-cm", ref(owner)), namespace=ns)
        await client.create(PODS, pod("dep-pod", ref(owner, controller=True, block=True)), namespace=ns)
        await client.create(CONFIGMAPS, configmap("shared", ref(owner), ref(keeper)), namespace=ns)
        await asyncio.sleep(0.3)
        # Owners alive: the collector leaves everything alone.
        assert await get_or_none(client, CONFIGMAPS, "dep-cm", namespace=ns) is not None

        await client.delete(CONFIGMAPS, "owner", namespace=ns)
        await eventually(lambda: gone(client, CONFIGMAPS, "dep-cm", ns), what="dep-cm deleted")
        await eventually(lambda: gone(client, PODS, "dep-pod", ns), what="dep-pod deleted")

        async def shared_released() -> bool:
            shared = await client.get(CONFIGMAPS, "shared", namespace=ns)
            return [r["uid"] for r in shared["metadata"].get("ownerReferences") or []] == [keeper["metadata"]["uid"]]

        # A dependent with another, living owner loses only the reference to the dead one.
        await eventually(shared_released, what="shared keeps only its living owner")


async def test_a_dependent_whose_owner_never_existed_is_deleted(client: ApiClient, ns: str) -> None:
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "6f1e1c2c-0000-4000-8000-000000000001"}
    async with running(client, lambda f: GarbageCollector(client, f)):
        await client.create(CONFIGMAPS, configmap("orphaned", ghost), namespace=ns)
        await eventually(lambda: gone(client, CONFIGMAPS, "orphaned", ns), what="dependent of a ghost deleted")


async def test_a_namesake_of_the_owner_does_not_keep_the_dependent(client: ApiClient, ns: str) -> None:
    """Owners are identified by uid: a new object under the owner's name is someone else."""
    async with running(client, lambda f: GarbageCollector(client, f)):
        owner = await client.create(CONFIGMAPS, configmap("owner"), namespace=ns)
        await client.delete(CONFIGMAPS, "owner", namespace=ns)
        await client.create(CONFIGMAPS, configmap("owner"), namespace=ns)
        await client.create(CONFIGMAPS, configmap("dep", ref(owner)), namespace=ns)
        await eventually(lambda: gone(client, CONFIGMAPS, "dep", ns), what="dependent deleted")
        assert await get_or_none(client, CONFIGMAPS, "owner", namespace=ns) is not None


async def test_sync_called_directly(client: ApiClient, ns: str) -> None:
    from minik8s.client.informer import SharedInformerFactory

    factory = SharedInformerFactory(client)
    gc = GarbageCollector(client, factory)
    factory.start()
    try:
        assert await factory.wait_for_sync(timeout=30)
        owner = await client.create(CONFIGMAPS, configmap("owner"), namespace=ns)
        dep = await client.create(CONFIGMAPS, configmap("dep", ref(owner)), namespace=ns)
        uid = dep["metadata"]["uid"]
        await eventually(lambda: _true(gc.graph.get(uid) is not None), what="dependent cached")
        await gc.sync(uid)
        assert await get_or_none(client, CONFIGMAPS, "dep", namespace=ns) is not None

        await client.delete(CONFIGMAPS, "owner", namespace=ns)
        await gc.sync(uid)  # the owner may still be cached: whatever the cache says, no wrong delete
        await eventually(lambda: _true(gc.graph.get(owner["metadata"]["uid"]) is None), what="owner uncached")
        await gc.sync(uid)
        assert await get_or_none(client, CONFIGMAPS, "dep", namespace=ns) is None
    finally:
        await factory.shutdown()
        await gc.recorder.close()


async def _true(value: bool) -> bool:
    return value


async def test_kubectl_cascade_orphan_leaves_dependents(client: ApiClient, ns: str, kubectl) -> None:
    async with running(client, lambda f: GarbageCollector(client, f)):
        rs = await client.create(REPLICASETS, replicaset("web"), namespace=ns)
        for i in range(2):
            await client.create(PODS, pod(f"web-{i}", ref(rs, controller=True, block=True)), namespace=ns)
        res = await asyncio.to_thread(kubectl, "delete", "rs", "web", "-n", ns, "--cascade=orphan")
        assert res.returncode == 0, res.stderr
        await eventually(lambda: gone(client, REPLICASETS, "web", ns), what="replicaset deleted")
        for i in range(2):
            p = await client.get(PODS, f"web-{i}", namespace=ns)
            assert not p["metadata"].get("ownerReferences")
            assert not p["metadata"].get("deletionTimestamp")


async def test_kubectl_cascade_foreground_waits_for_blocking_dependents(client: ApiClient, ns: str, kubectl) -> None:
    async with running(client, lambda f: GarbageCollector(client, f)):
        rs = await client.create(REPLICASETS, replicaset("web"), namespace=ns)
        await client.create(PODS, pod("free", ref(rs, controller=True, block=True)), namespace=ns)
        await client.create(PODS, pod("held", ref(rs, controller=True, block=True), finalizers=["example.com/hold"]),
                            namespace=ns)
        res = await asyncio.to_thread(kubectl, "delete", "rs", "web", "-n", ns, "--cascade=foreground", "--wait=false")
        assert res.returncode == 0, res.stderr
        await eventually(lambda: gone(client, PODS, "free", ns), what="free pod deleted")

        async def held_deleting() -> bool:
            p = await client.get(PODS, "held", namespace=ns)
            return bool(p["metadata"].get("deletionTimestamp"))

        await eventually(held_deleting, what="held pod marked for deletion")
        # The owner waits behind its finalizer while a blocking dependent remains.
        waiting = await client.get(REPLICASETS, "web", namespace=ns)
        assert waiting["metadata"].get("deletionTimestamp")
        assert "foregroundDeletion" in waiting["metadata"]["finalizers"]

        await client.patch(PODS, "held", {"metadata": {"finalizers": None}}, namespace=ns)
        await eventually(lambda: gone(client, PODS, "held", ns), what="held pod deleted")
        await eventually(lambda: gone(client, REPLICASETS, "web", ns), what="replicaset deleted after its pods")


async def test_kubectl_cascade_foreground_down_a_chain(client: ApiClient, ns: str, kubectl) -> None:
    """Deployment → ReplicaSet → pods: kubectl waits until the whole chain is gone."""
    async with running(client, lambda f: GarbageCollector(client, f)):
        deploy = await client.create(DEPLOYMENTS, {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "gc"}}, "template": TEMPLATE}},
            namespace=ns)
        rs = await client.create(REPLICASETS, replicaset("web-abc", ref(deploy, controller=True, block=True)),
                                 namespace=ns)
        for i in range(2):
            await client.create(PODS, pod(f"web-abc-{i}", ref(rs, controller=True, block=True)), namespace=ns)
        res = await asyncio.to_thread(kubectl, "delete", "deploy", "web", "-n", ns, "--cascade=foreground",
                                      "--timeout=60s")
        assert res.returncode == 0, res.stderr
        assert await gone(client, DEPLOYMENTS, "web", ns)
        assert await gone(client, REPLICASETS, "web-abc", ns)
        for i in range(2):
            assert await gone(client, PODS, f"web-abc-{i}", ns)
