"""Deployments end to end on real Docker: apiserver + scheduler + controller-manager + a kubelet,
driven by the real kubectl. Self-healing (a deleted pod is replaced, a killed container
restarted), scaling 3 → 6 → 1, a rolling image change with maxUnavailable 0 during which a
watcher never sees fewer Ready pods than declared, rollback to revision 1, and Recreate
(every old pod gone before the first new one exists).

The cluster is this module's own (its own apiserver), so no other test's objects meet its
controllers. Images are local tags of the test busybox (nothing can be pulled here).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass

import pytest

from minik8s.api.resources import NAMESPACES, PODS
from minik8s.client.informer import Informer
from minik8s.client.rest import ApiClient
from tests.conftest import ApiServer, pick_free_port, start_control_plane
from tests.integration.workload_helpers import wait_for
from tests.kubelet_harness import KubeletProc, remove_node_containers
from tests.minik8s_up_harness import remove_node_network

pytestmark = pytest.mark.docker

V1, V2, V3 = "minik8s/busybox:wl-e2e-1", "minik8s/busybox:wl-e2e-2", "minik8s/busybox:wl-e2e-3"


@dataclass
class Cluster:
    api: ApiServer
    node: str
    kubelet: KubeletProc
    logs: dict


def _deployment(name: str, replicas: int, image: str, strategy: dict) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  strategy: {strategy}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {image}
        command: [sleep, "3600"]
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, test_images, docker_client):
    base = tmp_path_factory.mktemp("workloads-e2e")
    busybox = docker_client.images.get(test_images.busybox)
    for tag in (V1, V2, V3):
        repo, _, t = tag.partition(":")
        busybox.tag(repo, t)
    api = ApiServer(data_dir=base / "data", port=pick_free_port(), log_path=base / "apiserver.log")
    api.start()
    control_plane = start_control_plane(api, base)
    node = f"wl-{uuid.uuid4().hex[:8]}"
    kubelet = KubeletProc(server=api, node=node, root=base / "root", log_path=base / "kubelet.log")
    try:
        kubelet.start()
        yield Cluster(api, node, kubelet, control_plane.logs)
    finally:
        control_plane.stop()
        kubelet.stop()
        remove_node_containers(docker_client, node)
        remove_node_network(docker_client, node)
        api.stop()
        for tag in (V1, V2, V3):
            with contextlib.suppress(Exception):
                docker_client.images.remove(tag)


@pytest.fixture
async def ns(cluster):
    async with cluster.api.client() as client:
        name = f"wl-{uuid.uuid4().hex[:8]}"
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        yield client, name


def is_ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in (pod.get("status") or {}).get("conditions") or [])


def image(pod: dict) -> str:
    return pod["spec"]["containers"][0]["image"]


async def ready_pods(client: ApiClient, ns: str, n: int, *, img: str | None = None, exact_total: bool = True) -> list | None:
    pods = (await client.list(PODS, namespace=ns))["items"]
    ready = [p for p in pods if is_ready(p) and not p["metadata"].get("deletionTimestamp")
             and (img is None or image(p) == img)]
    if len(ready) != n or (exact_total and len(pods) != n):
        return None
    return ready


class PodWatch:
    """An informer over the namespace's pods calling ``check(store)`` on every change."""

    def __init__(self, client: ApiClient, ns: str, check) -> None:
        self.inf = Informer(client, PODS, namespace=ns)
        self.inf.add_handler(on_add=lambda o: check(self.inf.store), on_update=lambda o, n: check(self.inf.store),
                             on_delete=lambda o: check(self.inf.store))

    async def __aenter__(self) -> PodWatch:
        self.task = asyncio.create_task(self.inf.run())
        await self.inf.wait_synced()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_self_healing_scaling_rolling_update_and_rollback(cluster, ns, kubectl, docker_client):
    client, name = ns

    async def k(*args: str, input: str | None = None) -> str:
        r = await asyncio.to_thread(kubectl, *args, "-n", name, input=input, server=cluster.api, timeout=180)
        assert r.returncode == 0, f"kubectl {' '.join(args)}: {r.stderr}\n{cluster.kubelet.log_tail()}"
        return r.stdout

    strategy = "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"
    await k("apply", "-f", "-", input=_deployment("web", 3, V1, strategy))
    assert "successfully rolled out" in await k("rollout", "status", "deploy/web", "--timeout=120s")
    pods = await wait_for(lambda: ready_pods(client, name, 3), timeout=60, what="3 ready pods")
    assert {p["spec"]["nodeName"] for p in pods} == {cluster.node}

    # A deleted pod is replaced.
    victim = pods[0]["metadata"]["name"]
    await k("delete", "pod", victim, "--wait=false")
    pods = await wait_for(lambda: ready_pods(client, name, 3), timeout=60, what="a replacement")
    assert victim not in {p["metadata"]["name"] for p in pods}

    # A killed container is restarted in place (the kubelet's part of self-healing).
    target = pods[0]
    cid = target["status"]["containerStatuses"][0]["containerID"].removeprefix("docker://")
    await asyncio.to_thread(docker_client.containers.get(cid).kill)

    async def restarted():
        p = await client.get(PODS, target["metadata"]["name"], namespace=name)
        st = p["status"]["containerStatuses"][0]
        return p if st.get("restartCount", 0) >= 1 and is_ready(p) else None
    await wait_for(restarted, timeout=60, what="the killed container restarted")

    # Scale 3 -> 6 -> 1.
    await k("scale", "deploy/web", "--replicas=6")
    await wait_for(lambda: ready_pods(client, name, 6), timeout=60, what="6 ready pods")
    await k("scale", "deploy/web", "--replicas=1")
    await wait_for(lambda: ready_pods(client, name, 1), timeout=60, what="1 pod left")
    await k("scale", "deploy/web", "--replicas=3")
    await wait_for(lambda: ready_pods(client, name, 3), timeout=60, what="back to 3")

    # set image with maxUnavailable 0: never fewer than 3 Ready pods at any moment.
    seen = {"min_ready": 99, "events": 0}

    def check(store) -> None:
        ready = sum(1 for p in store.list() if is_ready(p) and not p["metadata"].get("deletionTimestamp"))
        seen["min_ready"] = min(seen["min_ready"], ready)
        seen["events"] += 1
    async with PodWatch(client, name, check):
        await k("set", "image", "deploy/web", f"main={V2}")
        assert "successfully rolled out" in await k("rollout", "status", "deploy/web", "--timeout=120s")
        await wait_for(lambda: ready_pods(client, name, 3, img=V2), timeout=60, what="3 ready V2 pods")
    assert seen["events"] > 0 and seen["min_ready"] >= 3, seen

    # Roll back to revision 1.
    await k("rollout", "undo", "deploy/web", "--to-revision=1")
    assert "successfully rolled out" in await k("rollout", "status", "deploy/web", "--timeout=120s")
    await wait_for(lambda: ready_pods(client, name, 3, img=V1), timeout=60, what="3 ready V1 pods")
    history = await k("rollout", "history", "deploy/web")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]


async def test_recreate_stops_every_old_pod_before_the_first_new_one(cluster, ns, kubectl):
    client, name = ns

    async def k(*args: str, input: str | None = None) -> str:
        r = await asyncio.to_thread(kubectl, *args, "-n", name, input=input, server=cluster.api, timeout=180)
        assert r.returncode == 0, f"kubectl {' '.join(args)}: {r.stderr}"
        return r.stdout

    await k("apply", "-f", "-", input=_deployment("db", 2, V1, "{type: Recreate}"))
    assert "successfully rolled out" in await k("rollout", "status", "deploy/db", "--timeout=120s")
    overlaps: list[str] = []

    def check(store) -> None:
        # Kubernetes' Recreate waits until no old pod runs: a pod whose containers have all
        # stopped (phase Failed/Succeeded) no longer counts, even before its object is gone.
        pods = store.list()
        running_old = [p for p in pods if image(p) == V1
                       and (p.get("status") or {}).get("phase") not in ("Failed", "Succeeded")]
        if any(image(p) == V3 for p in pods) and running_old:
            overlaps.append(", ".join(f"{p['metadata']['name']}={image(p)}" for p in pods))
    async with PodWatch(client, name, check):
        await k("set", "image", "deploy/db", f"main={V3}")
        assert "successfully rolled out" in await k("rollout", "status", "deploy/db", "--timeout=120s")
        await wait_for(lambda: ready_pods(client, name, 2, img=V3), timeout=60, what="2 ready V3 pods")
    assert overlaps == []
