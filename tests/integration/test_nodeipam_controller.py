"""Node IPAM on a real apiserver (one of its own: nodes are cluster-wide): distinct blocks per
node, a freed block handed out again, and a restarted controller that collides with nothing."""

from __future__ import annotations

import ipaddress

import pytest

from controllers.nodeipam import NodeIpamController
from minik8s.api.resources import EVENTS, NODES
from minik8s.client.rest import ApiClient
from tests.integration.controller_harness import running
from tests.waiting import eventually


@pytest.fixture
async def client(apiserver_factory):
    async with apiserver_factory().client() as c:
        yield c


def node(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}


async def cidr_of(client: ApiClient, name: str) -> str | None:
    n = await client.get(NODES, name)
    spec = n.get("spec") or {}
    if spec.get("podCIDR"):
        assert spec["podCIDRs"] == [spec["podCIDR"]]
    return spec.get("podCIDR")


async def test_each_node_gets_its_own_block(client: ApiClient) -> None:
    async with running(client, lambda f: NodeIpamController(client, f)):
        for i in range(3):
            await client.create(NODES, node(f"n{i}"))
        cidrs = [await eventually(lambda i=i: cidr_of(client, f"n{i}"), what=f"n{i} podCIDR") for i in range(3)]
    assert len(set(cidrs)) == 3
    for c in cidrs:
        net = ipaddress.ip_network(c)
        assert net.prefixlen == 24 and net.subnet_of(ipaddress.ip_network("10.244.0.0/16"))


async def test_a_freed_block_is_handed_out_again(client: ApiClient) -> None:
    def build(f):
        return NodeIpamController(client, f, cluster_cidr="10.9.0.0/22", node_cidr_mask_size=24)
    async with running(client, build):
        for i in range(4):
            await client.create(NODES, node(f"n{i}"))
        full = {await eventually(lambda i=i: cidr_of(client, f"n{i}"), what=f"n{i} podCIDR") for i in range(4)}
        assert full == {"10.9.0.0/24", "10.9.1.0/24", "10.9.2.0/24", "10.9.3.0/24"}

        await client.create(NODES, node("late"))

        async def no_cidr_event() -> bool:
            evs = (await client.list(EVENTS, namespace="default"))["items"]
            return any(e["reason"] == "CIDRNotAvailable" and e["involvedObject"]["name"] == "late" for e in evs)

        await eventually(no_cidr_event, what="CIDRNotAvailable event")
        assert await cidr_of(client, "late") is None

        freed = await cidr_of(client, "n2")
        await client.delete(NODES, "n2")
        assert await eventually(lambda: cidr_of(client, "late"), what="late node podCIDR") == freed


async def test_a_restarted_controller_rebuilds_the_used_set(client: ApiClient) -> None:
    def build(f):
        return NodeIpamController(client, f, cluster_cidr="10.8.0.0/23", node_cidr_mask_size=24)
    async with running(client, build):
        await client.create(NODES, node("first"))
        first = await eventually(lambda: cidr_of(client, "first"), what="first podCIDR")
    async with running(client, build):
        await client.create(NODES, node("second"))
        second = await eventually(lambda: cidr_of(client, "second"), what="second podCIDR")
    assert {first, second} == {"10.8.0.0/24", "10.8.1.0/24"}


async def test_sync_called_directly_and_disabled_allocation(client: ApiClient) -> None:
    from minik8s.client.informer import SharedInformerFactory

    factory = SharedInformerFactory(client)
    off = NodeIpamController(client, factory, allocate_node_cidrs=False)
    on = NodeIpamController(client, factory)
    factory.start()
    try:
        assert await factory.wait_for_sync(timeout=30)
        await client.create(NODES, node("direct"))
        await eventually(lambda: _cached(on, "direct"), what="node cached")
        await off.sync("direct")
        assert await cidr_of(client, "direct") is None
        await on.sync("direct")
        assert await cidr_of(client, "direct") == "10.244.0.0/24"
    finally:
        await factory.shutdown()
        for c in (on, off):
            await c.recorder.close()


async def _cached(ctrl: NodeIpamController, name: str) -> bool:
    return ctrl.node_informer.store.get(name) is not None
