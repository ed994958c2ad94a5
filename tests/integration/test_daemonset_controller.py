"""DaemonSets on a real apiserver of their own (nodes are cluster-wide): one pod per eligible node
(nodeSelector, taints, the tolerations Kubernetes adds), a joining node gets its pod and a leaving
one loses it, ControllerRevisions, a rolling update within maxUnavailable, validation, and the
real kubectl's ``rollout status|history|undo daemonset``.

No kubelet or scheduler runs: a test writes the pods' Ready status itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest

from controllers.daemonset import DaemonSetController
from minik8s import errors
from minik8s.api.resources import CONTROLLERREVISIONS, DAEMONSETS, EVENTS, NAMESPACES, NODES, PODS
from tests.integration.controller_harness import running
from tests.integration.workload_helpers import ready_status
from tests.waiting import eventually

NS = "ds-test"


@pytest.fixture
async def server(apiserver_factory):
    srv = apiserver_factory()
    async with srv.client() as client:
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        yield srv, client


def node(name: str, labels: dict | None = None, taints: list | None = None, unschedulable: bool = False) -> dict:
    spec: dict = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def daemonset(name: str, image: str = "minik8s/busybox:v1", **spec) -> dict:
    tpl_spec = spec.pop("pod_spec", {})
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "agent", "image": image}], **tpl_spec}},
                     **spec}}


async def pods_by_node(client, name: str) -> dict[str, list[dict]]:
    from controllers.daemonset_utils import target_node
    out: dict[str, list[dict]] = {}
    for p in (await client.list(PODS, namespace=NS, label_selector=f"app={name}"))["items"]:
        if not p["metadata"].get("deletionTimestamp"):
            out.setdefault(target_node(p), []).append(p)
    return out


async def nodes_are(client, name: str, want: set[str]):
    got = await pods_by_node(client, name)
    return got if set(got) == want and all(len(v) == 1 for v in got.values()) else None


async def test_a_pod_per_eligible_node_and_nodes_joining_and_leaving(server):
    _, client = server
    await client.create(NODES, node("n1", {"disk": "ssd"}))
    await client.create(NODES, node("n2", {"disk": "ssd"}, taints=[{"key": "dedicated", "value": "db",
                                                                      "effect": "NoSchedule"}]))
    await client.create(NODES, node("n3", {"disk": "hdd"}))
    await client.create(NODES, node("n4", {"disk": "ssd"}, unschedulable=True,
                                    taints=[{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]))
    async with running(client, lambda f: DaemonSetController(client, f)):
        await client.create(DAEMONSETS, daemonset("agent", pod_spec={"nodeSelector": {"disk": "ssd"}}), namespace=NS)
        # n2's taint is not tolerated; n3 does not match; n4 is cordoned and not ready, which
        # daemon pods tolerate.
        pods = await eventually(lambda: nodes_are(client, "agent", {"n1", "n4"}), what="pods on n1 and n4")
        pod = pods["n1"][0]
        terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert terms == {"nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["n1"]}]}]}
        tols = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
        assert tols == {("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
                        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
                        ("node.kubernetes.io/unschedulable", "NoSchedule")}
        assert pod["metadata"]["labels"]["controller-revision-hash"]
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "DaemonSet"

        # A node that joins gets its pod; a label change makes a node eligible.
        await client.create(NODES, node("n5", {"disk": "ssd"}))
        await client.patch(NODES, "n3", {"metadata": {"labels": {"disk": "ssd"}}}, patch_type="merge")
        await eventually(lambda: nodes_are(client, "agent", {"n1", "n3", "n4", "n5"}), what="pods on n3 and n5")
        # A node that leaves loses it; an untolerated NoExecute taint evicts.
        await client.delete(NODES, "n5")
        await client.patch(NODES, "n1", {"spec": {"taints": [{"key": "gone", "effect": "NoExecute"}]}},
                           patch_type="merge")
        await eventually(lambda: nodes_are(client, "agent", {"n3", "n4"}), what="pods off n1 and n5")

        async def status():
            ds = await client.get(DAEMONSETS, "agent", namespace=NS)
            st = ds["status"]
            want = {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberMisscheduled": 0,
                    "numberReady": 0, "updatedNumberScheduled": 2, "numberAvailable": 0, "numberUnavailable": 2}
            return st if all(st.get(k) == v for k, v in want.items()) and st["observedGeneration"] == 1 else None
        await eventually(status, what="status")


def _ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (pod.get("status") or {}).get("conditions") or [])


async def mark_all_ready(client, name: str) -> None:
    for p in (await client.list(PODS, namespace=NS, label_selector=f"app={name}"))["items"]:
        if not p["metadata"].get("deletionTimestamp") and not _ready(p):
            with contextlib.suppress(errors.NotFound):
                await client.patch(PODS, p["metadata"]["name"], {"status": ready_status()}, namespace=NS,
                                   subresource="status", patch_type="merge")


async def test_rolling_update_revisions_and_kubectl_rollout(server, kubectl):
    srv, client = server
    for i in range(3):
        await client.create(NODES, node(f"r{i}"))
    async with running(client, lambda f: DaemonSetController(client, f)):
        await client.create(DAEMONSETS, daemonset("roll"), namespace=NS)
        await eventually(lambda: nodes_are(client, "roll", {"r0", "r1", "r2"}), what="3 pods")

        # Plays the kubelets: every new pod becomes Ready; records how many are unavailable.
        worst = 0

        async def readier():
            nonlocal worst
            while True:
                pods = (await client.list(PODS, namespace=NS, label_selector="app=roll"))["items"]
                ready = [p for p in pods if not p["metadata"].get("deletionTimestamp") and _ready(p)]
                worst = max(worst, 3 - len(ready))
                await mark_all_ready(client, "roll")
                await asyncio.sleep(0.05)

        task = asyncio.create_task(readier())
        try:
            async def k(*a):
                # In a thread: the controller and the readier run on this loop meanwhile.
                return await asyncio.to_thread(kubectl, *a, "-n", NS, server=srv, timeout=60)
            r = await k("rollout", "status", "daemonset/roll", "--timeout=30s")
            assert "daemon set \"roll\" successfully rolled out" in r.stdout, r.stdout + r.stderr
            worst = 0
            r = await k("set", "image", "daemonset/roll", "agent=minik8s/busybox:v2")
            assert r.returncode == 0, r.stderr
            r = await k("rollout", "status", "daemonset/roll", "--timeout=30s")
            assert "successfully rolled out" in r.stdout, r.stdout + r.stderr
            pods = await eventually(lambda: nodes_are(client, "roll", {"r0", "r1", "r2"}), what="3 new pods")
            assert {p[0]["spec"]["containers"][0]["image"] for p in pods.values()} == {"minik8s/busybox:v2"}
            assert worst <= 1, "maxUnavailable 1: never more than one node without a ready pod"

            revs = (await client.list(CONTROLLERREVISIONS, namespace=NS))["items"]
            assert sorted(r["revision"] for r in revs) == [1, 2]
            r2 = [r for r in revs if r["revision"] == 2][0]
            assert r2["data"]["spec"]["template"]["$patch"] == "replace"
            assert r2["metadata"]["name"] == f"roll-{r2['metadata']['labels']['controller-revision-hash']}"
            r = await k("rollout", "history", "daemonset/roll")
            assert r.returncode == 0 and [ln.split()[0] for ln in r.stdout.splitlines()[2:] if ln.strip()] == ["1", "2"], r.stdout
            r = await k("get", "controllerrevisions")
            assert r.stdout.splitlines()[0].split() == ["NAME", "CONTROLLER", "REVISION", "AGE"]
            assert "daemonset.apps/roll" in r.stdout

            r = await k("rollout", "undo", "daemonset/roll")
            assert r.returncode == 0 and "rolled back" in r.stdout, r.stdout + r.stderr
            r = await k("rollout", "status", "daemonset/roll", "--timeout=30s")
            assert "successfully rolled out" in r.stdout, r.stdout + r.stderr
            pods = await eventually(lambda: nodes_are(client, "roll", {"r0", "r1", "r2"}), what="rolled back")
            assert {p[0]["spec"]["containers"][0]["image"] for p in pods.values()} == {"minik8s/busybox:v1"}
            revs = (await client.list(CONTROLLERREVISIONS, namespace=NS))["items"]
            assert sorted(r["revision"] for r in revs) == [2, 3], "the old revision is renumbered, not copied"
            r = await k("get", "ds", "roll", "-o", "wide")
            head = r.stdout.splitlines()[0].split()
            assert head[:8] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR"]
            assert r.stdout.splitlines()[1].split()[:7] == ["roll", "3", "3", "3", "3", "3", "<none>"]
            assert json.loads((await k("get", "ds", "roll", "-o", "json")).stdout)["spec"]["updateStrategy"] == {
                "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("spec, field, message", [
    ({"selector": {"matchLabels": {"app": "other"}}}, "spec.template.metadata.labels",
     "`selector` does not match template `labels`"),
    ({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}},
     "spec.updateStrategy.rollingUpdate.maxUnavailable", "may not be 0 when `maxSurge` is 0"),
    ({"updateStrategy": {"type": "Sometimes"}}, "spec.updateStrategy.type", 'Unsupported value: "Sometimes"'),
])
async def test_invalid_daemonsets_are_refused(server, spec, field, message):
    _, client = server
    body = daemonset("bad")
    body["spec"].update(spec)
    with pytest.raises(errors.Invalid) as e:
        await client.create(DAEMONSETS, body, namespace=NS)
    assert any(c.get("field") == field and message in c.get("message", "") for c in e.value.causes), e.value.causes


async def test_failed_pods_are_killed_with_a_per_node_back_off(server):
    """Against a fake clock, calling sync directly: a failed daemon pod is killed and replaced,
    but another failure on the same node within the back-off (1 s, doubling) waits."""
    from tests.integration.job_helpers import Clock, cached, sync, synced

    _, client = server
    await client.create(NODES, node("f1"))
    clock = Clock()
    async with synced(client, lambda f: DaemonSetController(client, f, clock=clock, queue=clock.queue("ds"))) as ctrl:
        await client.create(DAEMONSETS, daemonset("flaky"), namespace=NS)
        key = f"{NS}/flaky"
        await cached(ctrl.ds_informer.store, key, lambda d: True, "ds cached")

        async def fail_current() -> str:
            pods = await eventually(lambda: nodes_are(client, "flaky", {"f1"}), what="a pod on f1")
            pod = pods["f1"][0]
            await client.patch(PODS, pod["metadata"]["name"], {"status": {"phase": "Failed"}}, namespace=NS,
                               subresource="status", patch_type="merge")
            await cached(ctrl.pod_informer.store, f"{NS}/{pod['metadata']['name']}",
                         lambda p: p["status"].get("phase") == "Failed", "failure cached")
            return pod["metadata"]["name"]

        async def gone(name: str) -> bool:
            return ctrl.pod_informer.store.get(f"{NS}/{name}") is None

        await sync(ctrl, key)
        first = await fail_current()
        await sync(ctrl, key)  # killed at once
        await eventually(lambda: gone(first), what="first failed pod gone")
        await sync(ctrl, key)  # replaced
        second = await fail_current()
        clock.step(0.5)
        await sync(ctrl, key)
        assert not await gone(second), "within the 1 s back-off the failed pod stays"
        clock.step(0.6)
        await sync(ctrl, key)
        await eventually(lambda: gone(second), what="second failed pod gone after the back-off")
        events = [e for e in (await client.list(EVENTS, namespace=NS))["items"] if e["reason"] == "FailedDaemonPod"]
        assert events and "will try to kill it" in events[0]["message"]


async def test_rolling_update_with_max_surge_starts_the_new_pod_first(server):
    """maxSurge 1, maxUnavailable 0: on each node the new pod runs beside the old one until it
    is available, so a node never lacks a ready daemon pod."""
    _, client = server
    for i in range(2):
        await client.create(NODES, node(f"s{i}"))
    async with running(client, lambda f: DaemonSetController(client, f)):
        await client.create(DAEMONSETS, daemonset("surge", updateStrategy={
            "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}), namespace=NS)
        await eventually(lambda: nodes_are(client, "surge", {"s0", "s1"}), what="2 pods")
        doubled = False
        uncovered = False

        async def readier():
            nonlocal doubled, uncovered
            while True:
                by_node = await pods_by_node(client, "surge")
                doubled = doubled or any(len(v) == 2 for v in by_node.values())
                uncovered = uncovered or any(not any(_ready(p) for p in by_node.get(n, [])) for n in ("s0", "s1")
                                             if any(_ready(p) for ps in by_node.values() for p in ps))
                await mark_all_ready(client, "surge")
                await asyncio.sleep(0.05)

        task = asyncio.create_task(readier())
        try:
            await eventually(lambda: _ds_available(client, "surge", 2), what="2 available")
            uncovered = False
            await client.patch(DAEMONSETS, "surge", {"spec": {"template": {"spec": {"containers": [
                {"name": "agent", "image": "minik8s/busybox:v2"}]}}}}, namespace=NS, patch_type="strategic")

            async def all_new():
                by_node = await pods_by_node(client, "surge")
                return all(len(v) == 1 and v[0]["spec"]["containers"][0]["image"] == "minik8s/busybox:v2"
                           and _ready(v[0]) for v in by_node.values()) and len(by_node) == 2
            await eventually(all_new, what="both nodes on v2")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert doubled, "a new pod ran beside the old one"
        assert not uncovered, "no node was ever without a ready daemon pod"


async def _ds_available(client, name: str, n: int) -> bool:
    st = (await client.get(DAEMONSETS, name, namespace=NS)).get("status") or {}
    return st.get("numberAvailable") == n
