"""The Node object of one kubelet: registration, status and the Lease heartbeat.

As the kubelet's node status manager: :meth:`NodeAgent.register` creates the Node (capacity
and allocatable from the host minus ``--system-reserved``, addresses, nodeInfo, labels, taints,
daemon endpoint) or adopts an existing one; :meth:`NodeAgent.run` then renews the Lease in
``kube-node-lease`` every 10 s and recomputes the status every 10 s, writing it only when it
changed or 5 minutes have passed (Kubernetes' nodeStatusReportFrequency). Ready follows the
container runtime answering and, on a node whose kubelet makes the pod network, on that network
and the node's DNS being up (``network_status``): until then Ready is False with the runtime's
NetworkReady=false message and a NetworkUnavailable condition is True (the node lifecycle
controller taints the node for it); a change there is reported at once (:meth:`poke`).
MemoryPressure and DiskPressure follow the kubelet's default hard eviction thresholds
(memory.available < 100Mi, nodefs.available < 10%). An unreachable apiserver is retried with
backoff and reported once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any

from kubelet import hostinfo
from kubelet.config import KUBELET_VERSION, KubeletConfig
from kubelet.runtime import interface as ri
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import LEASES, NODES
from minik8s.client.rest import ApiClient
from minik8s.timestamps import format_micro_time, format_time

__all__ = ["NodeAgent", "LEASE_NAMESPACE"]

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
_LEASE_RENEW_S = 10.0
_EVICTION_MEMORY_BYTES = 100 * 1024 * 1024
_EVICTION_DISK_FRACTION = 0.10

_CONDITIONS = {
    # type: (status when healthy, reason healthy, message healthy, reason bad, message bad)
    "MemoryPressure": ("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available",
                       "KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure",
                     "KubeletHasDiskPressure", "kubelet has disk pressure"),
    "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available",
                    "KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
    "Ready": ("True", "KubeletReady", "kubelet is posting ready status",
              "KubeletNotReady", "container runtime is down"),
}


class NodeAgent:
    def __init__(self, client: ApiClient, runtime: ri.ContainerRuntime, config: KubeletConfig, *, node_name: str,
                 host_ip: str, host: hostinfo.HostInfo, hostname: str | None = None,
                 network_status: Callable[[], tuple[bool, str] | None] | None = None) -> None:
        """``network_status``: (ready, why) of the pod network this kubelet makes, or None when
        it makes none yet (netservices.NodeNetworkServices.network_status)."""
        self.client = client
        self.runtime = runtime
        self.config = config
        self.name = node_name
        self.host_ip = host_ip
        self.host = host
        self.hostname = hostname or node_name
        self.root = config.node_root(node_name)
        self._status: typed.NodeStatus | None = None  # the status last written
        self._reported_at = 0.0
        self._lease: dict[str, Any] | None = None  # our Lease as last read or written
        self._unreachable = False
        self._runtime_version = ""
        self.pod_cidr: str | None = None  # spec.podCIDR as last read (hollow nodes address pods from it)
        self.network_status = network_status
        self._poked = asyncio.Event()

    # --- capacity ---------------------------------------------------------------------------

    def capacity(self) -> dict[str, str]:
        disk, _ = hostinfo.disk_bytes(self.root)
        return {"cpu": str(self.host.cpus), "memory": f"{self.host.memory_bytes // 1024}Ki",
                "pods": str(self.config.max_pods), "ephemeral-storage": f"{disk // 1024}Ki"}

    def allocatable_numbers(self) -> dict[str, int]:
        """Allocatable cpu (millis) and memory (bytes), for resourceFieldRef defaults."""
        return {"cpu": max(0, self.host.cpus * 1000 - self.config.system_reserved_cpu_millis),
                "memory": max(0, self.host.memory_bytes - self.config.system_reserved_memory_bytes)}

    def allocatable(self) -> dict[str, str]:
        nums = self.allocatable_numbers()
        cap = self.capacity()
        cpu = nums["cpu"]
        return {"cpu": str(cpu // 1000) if cpu % 1000 == 0 else f"{cpu}m",
                "memory": f"{nums['memory'] // 1024}Ki", "pods": cap["pods"],
                "ephemeral-storage": cap["ephemeral-storage"]}

    # --- the object -------------------------------------------------------------------------

    def labels(self) -> dict[str, str]:
        return {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
                "kubernetes.io/arch": self.host.arch, "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": self.host.arch, **self.config.node_labels}

    def build_status(self, *, runtime_ok: bool, previous: typed.NodeStatus | None) -> typed.NodeStatus:
        now = format_time()
        old = {c["type"]: c for c in (previous or {}).get("conditions") or []}
        network = self.network_status() if self.network_status is not None else None
        network_ok = network is None or network[0]
        healthy = {"Ready": runtime_ok and network_ok, "MemoryPressure": self._memory_ok(),
                   "DiskPressure": self._disk_ok(), "PIDPressure": True}
        conditions: list[typed.NodeCondition] = []
        for ctype in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready"):
            good, reason, message, bad_reason, bad_message = _CONDITIONS[ctype]
            ok = healthy[ctype]
            if ctype == "Ready" and runtime_ok and not network_ok:
                assert network is not None
                bad_message = ("container runtime network not ready: NetworkReady=false "
                               f"reason:NetworkPluginNotReady message:{network[1]}")
            status = good if ok else ("False" if good == "True" else "True")
            prev = old.get(ctype)
            since = prev["lastTransitionTime"] if prev and prev.get("status") == status else now
            conditions.append({"type": ctype, "status": status, "lastHeartbeatTime": now,
                               "lastTransitionTime": since, "reason": reason if ok else bad_reason,
                               "message": message if ok else bad_message})
        if network is not None:
            # NetworkUnavailable, as a network plugin (or the route controller) reports it.
            status = "False" if network[0] else "True"
            prev = old.get("NetworkUnavailable")
            since = prev["lastTransitionTime"] if prev and prev.get("status") == status else now
            conditions.insert(0, {"type": "NetworkUnavailable", "status": status, "lastHeartbeatTime": now,
                                  "lastTransitionTime": since,
                                  "reason": "PodNetworkReady" if network[0] else "PodNetworkNotReady",
                                  "message": network[1]})
        return {
            "capacity": self.capacity(),
            "allocatable": self.allocatable(),
            "conditions": conditions,
            "addresses": [{"type": "InternalIP", "address": self.host_ip},
                          {"type": "Hostname", "address": self.hostname}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.config.port}},
            "nodeInfo": {
                "machineID": self.host.machine_id, "systemUUID": self.host.system_uuid,
                "bootID": self.host.boot_id, "kernelVersion": self.host.kernel, "osImage": self.host.os_image,
                "containerRuntimeVersion": self._runtime_version, "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": KUBELET_VERSION, "operatingSystem": "linux", "architecture": self.host.arch,
            },
        }

    def _memory_ok(self) -> bool:
        available = hostinfo.mem_available_bytes()
        return available == 0 or available >= _EVICTION_MEMORY_BYTES

    def _disk_ok(self) -> bool:
        capacity, available = hostinfo.disk_bytes(self.root)
        return capacity == 0 or available / capacity >= _EVICTION_DISK_FRACTION

    async def _runtime_ok(self) -> bool:
        try:
            v = await self.runtime.version()
        except ri.RuntimeError_ as e:
            log.warning("node %s: container runtime not answering: %s", self.name, e)
            return False
        self._runtime_version = f"{v.runtime_name}://{v.runtime_version}"
        return True

    def observe(self, node: typed.Node) -> str | None:
        """Remember what the kubelet needs of its Node as read (its podCIDR); returns it."""
        spec = node.get("spec") or {}
        self.pod_cidr = spec.get("podCIDR") or next(iter(spec.get("podCIDRs") or []), None)
        return self.pod_cidr

    # --- registration -----------------------------------------------------------------------

    async def register(self) -> typed.Node:
        """Create (or adopt) the Node object; retries until the apiserver takes it."""
        attempt = 0
        while True:
            try:
                node = await self._register_once()
                self._recovered()
                return node
            except (errors.ConnectionFailed, errors.ServerError, errors.TooManyRequests) as e:
                self._report(e)
            except errors.ApiError as e:
                log.error("node %s: registration refused: %s; retrying", self.name, e)
            attempt += 1
            await asyncio.sleep(min(30.0, 0.5 * 2 ** min(attempt, 6)) * (0.5 + random.random()))

    async def _register_once(self) -> typed.Node:
        runtime_ok = await self._runtime_ok()
        status = self.build_status(runtime_ok=runtime_ok, previous=None)
        spec: typed.NodeSpec = {}
        if self.config.register_with_taints:
            spec["taints"] = list(self.config.register_with_taints)
        body: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name, "labels": self.labels()},
                "spec": spec, "status": status}
        try:
            node = typed.node(await self.client.create(NODES, body))
            log.info("node %s registered", self.name)
        except errors.AlreadyExists:
            existing = typed.node(await self.client.get(NODES, self.name))
            # Kubernetes reconciles its own labels on an existing Node; status is ours to rewrite.
            await self.client.patch(NODES, self.name, {"metadata": {"labels": self.labels()}})
            status = self.build_status(runtime_ok=runtime_ok, previous=existing.get("status"))
            node = typed.node(await self.client.patch(NODES, self.name, {"status": status}, subresource="status"))
            log.info("node %s already registered; adopted it", self.name)
        self.observe(node)
        self._status = node.get("status") or status
        self._reported_at = time.monotonic()
        return node

    # --- heartbeats -------------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.gather(self._lease_loop(), self._status_loop())

    async def _lease_loop(self) -> None:
        while True:
            try:
                await self.renew_lease()
                self._recovered()
            except (errors.ConnectionFailed, errors.ApiError) as e:
                self._report(e)
            await asyncio.sleep(_LEASE_RENEW_S * (0.9 + 0.2 * random.random()))

    async def renew_lease(self) -> None:
        now = format_micro_time()
        if self._lease is None:
            try:
                self._lease = await self.client.get(LEASES, self.name, namespace=LEASE_NAMESPACE)
            except errors.NotFound:
                body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                        "metadata": {"name": self.name, "namespace": LEASE_NAMESPACE,
                                     "ownerReferences": await self._owner()},
                        "spec": {"holderIdentity": self.name,
                                 "leaseDurationSeconds": self.config.node_lease_duration_seconds,
                                 "renewTime": now}}
                self._lease = await self.client.create(LEASES, body, namespace=LEASE_NAMESPACE)
                return
        lease = {**self._lease, "spec": {**(self._lease.get("spec") or {}), "holderIdentity": self.name,
                                         "leaseDurationSeconds": self.config.node_lease_duration_seconds,
                                         "renewTime": now}}
        try:
            self._lease = await self.client.update(LEASES, lease)
        except (errors.Conflict, errors.NotFound):
            self._lease = None  # someone else wrote it: read it afresh next time
            raise

    async def _owner(self) -> list[typed.OwnerReference]:
        try:
            node = await self.client.get(NODES, self.name)
        except errors.NotFound:
            return []
        return [{"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": node["metadata"]["uid"]}]

    def poke(self) -> None:
        """Something the status reports changed (the pod network): write the status now."""
        self._poked.set()

    async def _status_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poked.wait(), self.config.node_status_update_frequency)
            self._poked.clear()
            try:
                await self.update_status()
                self._recovered()
            except (errors.ConnectionFailed, errors.ApiError) as e:
                self._report(e)

    async def update_status(self, *, force: bool = False) -> bool:
        """Write the node status if it changed (heartbeat times aside) or is due; True if written."""
        # Compare with what is stored, not with what we last wrote: the node lifecycle
        # controller may have marked the node Unknown meanwhile, and must see Ready again.
        try:
            node = typed.node(await self.client.get(NODES, self.name))
            self.observe(node)
            stored = node.get("status")
        except errors.NotFound:
            stored = None
        status = self.build_status(runtime_ok=await self._runtime_ok(), previous=stored or self._status)
        due = time.monotonic() - self._reported_at >= self.config.node_status_report_frequency
        if not force and not due and stored is not None and _strip(status) == _strip(stored):
            return False
        try:
            node = typed.node(await self.client.patch(NODES, self.name, {"status": status}, subresource="status"))
        except errors.NotFound:
            # Someone deleted our Node: register it again, as the kubelet does.
            node = await self._register_once()
        self._status = node.get("status") or status
        self._reported_at = time.monotonic()
        return True

    def _report(self, e: Exception) -> None:
        if not self._unreachable:
            log.warning("node %s: cannot reach the apiserver (%s); retrying with backoff", self.name, e)
            self._unreachable = True

    def _recovered(self) -> None:
        if self._unreachable:
            log.info("node %s: apiserver reachable again", self.name)
            self._unreachable = False


def _strip(status: typed.NodeStatus | None) -> dict[str, Any] | None:
    """The status without heartbeat times: what "changed" means for the 5-minute rule."""
    if status is None:
        return None
    return {**status, "conditions": [{k: v for k, v in c.items() if k != "lastHeartbeatTime"}
                                     for c in status.get("conditions") or []]}
