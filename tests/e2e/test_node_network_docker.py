"""A node's pod network and DNS on real Docker (issue #14): a node is NotReady, with a
NetworkUnavailable condition saying why, until both are up; pods wait meanwhile instead of
running on Docker's default bridge with the host's resolv.conf; a stale pod network of an
earlier node that holds the podCIDR ("Pool overlaps") is retried and reclaimed as soon as no
live container uses it; a pod network removed under the kubelet is made again.

The node gets its podCIDR from the node IPAM controller (in-process) out of a /16 no Docker
network here uses; a stale minik8s network with a running container on all of that /16 stands
for what a killed kubelet left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import uuid

import docker
import pytest

from controllers.nodeipam import NodeIpamController
from kubelet import network
from kubelet.runtime.docker import DockerRuntime
from minik8s.api.resources import NODES, PODS
from tests.integration.controller_harness import running
from tests.kubelet_harness import (  # noqa: F401 - fixtures
    BUSYBOX,
    NODE_LABEL,
    container_status,
    events_for,
    is_ready,
    kubelet_factory,
    pod_manifest,
    wait_pod,
)
from tests.waiting import eventually

pytestmark = pytest.mark.usefixtures("test_images")


def free_cluster_cidr(docker_client) -> str:
    """A /16 of 10.0.0.0/8 that overlaps no Docker network on this engine."""
    used = [ipaddress.ip_network(c["Subnet"]) for n in docker_client.networks.list()
            for c in ((n.attrs.get("IPAM") or {}).get("Config") or []) if c.get("Subnet")]
    for _ in range(200):
        cand = ipaddress.ip_network(f"10.{random.randint(100, 250)}.0.0/16")
        if not any(cand.overlaps(u) for u in used):
            return str(cand)
    pytest.fail("no free /16 in 10.100-250.0.0 for the test's cluster CIDR")


def node_conditions(node: dict) -> dict[str, dict]:
    return {c["type"]: c for c in (node.get("status") or {}).get("conditions") or []}


async def test_stale_network_keeps_the_node_not_ready_and_is_reclaimed(
        client, namespace, kubelet_factory, docker_client, kubectl) -> None:
    cidr = free_cluster_cidr(docker_client)
    stale_node = f"stale-{uuid.uuid4().hex[:6]}"
    net = docker_client.networks.create(
        f"minik8s-{stale_node}", driver="bridge", labels={NODE_LABEL: stale_node},
        ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(
            subnet=cidr, gateway=str(ipaddress.ip_network(cidr).network_address + 1))]))
    blocker = docker_client.containers.run(BUSYBOX, ["sleep", "600"], detach=True, network=net.name,
                                           labels={NODE_LABEL: stale_node}, name=f"{stale_node}-blocker")
    # A short container GC period: the deleted pod's stopped containers are waited for below.
    k = kubelet_factory(extra_args=("--cluster-cidr", cidr, "--disable-proxy", "--container-gc-period", "2"),
                        start=False)
    pod_cidr = None
    try:
        k.start(wait_ready=False)
        async with running(client, lambda f: NodeIpamController(client, f, cluster_cidr=cidr)):
            async def unavailable() -> dict | None:
                try:
                    conds = node_conditions(await client.get(NODES, k.node))
                except Exception:
                    return None
                nu = conds.get("NetworkUnavailable")
                return conds if nu and nu["status"] == "True" and "overlaps" in nu["message"] else None
            conds = await eventually(unavailable, what="NetworkUnavailable=True naming the overlap", timeout=60)
            pod_cidr = (await client.get(NODES, k.node))["spec"]["podCIDR"]
            assert conds["Ready"]["status"] == "False" and conds["Ready"]["reason"] == "KubeletNotReady"
            assert conds["Ready"]["message"].startswith("container runtime network not ready: NetworkReady=false")
            assert f"pod network minik8s-{k.node} on {pod_cidr} cannot be made" in conds["Ready"]["message"]

            # A pod bound here meanwhile waits: no sandbox on Docker's default bridge.
            pod = pod_manifest("dns", k.node, [{"name": "c", "command": ["sh", "-c", "cat /etc/resolv.conf; sleep 3600"]}])
            await client.create(PODS, pod, namespace=namespace)

            async def told() -> list[dict]:
                return [e for e in await events_for(client, namespace, "dns") if e["reason"] == "NetworkNotReady"]
            (event,) = await eventually(told, what="a NetworkNotReady event", timeout=60)
            assert "cannot be made" in event["message"]
            waiting = await client.get(PODS, "dns", namespace=namespace)
            assert not waiting["status"].get("podIP")
            assert container_status(waiting, "c")["state"] == {"waiting": {"reason": "ContainerCreating"}}
            assert docker_client.containers.list(all=True, ignore_removed=True, filters={"label": f"{NODE_LABEL}={k.node}"}) == []

            # The stale network's last live container goes: the kubelet reclaims it, makes its
            # own, starts its DNS, and only then is the node Ready.
            blocker.remove(force=True)

            async def ready() -> dict | None:
                conds = node_conditions(await client.get(NODES, k.node))
                return conds if conds["Ready"]["status"] == "True" else None
            conds = await eventually(ready, what="the node Ready again", timeout=90)
            assert conds["NetworkUnavailable"]["status"] == "False"
            assert conds["NetworkUnavailable"]["message"] == f"pod network minik8s-{k.node} on {pod_cidr} is up"
            with pytest.raises(docker.errors.NotFound):
                docker_client.networks.get(net.id)

        running_pod = await wait_pod(client, namespace, "dns", is_ready, what="Ready", kubelet=k, timeout=90)
        assert ipaddress.ip_address(running_pod["status"]["podIP"]) in ipaddress.ip_network(pod_cidr)
        r = kubectl("logs", "-n", namespace, "dns")
        gateway = network.gateway_ip(pod_cidr)
        assert f"nameserver {gateway}" in r.stdout, r
        assert "ndots:5" in r.stdout and f"search {namespace}.svc.cluster.local" in r.stdout

        # The network removed under the kubelet (as an overlapping node's kubelet may): it is
        # made again, and the next pod runs on it.
        await client.delete(PODS, "dns", namespace=namespace, grace_period_seconds=0)

        async def gone() -> bool:
            return not docker_client.containers.list(all=True, ignore_removed=True, filters={"label": f"{NODE_LABEL}={k.node}"})
        await eventually(gone, what="the pod's containers removed by the container GC", timeout=60)
        docker_client.networks.get(f"minik8s-{k.node}").remove()
        await client.create(PODS, pod_manifest("again", k.node, [{"name": "c", "command": ["sleep", "3600"]}]),
                            namespace=namespace)
        again = await wait_pod(client, namespace, "again", is_ready, what="Ready on the remade network", kubelet=k,
                               timeout=120)
        assert ipaddress.ip_address(again["status"]["podIP"]) in ipaddress.ip_network(pod_cidr)
        docker_client.networks.get(f"minik8s-{k.node}")
    finally:
        k.stop()
        with contextlib.suppress(docker.errors.APIError):
            blocker.remove(force=True)
        with contextlib.suppress(docker.errors.APIError):
            net.remove()
        await remove_pod_network(docker_client, k.node, cidr, pod_cidr)


async def remove_pod_network(docker_client, node: str, cluster_cidr: str, pod_cidr: str | None) -> None:
    """The node's network and its masquerade rule (what PodNetwork.remove undoes)."""
    for c in docker_client.containers.list(all=True, ignore_removed=True, filters={"label": f"{NODE_LABEL}={node}"}):
        with contextlib.suppress(docker.errors.APIError):
            c.remove(force=True)
    runtime = await DockerRuntime.connect()
    try:
        pn = network.PodNetwork(node, runtime, cluster_cidr=cluster_cidr)
        pn.pod_cidr = pod_cidr
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pn.remove(), 30)
    finally:
        await runtime.close()


async def test_a_node_without_a_podcidr_holds_its_pods_until_it_gets_one(
        client, namespace, kubelet_factory, docker_client, kubectl) -> None:
    """No node IPAM yet: the node is NotReady saying it has no podCIDR, and a ClusterFirst pod
    waits (an event names the cause; no container, no IP) instead of running on Docker's default
    bridge with the host's resolv.conf. Once IPAM gives the podCIDR, the network and DNS come up,
    the node turns Ready, and the pod runs on the pod network with the cluster's nameserver."""
    cidr = free_cluster_cidr(docker_client)
    k = kubelet_factory(extra_args=("--cluster-cidr", cidr, "--disable-proxy"), start=False, default_network=False)
    pod_cidr = None
    try:
        k.start(wait_ready=False)

        async def held() -> dict | None:
            try:
                conds = node_conditions(await client.get(NODES, k.node))
            except Exception:
                return None
            nu = conds.get("NetworkUnavailable")
            return conds if nu and nu["status"] == "True" and "has no podCIDR yet" in nu["message"] else None
        conds = await eventually(held, what="NetworkUnavailable=True naming the missing podCIDR", timeout=60)
        assert conds["Ready"]["status"] == "False"
        assert f"node {k.node} has no podCIDR yet" in conds["Ready"]["message"]

        pod = pod_manifest("dns", k.node, [{"name": "c", "command": ["sh", "-c", "cat /etc/resolv.conf; sleep 3600"]}])
        await client.create(PODS, pod, namespace=namespace)

        async def told() -> list[dict]:
            return [e for e in await events_for(client, namespace, "dns") if e["reason"] == "NetworkNotReady"]
        (event,) = await eventually(told, what="a NetworkNotReady event", timeout=60)
        assert "has no podCIDR yet" in event["message"]
        await asyncio.sleep(2)  # the kubelet retries meanwhile; it must still be waiting
        waiting = await client.get(PODS, "dns", namespace=namespace)
        assert not waiting["status"].get("podIP")
        assert container_status(waiting, "c")["state"] == {"waiting": {"reason": "ContainerCreating"}}
        assert docker_client.containers.list(all=True, ignore_removed=True, filters={"label": f"{NODE_LABEL}={k.node}"}) == []

        async with running(client, lambda f: NodeIpamController(client, f, cluster_cidr=cidr)):
            async def ready() -> dict | None:
                conds = node_conditions(await client.get(NODES, k.node))
                return conds if conds["Ready"]["status"] == "True" else None
            conds = await eventually(ready, what="the node Ready once it has a podCIDR", timeout=90)
            pod_cidr = (await client.get(NODES, k.node))["spec"]["podCIDR"]
            assert conds["NetworkUnavailable"]["status"] == "False"
            running_pod = await wait_pod(client, namespace, "dns", is_ready, what="Ready", kubelet=k, timeout=90)
        assert ipaddress.ip_address(running_pod["status"]["podIP"]) in ipaddress.ip_network(pod_cidr)
        r = kubectl("logs", "-n", namespace, "dns")
        assert f"nameserver {network.gateway_ip(pod_cidr)}" in r.stdout, r
        assert not [e for e in await events_for(client, namespace, "dns") if e["reason"] == "MissingClusterDNS"]
    finally:
        k.stop()
        await remove_pod_network(docker_client, k.node, cidr, pod_cidr)


async def test_a_node_whose_dns_cannot_start_holds_its_pods_and_starts_it_again(
        client, namespace, kubelet_factory, docker_client, kubectl) -> None:
    """The node's DNS cannot bind its gateway's port 53 (the test holds it): the node stays
    NotReady naming the error, a ClusterFirst pod waits instead of getting the host's resolv.conf;
    once the port is free the kubelet starts its DNS again, and the pod runs with it."""
    import socket

    cidr = free_cluster_cidr(docker_client)
    k = kubelet_factory(extra_args=("--cluster-cidr", cidr, "--disable-proxy"), start=False, default_network=False)
    pod_cidr = str(next(ipaddress.ip_network(cidr).subnets(new_prefix=24)))
    gateway = network.gateway_ip(pod_cidr)
    # the node's pod network made beforehand, as the kubelet makes it, so its gateway exists
    net = docker_client.networks.create(
        f"minik8s-{k.node}", driver="bridge", labels={NODE_LABEL: k.node},
        ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=pod_cidr, gateway=gateway)]),
        options={"com.docker.network.bridge.name": network.bridge_name(k.node),
                 "com.docker.network.bridge.enable_ip_masquerade": "false"})
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        udp.bind((gateway, 53))
        tcp.bind((gateway, 53))
        tcp.listen()
        k.start(wait_ready=False)

        async def registered() -> bool:
            try:
                await client.get(NODES, k.node)
                return True
            except Exception:
                return False
        await eventually(registered, what="the node registered", timeout=60)
        # the podCIDR, as node IPAM would give it
        await client.patch(NODES, k.node, {"spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}})

        async def dns_down() -> dict | None:
            conds = node_conditions(await client.get(NODES, k.node))
            nu = conds.get("NetworkUnavailable")
            return conds if nu and nu["status"] == "True" and "is not serving yet" in nu["message"] else None
        conds = await eventually(dns_down, what="NetworkUnavailable=True naming the DNS", timeout=60)
        assert conds["Ready"]["status"] == "False"
        assert "could not bind" in conds["NetworkUnavailable"]["message"], conds["NetworkUnavailable"]

        pod = pod_manifest("dns", k.node, [{"name": "c", "command": ["sh", "-c", "cat /etc/resolv.conf; sleep 3600"]}])
        await client.create(PODS, pod, namespace=namespace)

        async def told() -> list[dict]:
            return [e for e in await events_for(client, namespace, "dns") if e["reason"] == "NetworkNotReady"]
        (event,) = await eventually(told, what="a NetworkNotReady event", timeout=60)
        assert "cluster DNS" in event["message"]
        waiting = await client.get(PODS, "dns", namespace=namespace)
        assert container_status(waiting, "c")["state"] == {"waiting": {"reason": "ContainerCreating"}}

        udp.close()
        tcp.close()

        async def ready() -> dict | None:
            conds = node_conditions(await client.get(NODES, k.node))
            return conds if conds["Ready"]["status"] == "True" else None
        await eventually(ready, what="the node Ready once its DNS could start", timeout=60)
        await wait_pod(client, namespace, "dns", is_ready, what="Ready", kubelet=k, timeout=90)
        r = kubectl("logs", "-n", namespace, "dns")
        assert f"nameserver {gateway}" in r.stdout, r
    finally:
        udp.close()
        tcp.close()
        k.stop()
        with contextlib.suppress(docker.errors.APIError):
            net.remove()
        await remove_pod_network(docker_client, k.node, cidr, pod_cidr)
