"""The garbage collector, namespace, node-lifecycle and node-IPAM controllers inside the real
``minik8s-controller-manager`` process (beside the ReplicaSet and Deployment controllers),
driven by the real kubectl against an apiserver of the test's own."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from controllers import main as cm
from minik8s.api.resources import DEPLOYMENTS, NAMESPACES, NODES, PODS, REPLICASETS
from tests.conftest import REPO, ApiServer
from tests.integration.controller_harness import get_or_none, new_namespace
from tests.waiting import eventually


def test_flags_of_these_controllers() -> None:
    cfg = cm.parse_args(["--apiserver", "http://x", "--node-monitor-grace-period=5s",
                         "--default-unreachable-toleration-seconds=7", "--cluster-cidr=10.1.0.0/16",
                         "--node-cidr-mask-size=26", "--allocate-node-cidrs=false", "--concurrent-gc-syncs=3"])
    o = cfg.options
    assert (o.node_monitor_grace_period, o.node_startup_grace_period) == (5.0, 60.0)
    assert (o.default_unreachable_toleration_seconds, o.default_not_ready_toleration_seconds) == (7, 300)
    assert (o.cluster_cidr, o.node_cidr_mask_size, o.allocate_node_cidrs) == ("10.1.0.0/16", 26, False)
    assert cfg.workers["garbagecollector"] == 3 and cfg.workers["namespace"] == 10
    assert cm.enabled_controllers("garbage-collector-controller,node-ipam-controller") == ["garbagecollector",
                                                                                         "nodeipam"]
    with pytest.raises(SystemExit):
        cm.parse_args(["--apiserver", "http://x", "--cluster-cidr=10.1.0.1/16"])  # host bits set


@pytest.fixture
def manager(apiserver_factory, tmp_path):
    server = apiserver_factory()
    with open(tmp_path / "cm.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "controllers.main", "--kubeconfig", str(server.kubeconfig),
                                 "--leader-elect=false", "--secure-port=0"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    yield server
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def test_cascades_namespace_and_ipam_through_the_process(manager: ApiServer, kubectl) -> None:
    server = manager
    async with server.client() as client:
        ns = await new_namespace(client, "proc")

        async def k(*args: str) -> str:
            r = await asyncio.to_thread(kubectl, *args, server=server, timeout=90)
            assert r.returncode == 0, f"kubectl {' '.join(args)}: {r.stderr}"
            return r.stdout

        async def owned_pods(n: int) -> list[dict] | None:
            pods = (await client.list(PODS, namespace=ns))["items"]
            return pods if len(pods) == n and all(p["metadata"].get("ownerReferences") for p in pods) else None

        await k("create", "deployment", "web", "--image=minik8s/busybox:latest", "--replicas=2", "-n", ns)
        pods = await eventually(lambda: owned_pods(2), what="2 pods of the deployment")
        rs_name = pods[0]["metadata"]["ownerReferences"][0]["name"]

        # Orphan: the Deployment goes, its ReplicaSet and pods stay, the RS without an owner.
        await k("delete", "deployment", "web", "--cascade=orphan", "-n", ns)
        assert await get_or_none(client, DEPLOYMENTS, "web", namespace=ns) is None
        rs = await client.get(REPLICASETS, rs_name, namespace=ns)
        assert not rs["metadata"].get("ownerReferences") and not rs["metadata"].get("deletionTimestamp")
        assert len((await client.list(PODS, namespace=ns))["items"]) == 2

        # Foreground: kubectl returns once the ReplicaSet is gone, and its pods went first.
        await k("delete", "rs", rs_name, "--cascade=foreground", "-n", ns)
        assert (await client.list(PODS, namespace=ns))["items"] == []

        # Background (the default) through the namespace: everything in it goes, then itself.
        await k("create", "deployment", "api", "--image=minik8s/busybox:latest", "--replicas=1", "-n", ns)
        await eventually(lambda: owned_pods(1), what="a pod of the second deployment")
        await k("delete", "namespace", ns, "--timeout=60s")
        assert await get_or_none(client, NAMESPACES, ns) is None

        await client.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker"}})

        async def pod_cidr() -> str | None:
            return ((await client.get(NODES, "worker")).get("spec") or {}).get("podCIDR")

        assert await eventually(pod_cidr, what="podCIDR") == "10.244.0.0/24"
