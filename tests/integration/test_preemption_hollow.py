"""Preemption end to end: the scheduler process and a hollow kubelet (``--runtime=fake``) on an
apiserver of the test's own. A high-priority pod that does not fit on the full node makes the
scheduler nominate the node, mark and gracefully delete the low-priority pod, and bind the
high one once the kubelet has confirmed the victim gone."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from controllers.nodeipam import NodeIpamController
from minik8s import errors, quantity
from minik8s.api.resources import EVENTS, NODES, PODS, PRIORITYCLASSES
from tests.integration.controller_harness import running
from tests.integration.test_scheduler_process import SchedulerProcess
from tests.kubelet_harness import KubeletProc
from tests.waiting import eventually


@pytest.fixture
def server(apiserver_factory: Any) -> Any:
    return apiserver_factory()


@pytest.fixture
async def client(server: Any) -> AsyncIterator[Any]:
    c = server.client()
    yield c
    await c.close()


def _pod(name: str, cls: str, cpu_millis: int) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"priorityClassName": cls, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "busybox",
                                     "resources": {"requests": {"cpu": f"{cpu_millis}m"}}}]}}


async def _get(client: Any, name: str) -> dict | None:
    try:
        return await client.get(PODS, name, namespace="default")
    except errors.NotFound:
        return None


@pytest.fixture
async def node_ipam(client: Any) -> AsyncIterator[None]:
    """Hollow nodes take their pods' addresses from the podCIDR node IPAM gives them."""
    async with running(client, lambda f: NodeIpamController(client, f)):
        yield


async def test_high_priority_pod_preempts_low_one_on_a_full_node(server: Any, client: Any, tmp_path: Any,
                                                                 node_ipam: None) -> None:
    node = f"hollow-{uuid.uuid4().hex[:6]}"
    kubelet = KubeletProc(server=server, node=node, root=tmp_path / "root", log_path=tmp_path / "kubelet.log",
                          extra_args=["--runtime", "fake"])
    scheduler = SchedulerProcess(server.kubeconfig, tmp_path / "scheduler.log", "--leader-elect=false")
    try:
        kubelet.start()
        alloc = quantity.parse_cpu_millis((await client.get(NODES, node))["status"]["allocatable"]["cpu"])
        for name, value in (("low", 100), ("high", 1000)):
            await client.create(PRIORITYCLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                                  "metadata": {"name": name}, "value": value})
        await client.create(PODS, _pod("victim", "low", alloc * 7 // 10), namespace="default")

        async def running(name: str) -> bool:
            p = await _get(client, name)
            return bool(p and (p.get("status") or {}).get("phase") == "Running")

        await eventually(lambda: running("victim"), what="the low-priority pod running")
        victim_uid = (await client.get(PODS, "victim", namespace="default"))["metadata"]["uid"]
        high = await client.create(PODS, _pod("preemptor", "high", alloc // 2), namespace="default")
        assert high["spec"]["priority"] == 1000

        async def victim_gone() -> bool:
            p = await _get(client, "victim")
            return p is None or p["metadata"]["uid"] != victim_uid

        await eventually(victim_gone, what="the victim deleted")
        await eventually(lambda: running("preemptor"), what="the preemptor running")
        p = await client.get(PODS, "preemptor", namespace="default")
        assert p["spec"]["nodeName"] == node
        assert p["status"].get("nominatedNodeName") == node

        events = (await client.list(EVENTS, namespace="default"))["items"]
        preempted = [e for e in events if e["reason"] == "Preempted"]
        assert [(e["involvedObject"]["name"], e["message"]) for e in preempted] == [
            ("victim", f"Preempted by pod {high['metadata']['uid']} on node {node}")]
        failed = [e["message"] for e in events if e["reason"] == "FailedScheduling"
                  and e["involvedObject"]["name"] == "preemptor"]
        assert failed and failed[0] == "0/1 nodes are available: 1 Insufficient cpu."
        assert "preempts 1 pod(s) on " + node in scheduler.log()
    finally:
        scheduler.stop()
        kubelet.stop()


async def test_equal_priority_finds_no_victims(server: Any, client: Any, tmp_path: Any) -> None:
    await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                                "status": {"allocatable": {"cpu": "1", "memory": "1Gi", "pods": "10"},
                                           "conditions": [{"type": "Ready", "status": "True"}]}})
    scheduler = SchedulerProcess(server.kubeconfig, tmp_path / "scheduler.log", "--leader-elect=false")
    try:
        await client.create(PRIORITYCLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                              "metadata": {"name": "mid"}, "value": 10})
        await client.create(PODS, _pod("first", "mid", 800), namespace="default")
        await client.create(PODS, _pod("second", "mid", 500), namespace="default")

        async def message() -> str | None:
            p = await client.get(PODS, "second", namespace="default")
            for c in (p.get("status") or {}).get("conditions") or ():
                if c["type"] == "PodScheduled" and c["status"] == "False":
                    return c["message"]
            return None

        assert await eventually(message, what="second unschedulable") == (
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
            "1 No preemption victims found for incoming pod.")
        assert (await client.get(PODS, "first", namespace="default"))["spec"]["nodeName"] == "n1"
    finally:
        scheduler.stop()
