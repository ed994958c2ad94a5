"""Node IPAM: gives every node a ``spec.podCIDR`` out of the cluster CIDR, for pod networking.

As Kubernetes' range allocator (``pkg/controller/nodeipam/ipam/range_allocator.go`` over
``cidrset``): the cluster CIDR (``--cluster-cidr``, default 10.244.0.0/16) is cut into blocks
of ``--node-cidr-mask-size`` bits (/24); a node without ``spec.podCIDR`` gets the next free
block, searched round-robin from the last one handed out (so a freed block is not handed out
again at once, while routes to it may linger), written with a PATCH of ``spec.podCIDR`` and
``spec.podCIDRs`` (the apiserver lets it be set once).

Nothing is remembered but the blocks being written right now: the used set is read from the
node cache at every allocation, so a deleted node's block is free as soon as the cache drops
it, and a restarted controller starts from what the nodes say.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from controllers import controller_utils as cu
from controllers.base import Controller, tombstone_safe
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import NODES
from minik8s.api.typed import Node
from minik8s.client.events import NORMAL, EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Kubernetes' cidrset refuses more than 16 bits between the cluster and the node mask.
_MAX_PREFIX_DIFF = 16


class CIDRSet:
    """The blocks of one cluster CIDR, addressed by index (pure: holds no allocation state but
    where the round-robin search resumes)."""

    def __init__(self, cluster_cidr: str, mask_size: int) -> None:
        self.cluster: IPNetwork = ipaddress.ip_network(cluster_cidr, strict=True)
        if not self.cluster.prefixlen <= mask_size <= self.cluster.max_prefixlen:
            raise ValueError(f"--node-cidr-mask-size {mask_size} must be between the cluster CIDR's prefix "
                             f"length {self.cluster.prefixlen} and {self.cluster.max_prefixlen}")
        if mask_size - self.cluster.prefixlen > _MAX_PREFIX_DIFF:
            raise ValueError(f"--node-cidr-mask-size {mask_size} is more than {_MAX_PREFIX_DIFF} bits longer "
                             f"than the cluster CIDR {cluster_cidr}")
        self.mask_size = mask_size
        self.size = 1 << (mask_size - self.cluster.prefixlen)
        self._step = 1 << (self.cluster.max_prefixlen - mask_size)
        self._next = 0

    def cidr(self, index: int) -> str:
        base = int(self.cluster.network_address) + index * self._step
        return str(ipaddress.ip_network((base, self.mask_size)))

    def index(self, cidr: str) -> int | None:
        """The block index of ``cidr``; None if it is not one of this set's blocks."""
        try:
            net = ipaddress.ip_network(cidr, strict=True)
        except ValueError:
            return None
        # subnet_of is asked only of networks of one version (compared first), which typeshed cannot see
        if net.version != self.cluster.version or net.prefixlen != self.mask_size or \
                not net.subnet_of(self.cluster):  # type: ignore[arg-type]
            return None
        return (int(net.network_address) - int(self.cluster.network_address)) // self._step

    def next_free(self, used: set[int]) -> int | None:
        """The first free block at or after where the last search stopped, wrapping around."""
        for i in range(self.size):
            candidate = (self._next + i) % self.size
            if candidate not in used:
                self._next = (candidate + 1) % self.size
                return candidate
        return None


class NodeIpamController(Controller):
    name = "nodeipam"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 cluster_cidr: str = "10.244.0.0/16", node_cidr_mask_size: int = 24,
                 allocate_node_cidrs: bool = True, **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests. With
        ``allocate_node_cidrs`` False the controller watches but hands out nothing."""
        super().__init__(**kwargs)
        self.client = client
        self.recorder = recorder or EventRecorder(client, component="node-ipam-controller")
        self.cidrs = CIDRSet(cluster_cidr, node_cidr_mask_size)
        self.allocate = allocate_node_cidrs
        # node name → block index being written (not yet visible in the cache)
        self._in_flight: dict[str, int] = {}
        self.node_informer = informers.informer(NODES)
        self.informers = [self.node_informer]
        self.node_informer.add_handler(on_add=self._on_node, on_update=lambda old, cur: self._on_node(cur),
                                       on_delete=self._on_delete)

    def _on_node(self, node: dict[str, Any]) -> None:
        if not _pod_cidr(typed.node(node)) or cu.meta(node).get("name") in self._in_flight:
            self.enqueue(node)

    def _on_delete(self, node: dict[str, Any] | None) -> None:
        node = tombstone_safe(node)
        if node is None:
            return
        self.enqueue(node)
        # A block may have come free: nodes still waiting for one get another look.
        for other in self.node_informer.store.list():
            if not _pod_cidr(typed.node(other)):
                self.enqueue(other)

    async def sync(self, key: str) -> None:
        cached = self.node_informer.store.get(key)
        node = typed.node(cached) if cached is not None else None
        if node is None or _pod_cidr(node):
            self._in_flight.pop(key, None)
            return
        if not self.allocate or key in self._in_flight:
            return
        index = self.cidrs.next_free(self._used())
        if index is None:
            self.recorder.event(_with_kind(node), NORMAL, "CIDRNotAvailable",
                                f"Node {key} status is now: CIDRNotAvailable")
            raise errors.MiniK8sError(f"node {key}: no free /{self.cidrs.mask_size} left in {self.cidrs.cluster}")
        cidr = self.cidrs.cidr(index)
        self._in_flight[key] = index  # before the await: another worker must not pick it too
        try:
            await self.client.patch(NODES, key, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}})
        except errors.NotFound:
            self._in_flight.pop(key, None)
            return
        except errors.MiniK8sError as e:
            self._in_flight.pop(key, None)
            self.recorder.event(_with_kind(node), "Warning", "CIDRAssignmentFailed",
                                f"Node {key} status is now: CIDRAssignmentFailed")
            raise errors.MiniK8sError(f"node {key}: could not set podCIDR {cidr}: {e}") from e
        log.info("nodeipam: node %s gets podCIDR %s", key, cidr)

    def _used(self) -> set[int]:
        used = set(self._in_flight.values())
        for node in self.node_informer.store.list():
            for cidr in _pod_cidrs(typed.node(node)):
                index = self.cidrs.index(cidr)
                if index is not None:
                    used.add(index)
        return used


def _pod_cidr(node: Node) -> str | None:
    return (node.get("spec") or {}).get("podCIDR")


def _pod_cidrs(node: Node) -> list[str]:
    spec = node.get("spec") or {}
    return list(spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []))


def _with_kind(node: Node) -> Node:
    return {**node, "kind": NODES.kind, "apiVersion": NODES.api_version}
