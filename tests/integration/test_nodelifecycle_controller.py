"""The node lifecycle controller on a real apiserver (one of its own: nodes are cluster-wide),
with short grace periods and tolerations: a node whose Lease stops is marked Unknown and
tainted, its pods are evicted after their toleration, and it is untainted when it comes back."""

from __future__ import annotations

import datetime

import pytest

from controllers.nodelifecycle import NodeLifecycleController
from minik8s.api.resources import EVENTS, LEASES, NODES, PODS
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient
from tests.integration.controller_harness import get_or_none, new_namespace, running
from tests.waiting import eventually

UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"


@pytest.fixture
async def client(apiserver_factory):
    # DefaultTolerationSeconds admission gives every pod these (300 s each by default).
    server = apiserver_factory(extra_args=("--default-not-ready-toleration-seconds", "0",
                                           "--default-unreachable-toleration-seconds", "1"))
    async with server.client() as c:
        yield c


def stamp(micro: bool = False) -> str:
    now = datetime.datetime.now(datetime.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def ready(status: str = "True") -> dict:
    return {"type": "Ready", "status": status, "reason": "KubeletReady" if status == "True" else "KubeletNotReady",
            "message": "kubelet is posting ready status", "lastHeartbeatTime": stamp(), "lastTransitionTime": stamp()}


async def add_node(client: ApiClient, name: str, *, status: str = "True") -> None:
    """What a kubelet does at registration: the Node with its status, and its Lease."""
    await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                                "status": {"conditions": [ready(status)]}})
    await renew(client, name)


async def renew(client: ApiClient, name: str) -> None:
    lease = await get_or_none(client, LEASES, name, namespace="kube-node-lease")
    spec = {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": stamp(micro=True)}
    if lease is None:
        await client.create(LEASES, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                                     "metadata": {"name": name}, "spec": spec}, namespace="kube-node-lease")
    else:
        await client.update(LEASES, {**lease, "spec": spec})


def pod(name: str, node: str, tolerations: list[dict] | None = None) -> dict:
    spec: dict = {"nodeName": node, "containers": [{"name": "c", "image": "minik8s/busybox:latest"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def taints(client: ApiClient, name: str) -> dict[tuple[str, str], dict]:
    node = await client.get(NODES, name)
    return {(t["key"], t["effect"]): t for t in (node.get("spec") or {}).get("taints") or []}


async def events(client: ApiClient, ns: str, reason: str, name: str) -> list[dict]:
    evs = (await client.list(EVENTS, namespace=ns))["items"]
    return [e for e in evs if e["reason"] == reason and e["involvedObject"]["name"] == name]


async def deleting(client: ApiClient, ns: str, name: str) -> bool:
    p = await get_or_none(client, PODS, name, namespace=ns)
    return p is None or bool(p["metadata"].get("deletionTimestamp"))


async def test_silent_node_is_tainted_its_pods_evicted_and_untainted_when_back(client: ApiClient) -> None:
    ns = await new_namespace(client, "nl")
    await add_node(client, "n1")
    await client.create(PODS, pod("defaulted", "n1"), namespace=ns)
    await client.create(PODS, pod("patient", "n1", [{"key": UNREACHABLE, "operator": "Exists",
                                                     "effect": "NoExecute", "tolerationSeconds": 3600}]),
                        namespace=ns)
    await client.create(PODS, pod("forever", "n1", [{"operator": "Exists"}]), namespace=ns)
    await client.patch(PODS, "forever", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
                       namespace=ns, subresource="status", patch_type="strategic")

    def build(f):
        return NodeLifecycleController(
            client, f, node_monitor_grace_period=1.0, node_startup_grace_period=1.0,
            default_unreachable_toleration_seconds=1, default_not_ready_toleration_seconds=1)
    async with running(client, build):
        # The Lease is never renewed again: after the grace period the node is Unknown.
        async def unknown() -> dict | None:
            node = await client.get(NODES, "n1")
            conds = {c["type"]: c for c in node["status"]["conditions"]}
            return conds if conds["Ready"]["status"] == "Unknown" else None

        conds = await eventually(unknown, what="Ready=Unknown")
        assert conds["Ready"]["reason"] == "NodeStatusUnknown"
        assert conds["Ready"]["message"] == "Kubelet stopped posting node status."
        assert conds["MemoryPressure"]["status"] == "Unknown"

        t = await eventually(lambda: _has(client, "n1", (UNREACHABLE, "NoExecute")), what="unreachable taint")
        assert t[(UNREACHABLE, "NoExecute")].get("timeAdded")
        assert (UNREACHABLE, "NoSchedule") in t
        await eventually(lambda: events(client, "default", "NodeNotReady", "n1"), what="NodeNotReady event")

        # No toleration of its own: the default toleration (1 s here) runs out and it goes.
        await eventually(lambda: deleting(client, ns, "defaulted"), what="defaulted pod evicted")
        evs = await eventually(lambda: events(client, ns, "TaintManagerEviction", "defaulted"),
                               what="eviction event")
        assert evs[0]["message"] == f"Marking for deletion Pod {ns}/defaulted"

        async def marked_not_ready() -> bool:
            p = await client.get(PODS, "forever", namespace=ns)
            return any(c["type"] == "Ready" and c["status"] == "False" for c in p["status"].get("conditions") or [])

        await eventually(marked_not_ready, what="pods on the node marked not Ready")
        for name in ("patient", "forever"):
            p = await client.get(PODS, name, namespace=ns)
            assert not p["metadata"].get("deletionTimestamp"), name

        # The kubelet is back: it renews its Lease and posts Ready.
        await renew(client, "n1")
        await client.patch(NODES, "n1", {"status": {"conditions": [ready("True")]}}, subresource="status",
                           patch_type="strategic")

        async def untainted() -> bool:
            return not await taints(client, "n1")

        await eventually(untainted, what="taints removed")
        await eventually(lambda: events(client, "default", "NodeReady", "n1"), what="NodeReady event")


async def _has(client: ApiClient, node: str, key: tuple[str, str]) -> dict | None:
    t = await taints(client, node)
    return t if key in t else None


async def test_not_ready_node_gets_not_ready_taints_and_foreign_taints_are_kept(client: ApiClient) -> None:
    ns = await new_namespace(client, "nl")
    await add_node(client, "sick", status="False")
    await client.patch(NODES, "sick", {"spec": {"taints": [{"key": "example.com/mine", "effect": "NoSchedule"}]}})
    await client.create(PODS, pod("p", "sick", []), namespace=ns)
    def build(f):
        return NodeLifecycleController(client, f, node_monitor_grace_period=3600,
                                       default_not_ready_toleration_seconds=0)
    async with running(client, build):
        t = await eventually(lambda: _has(client, "sick", (NOT_READY, "NoExecute")), what="not-ready taint")
        assert set(t) == {(NOT_READY, "NoExecute"), (NOT_READY, "NoSchedule"), ("example.com/mine", "NoSchedule")}
        await eventually(lambda: deleting(client, ns, "p"), what="pod evicted")
        # The kubelet's own report stands: nothing went Unknown.
        node = await client.get(NODES, "sick")
        assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "False"


async def test_sync_called_directly(client: ApiClient) -> None:
    await add_node(client, "direct")
    factory = SharedInformerFactory(client)
    patient = NodeLifecycleController(client, factory, node_monitor_grace_period=3600)
    strict = NodeLifecycleController(client, factory, node_monitor_grace_period=0)
    factory.start()
    try:
        assert await factory.wait_for_sync(timeout=30)
        await eventually(lambda: _cached(patient, "direct"), what="node and lease cached")
        await patient.sync("direct")
        node = await client.get(NODES, "direct")
        assert node["status"]["conditions"][0]["status"] == "True"
        assert not (node.get("spec") or {}).get("taints")

        await strict.sync("direct")  # first sight starts the clock; a zero grace period runs out at once
        node = await client.get(NODES, "direct")
        assert {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "Unknown"
        assert {(t["key"], t["effect"]) for t in node["spec"]["taints"]} == {(UNREACHABLE, "NoExecute"),
                                                                             (UNREACHABLE, "NoSchedule")}
    finally:
        await factory.shutdown()
        for c in (patient, strict):
            await c.recorder.close()


async def _cached(ctrl: NodeLifecycleController, name: str) -> bool:
    return (ctrl.node_informer.store.get(name) is not None
            and ctrl.lease_informer.store.get(f"kube-node-lease/{name}") is not None)
