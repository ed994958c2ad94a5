"""The namespace controller on a real apiserver: ``kubectl delete ns`` empties the namespace of
every resource kind and removes it; content held by a finalizer keeps it Terminating, with
Kubernetes' conditions saying why."""

from __future__ import annotations

import asyncio

from controllers.namespace import NamespaceController
from minik8s.api import resources
from minik8s.api.resources import (
    CONFIGMAPS,
    DEPLOYMENTS,
    ENDPOINTS,
    LEASES,
    NAMESPACES,
    PODS,
    REPLICASETS,
    SECRETS,
    SERVICES,
)
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient
from tests.integration.controller_harness import get_or_none, new_namespace, running
from tests.waiting import eventually

TEMPLATE = {"metadata": {"labels": {"app": "ns"}},
            "spec": {"containers": [{"name": "c", "image": "minik8s/busybox:latest"}]}}
SPEC = {"replicas": 1, "selector": {"matchLabels": {"app": "ns"}}, "template": TEMPLATE}


async def fill(client: ApiClient, ns: str) -> None:
    """One object of every namespaced kind."""
    objs = [
        (CONFIGMAPS, {"metadata": {"name": "cm"}, "data": {"a": "b"}}),
        (SECRETS, {"metadata": {"name": "s"}, "stringData": {"a": "b"}}),
        (PODS, {"metadata": {"name": "p", "labels": {"app": "ns"}}, "spec": TEMPLATE["spec"]}),
        (SERVICES, {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}], "selector": {"app": "ns"}}}),
        (ENDPOINTS, {"metadata": {"name": "svc"}, "subsets": []}),
        (DEPLOYMENTS, {"metadata": {"name": "d"}, "spec": SPEC}),
        (REPLICASETS, {"metadata": {"name": "rs"}, "spec": SPEC}),
        (LEASES, {"metadata": {"name": "l"}, "spec": {"holderIdentity": "x"}}),
        (resources.EVENTS, {"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p", "namespace": ns},
                            "reason": "Test", "message": "m", "type": "Normal"}),
    ]
    for rt, body in objs:
        await client.create(rt, {"apiVersion": rt.api_version, "kind": rt.kind, **body}, namespace=ns)


async def test_kubectl_delete_namespace_empties_and_removes_it(client: ApiClient, kubectl) -> None:
    ns = await new_namespace(client, "nsdel")
    await fill(client, ns)
    async with running(client, lambda f: NamespaceController(client, f)):
        res = await asyncio.to_thread(kubectl, "delete", "namespace", ns, "--timeout=60s")
        assert res.returncode == 0, res.stderr
        assert await get_or_none(client, NAMESPACES, ns) is None
    for rt in resources.ALL:
        if rt.namespaced:
            left = await client.list(rt, namespace=ns)
            assert left["items"] == [], rt.plural


async def test_content_behind_a_finalizer_keeps_the_namespace_terminating(client: ApiClient) -> None:
    ns = await new_namespace(client, "nshold")
    await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}, namespace=ns)
    await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "free"}},
                        namespace=ns)
    async with running(client, lambda f: NamespaceController(client, f)):
        await client.delete(NAMESPACES, ns)

        async def reported() -> dict | None:
            obj = await client.get(NAMESPACES, ns)
            conds = {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}
            return conds if conds.get("NamespaceFinalizersRemaining", {}).get("status") == "True" else None

        conds = await eventually(reported, what="finalizers reported")
        assert conds["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
        assert conds["NamespaceContentRemaining"]["message"] == \
            "Some resources are remaining: configmaps. has 1 resource instances"
        assert conds["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizersRemain"
        assert conds["NamespaceFinalizersRemaining"]["message"] == \
            "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
        assert conds["NamespaceDeletionContentFailure"]["status"] == "False"
        obj = await client.get(NAMESPACES, ns)
        assert obj["status"]["phase"] == "Terminating"
        assert await get_or_none(client, CONFIGMAPS, "free", namespace=ns) is None

        await client.patch(CONFIGMAPS, "held", {"metadata": {"finalizers": None}}, namespace=ns)
        await eventually(lambda: _absent(client, ns), what="namespace removed once the content is gone")


async def _absent(client: ApiClient, ns: str) -> bool:
    return await get_or_none(client, NAMESPACES, ns) is None


async def test_sync_called_directly(client: ApiClient) -> None:
    ns = await new_namespace(client, "nssync")
    await client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},
                        namespace=ns)
    factory = SharedInformerFactory(client)
    ctrl = NamespaceController(client, factory)
    factory.start()
    try:
        assert await factory.wait_for_sync(timeout=30)
        await ctrl.sync(ns)  # not being deleted: nothing happens
        assert await get_or_none(client, CONFIGMAPS, "cm", namespace=ns) is not None
        await client.delete(NAMESPACES, ns)

        async def cached_deleting() -> bool:
            obj = ctrl.ns_informer.store.get(ns)
            return bool(obj and obj["metadata"].get("deletionTimestamp"))

        await eventually(cached_deleting, what="deletion seen by the informer")
        await ctrl.sync(ns)
        assert await get_or_none(client, NAMESPACES, ns) is None
        assert (await client.list(CONFIGMAPS, namespace=ns))["items"] == []
    finally:
        await factory.shutdown()
