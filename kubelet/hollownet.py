"""The pod network of a hollow node (``--runtime fake``): its Node's podCIDR, given to the
hollow runtime so that its pods take their IPs from it.

A hollow node has no bridge, no host rules and no DNS (those are ``netservices.py``'s, for
real nodes); what it keeps of pod networking is the addressing, so that a hollow pod's IP is
one of the cluster's and never an address somewhere else. The podCIDR comes from the Node
object the node agent reads anyway (``NodeAgent.pod_cidr``): a thousand hollow nodes share one
process, and a watch each would cost more than the whole node. While the node has no podCIDR
(node IPAM has not assigned one yet) a new sandbox cannot be made: ``sandbox_network`` raises
``NetworkNotReadyError`` and the pod waits, re-reading the Node at most every few seconds.
"""

from __future__ import annotations

import asyncio

from kubelet import network
from kubelet.node import NodeAgent
from kubelet.runtime import interface as ri
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import NODES
from minik8s.client.rest import ApiClient

__all__ = ["HollowPodNetwork"]

_REREAD_S = 5.0  # how often a node without a podCIDR is read again, at most


class HollowPodNetwork:
    def __init__(self, client: ApiClient, runtime: ri.ContainerRuntime, *, node_name: str, agent: NodeAgent) -> None:
        self.client = client
        self.runtime = runtime
        self.node_name = node_name
        self.agent = agent
        self.name = network.network_name(node_name)
        self._made: str | None = None  # the podCIDR the runtime's network is on
        self._read_at: float | None = None

    async def sandbox_network(self) -> str:
        """The pod network a new sandbox joins; ``NetworkNotReadyError`` while there is none."""
        cidr = self.agent.pod_cidr
        loop = asyncio.get_running_loop()
        if cidr is None and (self._read_at is None or loop.time() - self._read_at >= _REREAD_S):
            self._read_at = loop.time()
            try:
                cidr = self.agent.observe(typed.node(await self.client.get(NODES, self.node_name)))
            except (errors.ApiError, errors.ConnectionFailed) as e:
                raise ri.NetworkNotReadyError(f"cannot read node {self.node_name}'s podCIDR: {e}") from e
        if not cidr:
            raise ri.NetworkNotReadyError(f"node {self.node_name} has no podCIDR yet")
        if cidr != self._made:
            await self.runtime.ensure_pod_network(ri.PodNetworkConfig(
                name=self.name, subnet=cidr, gateway=network.gateway_ip(cidr),
                bridge=network.bridge_name(self.node_name), labels={network.LABEL_NODE: self.node_name}))
            self._made = cidr
        return self.name
