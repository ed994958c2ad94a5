"""The networking a kubelet runs beside its pods: pod network, proxy, cluster DNS, service env.

One :class:`NodeNetworkServices` per (Docker) node, owned by the kubelet::

    Node spec.podCIDR (watched) ──> PodNetwork: bridge minik8s-<node>, gateway .1, hairpin
                                        └──> ClusterDNS on <gateway>:53      (unless --disable-dns)
    Services + EndpointSlices ────> Proxier (iptables) + RouteSyncer         (unless --disable-proxy)
    Services ─────────────────────> ServiceEnv (the {SVC}_SERVICE_HOST variables)

All share one informer factory, so the node keeps one watch per resource. What the pod sync
asks of it: :meth:`sandbox_network` (the engine network a new sandbox joins; while the node has
no podCIDR, none: the pod waits, unless ``runtime_default_network`` lets it use Docker's
default bridge), :meth:`dns_config` (the pod's resolv.conf) and
:meth:`service_env`. The nameserver is ``--cluster-dns`` when given, else this node's own DNS
at its gateway.

Readiness. Until the node has a podCIDR, no pod but a host-network one starts and the node is
NotReady (as Kubernetes holds pods while the runtime's network is not ready), unless the
kubelet runs with ``--runtime-default-network`` (a cluster without node IPAM). Once the node
has a podCIDR, a new sandbox waits until the pod network on it is
made (``NetworkNotReadyError``, never Docker's default bridge), and a ClusterFirst pod until
the node's own DNS serves (never the host's resolv.conf); :meth:`network_status` tells the
node agent, which keeps the node NotReady, with a NetworkUnavailable condition, meanwhile.
A pod network that cannot be made (e.g. Docker's "Pool overlaps" with a stale network of an
earlier node, which the runtime reclaims once no live container uses it) is retried every
few seconds, and the reason is reported; so is a DNS server that cannot start (its address:53
taken) or stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable

from kubelet import network
from kubelet.dns import main as dns_main
from kubelet.dns.podconfig import pod_dns_config, read_host_searches, uses_cluster_dns
from kubelet.proxy import main as proxy_main
from kubelet.runtime import interface as ri
from kubelet.servicelinks import ServiceEnv
from minik8s import taskgroup
from minik8s.api import typed
from minik8s.api.resources import NODES
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

__all__ = ["NetworkOptions", "NodeNetworkServices"]

log = logging.getLogger("network")

_NETWORK_RETRY_S = 5.0  # a pod network that could not be made is tried again this often
# A made pod network (and its host rules) is checked this often: something may have removed it
# (another node's kubelet reclaiming an overlapping network, a person), and it is made again.
_RECHECK_S = 30.0


@dataclasses.dataclass(frozen=True)
class NetworkOptions:
    cluster_cidr: str = network.DEFAULT_CLUSTER_CIDR
    cluster_dns: tuple[str, ...] = ()  # empty: this node's own DNS at its pod-network gateway
    cluster_domain: str = "cluster.local"
    proxy: bool = True
    dns: bool = True
    # No podCIDR yet: False holds pods (NetworkNotReadyError, node NotReady); True lets them run on
    # the runtime's default network (a cluster without node IPAM).
    runtime_default_network: bool = False


class NodeNetworkServices:
    def __init__(self, client: ApiClient, runtime: ri.ContainerRuntime, *, node_name: str,
                 options: NetworkOptions) -> None:
        self.client = client
        self.node_name = node_name
        self.options = options
        self.informers = SharedInformerFactory(client)
        self.env = ServiceEnv(self.informers)
        self.node = self.informers.informer(NODES, field_selector=f"metadata.name={node_name}")
        self.pod_network = network.PodNetwork(node_name, runtime, cluster_cidr=options.cluster_cidr)
        self.network: str | None = None
        self.gateway: str | None = None
        self.dns_ready = asyncio.Event()
        self.network_error: str | None = None  # why the pod network could not be made, last time
        self.dns_error: str | None = None  # why the node's DNS stopped (or could not start), last time
        self._dns_failed = False  # the DNS server ended with an error: start it again
        self.on_status_change: Callable[[], None] = lambda: None  # the node agent's: re-report now
        self._cidr_changed = asyncio.Event()
        self._network_changed = asyncio.Event()
        self._host_searches = read_host_searches()
        self._tasks: list[asyncio.Task[None]] = []
        self.node.add_handler(on_add=lambda n: self._cidr_changed.set(),
                              on_update=lambda old, cur: self._cidr_changed.set())

    # -- what the pod sync asks -------------------------------------------------------------------

    async def sandbox_network(self, *, timeout: float = 5.0) -> str | None:
        """The network a new sandbox joins. While the node has a podCIDR whose network is not
        made yet, wait for it a little, then raise ``NetworkNotReadyError``: the pod waits, as
        Kubernetes holds pods while the runtime's network is not ready. With no podCIDR at all,
        None: the runtime's default network."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if not self.node.has_synced:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.node.wait_synced(), timeout)
        if not self._pod_cidr() and not self.options.runtime_default_network:
            raise ri.NetworkNotReadyError(self._no_cidr_problem())
        while (cidr := self._pod_cidr()) and cidr != self.pod_network.pod_cidr:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise ri.NetworkNotReadyError(self._network_problem(cidr))
            self._network_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._network_changed.wait(), min(remaining, 1.0))
        return self.network if self._pod_cidr() else None

    def _own_dns_expected(self) -> bool:
        """This node's own DNS is the pods' nameserver: no --cluster-dns, DNS on, a podCIDR."""
        return self.options.dns and not self.options.cluster_dns and bool(self._pod_cidr())

    def _no_cidr_problem(self) -> str:
        return (f"node {self.node_name} has no podCIDR yet: its pod network and cluster DNS wait for one "
                "(node IPAM in the controller-manager assigns it)")

    def _network_problem(self, cidr: str) -> str:
        if self.network_error:
            return f"pod network {self.pod_network.name} on {cidr} cannot be made: {self.network_error}"
        return f"pod network {self.pod_network.name} on {cidr} is not made yet"

    def network_status(self) -> tuple[bool, str] | None:
        """(ready, why) of the node's pod network and cluster DNS, for the Node's conditions.
        Without a podCIDR: not ready, or None when pods may use the runtime's default network."""
        cidr = self._pod_cidr()
        if not cidr:
            return None if self.options.runtime_default_network else (False, self._no_cidr_problem())
        if cidr != self.pod_network.pod_cidr:
            return False, self._network_problem(cidr)
        if self._own_dns_expected() and not self.dns_ready.is_set():
            why = f": {self.dns_error}" if self.dns_error else ""
            return False, f"cluster DNS of node {self.node_name} on {self.gateway}:53 is not serving yet{why}"
        return True, f"pod network {self.pod_network.name} on {cidr} is up"

    def cluster_dns(self) -> list[str]:
        if self.options.cluster_dns:
            return list(self.options.cluster_dns)
        if self.options.dns and self.gateway and self.dns_ready.is_set():
            return [self.gateway]
        return []

    def dns_config(self, pod: typed.Pod) -> tuple[ri.DNSConfig | None, str | None]:
        """The pod's DNS config and a warning to record (no cluster DNS for a ClusterFirst pod).
        While this node's own DNS is expected but not serving, a pod that would use it waits
        (``NetworkNotReadyError``) rather than get the host's resolv.conf for life."""
        cluster_dns = self.cluster_dns()
        if not cluster_dns and self._own_dns_expected() and uses_cluster_dns(pod):
            raise ri.NetworkNotReadyError(f"cluster DNS of node {self.node_name} is not serving yet")
        return pod_dns_config(pod, cluster_dns=cluster_dns, cluster_domain=self.options.cluster_domain,
                              host_searches=self._host_searches)

    async def service_env(self, pod: typed.Pod) -> dict[str, str]:
        return await self.env.env_for(pod)

    # -- running ----------------------------------------------------------------------------------

    async def run(self) -> None:
        if self.options.proxy:
            self._tasks.append(asyncio.create_task(
                proxy_main.serve(self.client, proxy_main.ProxyOptions(cluster_cidr=self.options.cluster_cidr),
                                 informers=self.informers), name="proxy"))
        self._tasks.append(asyncio.create_task(self._network_loop(), name=f"pod network {self.node_name}"))
        self.informers.start()
        try:
            await asyncio.gather(*self._tasks)
        finally:
            await self.close()

    async def close(self) -> None:
        await taskgroup.cancel_and_wait(self._tasks)
        self._tasks.clear()
        await self.informers.shutdown()
        await self.pod_network.close()

    def _pod_cidr(self) -> str | None:
        node = self.node.store.get(self.node_name)
        return network.node_pod_cidr(typed.node(node)) if node else None

    async def _network_loop(self) -> None:
        dns_task: asyncio.Task[None] | None = None
        hairpin: asyncio.Task[None] | None = None
        warned = False
        loop = asyncio.get_running_loop()
        checked_at = loop.time()
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._cidr_changed.wait(), max(0.0, checked_at + _RECHECK_S - loop.time()))
                self._cidr_changed.clear()
                recheck = loop.time() - checked_at >= _RECHECK_S
                if recheck:
                    checked_at = loop.time()
                cidr = self._pod_cidr()
                if not cidr:
                    if not warned:
                        log.info("node %s has no podCIDR yet: %s until it gets one (node IPAM in the "
                                 "controller-manager assigns it)", self.node_name,
                                 "pods use the runtime's default network" if self.options.runtime_default_network
                                 else "the node is NotReady and pods wait")
                        warned = True
                    continue
                if cidr == self.pod_network.pod_cidr and not recheck and not self._dns_failed:
                    continue
                made = self.pod_network.pod_cidr == cidr
                try:
                    gateway = await self.pod_network.ensure(cidr)
                    if made and not self._dns_failed:
                        continue  # still there (or made again on the same subnet): DNS carries on
                except (ri.RuntimeError_, OSError) as e:  # reported, retried after a while
                    if made:
                        # The network went away under us and cannot be made again: not ready.
                        self.pod_network.pod_cidr = None
                    if str(e) != self.network_error:
                        log.error("node %s: pod network on %s failed: %s; retrying every %.0fs",
                                  self.node_name, cidr, e, _NETWORK_RETRY_S)
                    self.network_error = str(e)
                    self.on_status_change()
                    asyncio.get_running_loop().call_later(_NETWORK_RETRY_S, self._cidr_changed.set)
                    continue
                if self.network_error:
                    log.info("node %s: pod network on %s is made now", self.node_name, cidr)
                self.network_error = None
                self.network, self.gateway = self.pod_network.name, gateway
                self._network_changed.set()
                self.on_status_change()
                if hairpin is None:
                    hairpin = asyncio.create_task(self.pod_network.run_hairpin(), name="hairpin")
                if self.options.dns:
                    self._dns_failed = False
                    if dns_task is not None:
                        dns_task.cancel()
                        await asyncio.gather(dns_task, return_exceptions=True)
                        self.dns_ready.clear()
                    dns_task = asyncio.create_task(
                        dns_main.serve(self.client, bind=gateway, zone=self.options.cluster_domain,
                                       informers=self.informers, started=self.dns_ready),
                        name=f"dns {self.node_name}")
                    asyncio.create_task(self._report_dns_started(), name=f"dns ready {self.node_name}")
                    self.informers.start()
                    dns_task.add_done_callback(self._dns_done)
        finally:
            await taskgroup.cancel_and_wait(t for t in (dns_task, hairpin) if t is not None)

    async def _report_dns_started(self) -> None:
        await self.dns_ready.wait()
        if self.dns_error:
            log.info("node %s: cluster DNS serves now", self.node_name)
        self.dns_error = None
        self.on_status_change()

    def _dns_done(self, task: asyncio.Task[None]) -> None:
        """The DNS server ended with an error (e.g. its address:53 taken): the node stays NotReady,
        its ClusterFirst pods wait, and the server is started again every few seconds."""
        if not task.cancelled() and task.exception() is not None:
            error = str(task.exception()) or repr(task.exception())
            if error != self.dns_error:
                log.error("node %s: cluster DNS stopped: %s; starting it again every %.0fs", self.node_name, error,
                          _NETWORK_RETRY_S)
            self.dns_error = error
            self.dns_ready.clear()
            self._dns_failed = True
            self.on_status_change()
            asyncio.get_running_loop().call_later(_NETWORK_RETRY_S, self._cidr_changed.set)
