"""The pod network: a bridge per node on its podCIDR, and host-gw routes between nodes.

Where it sits::

    node A (podCIDR 10.244.1.0/24)                      node B (podCIDR 10.244.2.0/24)
    Docker network minik8s-A  (bridge, gw 10.244.1.1)   Docker network minik8s-B (gw 10.244.2.1)
      pods 10.244.1.x                                     pods 10.244.2.x
    route 10.244.2.0/24 via <B's InternalIP>  <───────>  route 10.244.1.0/24 via <A's InternalIP>

:class:`PodNetwork` (run by the kubelet) makes the node's Docker bridge network
``minik8s-<node>`` on ``spec.podCIDR`` with the gateway at the first address, so every pod's
sandbox takes its IP from there (``PodSandboxConfig.network``): the runtime plugs each sandbox
into the bridge with a veth and an address of its own IPAM, as CNI's bridge plugin does
(``kubelet/runtime/bridge.py``; Docker keeps the bridge, its forwarding rules and the pods
with a hostPort, which it publishes). Docker's own masquerade of the
network is turned off: pod-to-pod traffic must keep its source address across nodes, as
Kubernetes requires, so only traffic leaving the cluster CIDR is masqueraded (chain
``MINIK8S-POSTROUTING``). Docker's FORWARD policy (DROP) and its isolation between bridges
would stop pod traffic between nodes, so ``MINIK8S-FORWARD`` accepts cluster-CIDR traffic,
jumped to first from ``DOCKER-USER`` (Docker keeps that chain first in FORWARD) and FORWARD.

:class:`RouteSyncer` (run by the proxy, which watches nodes anyway) keeps one route per other
node, its podCIDR via its InternalIP, as flannel's host-gw backend: added when a node gets a
podCIDR, removed when it leaves. Routes carry protocol :data:`ROUTE_PROTO`, so only ours are
ever removed. A node whose InternalIP is one of ours, or whose podCIDR is already a connected
subnet here (a second node on this engine), needs no route.

The bridge itself is made through the container runtime (``ensure_pod_network``), which is
the only code that speaks Docker; this module owns the host side: rules, routes, hairpin.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import json
import logging
import os
from collections.abc import Iterable
from typing import Any

from kubelet import nettools
from kubelet.runtime.interface import ContainerRuntime, PodNetworkConfig
from minik8s.api import typed
from minik8s.api.resources import NODES
from minik8s.client.informer import SharedInformerFactory

__all__ = ["PodNetwork", "RouteSyncer", "network_name", "gateway_ip", "ROUTE_PROTO", "cleanup_host_rules",
           "DEFAULT_CLUSTER_CIDR"]

log = logging.getLogger("network")

DEFAULT_CLUSTER_CIDR = "10.244.0.0/16"
ROUTE_PROTO = "77"  # an unassigned routing protocol number: marks the routes minik8s owns
LABEL_NODE = "io.minik8s.node"
FORWARD_CHAIN = "MINIK8S-FORWARD"
POSTROUTING_CHAIN = "MINIK8S-POSTROUTING"


def network_name(node: str) -> str:
    return f"minik8s-{node}"


def bridge_name(node: str) -> str:
    """A Linux interface name (at most 15 characters) that is stable per node."""
    return "mk" + hashlib.sha256(node.encode()).hexdigest()[:11]


def gateway_ip(pod_cidr: str) -> str:
    """The bridge's address: the first host address of the podCIDR."""
    return str(next(ipaddress.ip_network(pod_cidr, strict=False).hosts()))


class PodNetwork:
    """The node's pod bridge (made through the container runtime) and the host rules its
    pods need."""

    def __init__(self, node_name: str, runtime: ContainerRuntime, *,
                 cluster_cidr: str = DEFAULT_CLUSTER_CIDR) -> None:
        self.node_name = node_name
        self.runtime = runtime
        self.cluster_cidr = cluster_cidr
        self.name = network_name(node_name)
        self.pod_cidr: str | None = None

    @property
    def gateway(self) -> str | None:
        return gateway_ip(self.pod_cidr) if self.pod_cidr else None

    async def ensure(self, pod_cidr: str) -> str:
        """Make the network on ``pod_cidr`` (and the host rules); returns the gateway IP."""
        pod_cidr = str(ipaddress.ip_network(pod_cidr, strict=False))
        gw = gateway_ip(pod_cidr)
        # Pod traffic keeps its source IP inside the cluster: no masquerade by the runtime,
        # the rules below masquerade only what leaves the cluster CIDR.
        created = await self.runtime.ensure_pod_network(PodNetworkConfig(
            name=self.name, subnet=pod_cidr, gateway=gw, bridge=bridge_name(self.node_name),
            labels={LABEL_NODE: self.node_name}, masquerade=False))
        if created:
            log.info("network %s: bridge %s on %s, gateway %s", self.name, bridge_name(self.node_name), pod_cidr, gw)
        await self._ensure_rules(pod_cidr)
        self.pod_cidr = pod_cidr
        return gw

    def _masq_rule(self, pod_cidr: str) -> tuple[str, ...]:
        return ("-s", pod_cidr, "!", "-d", self.cluster_cidr, "-m", "comment", "--comment",
                f"minik8s pod network {self.node_name}", "-j", "MASQUERADE")

    async def _ensure_rules(self, pod_cidr: str) -> None:
        await _write_proc("net/ipv4/ip_forward", "1")
        await nettools.ensure_chain("filter", FORWARD_CHAIN)
        for rule in (("-s", self.cluster_cidr, "-j", "ACCEPT"), ("-d", self.cluster_cidr, "-j", "ACCEPT")):
            await nettools.ensure_rule("filter", FORWARD_CHAIN, rule, position=None)
        if await nettools.iptables_ok("filter", "-n", "-L", "DOCKER-USER"):
            await nettools.ensure_rule("filter", "DOCKER-USER", ("-j", FORWARD_CHAIN), position=1)
        await nettools.ensure_rule("filter", "FORWARD", ("-j", FORWARD_CHAIN), position=1)
        await nettools.ensure_chain("nat", POSTROUTING_CHAIN)
        await nettools.ensure_rule("nat", "POSTROUTING", ("-j", POSTROUTING_CHAIN), position=1)
        if self.pod_cidr and self.pod_cidr != pod_cidr:
            await nettools.delete_rule("nat", POSTROUTING_CHAIN, self._masq_rule(self.pod_cidr))
        await nettools.ensure_rule("nat", POSTROUTING_CHAIN, self._masq_rule(pod_cidr), position=None)

    def set_hairpin(self) -> int:
        """Turn hairpin mode on for every port of the bridge; returns how many were off.

        A pod reaching itself through a service is DNATed back to its own address; with
        br_netfilter the bridge then has to send the frame out of the port it came in by,
        which a bridge refuses unless that port is in hairpin mode (the kubelet's
        ``--hairpin-mode=hairpin-veth``). Docker sets it only without its userland proxy."""
        base = f"/sys/class/net/{bridge_name(self.node_name)}/brif"
        changed = 0
        try:
            ports = os.listdir(base)
        except OSError:
            return 0
        for port in ports:
            path = os.path.join(base, port, "hairpin_mode")
            try:
                with open(path) as f:
                    if f.read().strip() == "1":
                        continue
                with open(path, "w") as f:
                    f.write("1")
                changed += 1
            except OSError:
                continue  # the port went away meanwhile
        return changed

    async def run_hairpin(self, *, period: float = 0.5) -> None:
        """Keep hairpin mode on for new pods' ports (they appear as sandboxes start)."""
        while True:
            if self.pod_cidr:
                await asyncio.to_thread(self.set_hairpin)
            await asyncio.sleep(period)

    async def remove(self) -> None:
        """Tear the node's network down (its pods must be gone): for tests and decommissioning."""
        await self.runtime.remove_pod_network(self.name)
        if self.pod_cidr:
            await nettools.delete_rule("nat", POSTROUTING_CHAIN, self._masq_rule(self.pod_cidr))

    async def close(self) -> None:
        """Nothing to release: the runtime owns the engine connection."""


async def cleanup_host_rules() -> None:
    """Remove the chains and hooks every PodNetwork of this host shares (last node gone)."""
    await nettools.delete_rule("filter", "DOCKER-USER", ("-j", FORWARD_CHAIN))
    await nettools.delete_rule("filter", "FORWARD", ("-j", FORWARD_CHAIN))
    await nettools.delete_rule("nat", "POSTROUTING", ("-j", POSTROUTING_CHAIN))
    for table, chain in (("filter", FORWARD_CHAIN), ("nat", POSTROUTING_CHAIN)):
        await nettools.iptables(table, "-F", chain, check=False)
        await nettools.iptables(table, "-X", chain, check=False)


async def _write_proc(path: str, value: str) -> None:
    def write() -> None:
        with open(f"/proc/sys/{path}") as f:
            if f.read().strip() == value:
                return
        with open(f"/proc/sys/{path}", "w") as f:
            f.write(value)
    try:
        await asyncio.to_thread(write)
    except OSError as e:
        log.warning("cannot set %s=%s: %s", path, value, e)


# -- routes between nodes -----------------------------------------------------------------------

def node_internal_ip(node: typed.Node) -> str | None:
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP" and a.get("address"):
            return a["address"]
    return None


def node_pod_cidr(node: typed.Node) -> str | None:
    spec = node.get("spec") or {}
    return spec.get("podCIDR") or next(iter(spec.get("podCIDRs") or []), None)


def desired_routes(nodes: Iterable[typed.Node], *, local_ips: set[str], connected: set[str]) -> dict[str, str]:
    """podCIDR → gateway for every node that is elsewhere (pure)."""
    out: dict[str, str] = {}
    for n in nodes:
        cidr, ip = node_pod_cidr(n), node_internal_ip(n)
        if not cidr or not ip or ip in local_ips:
            continue
        try:
            cidr = str(ipaddress.ip_network(cidr, strict=False))
            if ipaddress.ip_address(ip).version != 4:
                continue
        except ValueError:
            continue
        if cidr in connected:
            continue  # that node's bridge is on this host: the kernel routes it already
        out[cidr] = ip
    return out


class RouteSyncer:
    """host-gw routes to the other nodes' podCIDRs, kept in step with the Node objects."""

    def __init__(self, informers: SharedInformerFactory, *, resync_period: float = 30.0) -> None:
        self.nodes = informers.informer(NODES)
        self.resync_period = resync_period
        self._dirty = asyncio.Event()
        self._failed: dict[str, str] = {}  # cidr -> last error, so each is reported once
        self.nodes.add_handler(on_add=lambda n: self._dirty.set(), on_update=self._update,
                               on_delete=lambda n: self._dirty.set())

    def _update(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        o, c = typed.node(old), typed.node(cur)
        if (node_pod_cidr(o), node_internal_ip(o)) != (node_pod_cidr(c), node_internal_ip(c)):
            self._dirty.set()

    async def run(self) -> None:
        await self.nodes.wait_synced()
        while True:
            self._dirty.clear()
            try:
                await self.sync()
            except nettools.CommandError as e:
                log.warning("routes: %s", e)
            try:
                await asyncio.wait_for(self._dirty.wait(), self.resync_period)
            except TimeoutError:
                pass

    async def sync(self) -> dict[str, str]:
        """Make our routes equal the desired ones; returns what is in place."""
        _, addrs, _ = await nettools.run(["ip", "-j", "-4", "addr", "show"])
        local_ips = {a["local"] for i in json.loads(addrs or "[]") for a in i.get("addr_info") or [] if a.get("local")}
        _, routes, _ = await nettools.run(["ip", "-j", "-4", "route", "show", "table", "main"])
        all_routes = json.loads(routes or "[]")
        connected = {r["dst"] for r in all_routes if r.get("protocol") == "kernel" and "gateway" not in r}
        ours = {r["dst"]: r.get("gateway") for r in all_routes if str(r.get("protocol")) == ROUTE_PROTO}
        want = desired_routes(map(typed.node, self.nodes.store.list()), local_ips=local_ips, connected=connected)
        for cidr in set(ours) - set(want):
            await nettools.run(["ip", "route", "del", cidr, "proto", ROUTE_PROTO], check=False)
            log.info("routes: removed %s (node gone)", cidr)
        in_place: dict[str, str] = {}
        for cidr, via in sorted(want.items()):
            if ours.get(cidr) == via:
                in_place[cidr] = via
                continue
            code, _, err = await nettools.run(["ip", "route", "replace", cidr, "via", via, "proto", ROUTE_PROTO],
                                              check=False)
            if code == 0:
                in_place[cidr] = via
                self._failed.pop(cidr, None)
                log.info("routes: %s via %s", cidr, via)
            elif self._failed.get(cidr) != err:
                self._failed[cidr] = err
                log.warning("routes: cannot route %s via %s (is it on a directly connected network?): %s",
                            cidr, via, err.strip())
        return in_place


async def remove_routes() -> None:
    """Delete every route minik8s made (``minik8s-proxy --cleanup``)."""
    _, routes, _ = await nettools.run(["ip", "-j", "-4", "route", "show", "proto", ROUTE_PROTO], check=False)
    for r in json.loads(routes or "[]"):
        await nettools.run(["ip", "route", "del", r["dst"], "proto", ROUTE_PROTO], check=False)
