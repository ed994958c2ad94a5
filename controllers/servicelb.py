"""ServiceLB: LoadBalancer services without a cloud, as k3s' ServiceLB (klipper-lb) does it.

A Service of ``type: LoadBalancer`` (with no ``loadBalancerClass``: another implementation's)
gets ``status.loadBalancer.ingress`` set to the InternalIPs of the Ready nodes; every node's
proxy then opens the service port on those addresses (``kubelet/proxy``), so the ingress IPs
answer. A service that stops being a LoadBalancer has its ingress cleared. Status is written
through ``services/{name}/status`` only when it changed. One writer for the whole cluster
(it runs in the controller-manager, under its leader election), not one per node.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
from typing import Any

from controllers.base import Controller, tombstone_safe
from minik8s import errors
from minik8s.api import typed
from minik8s.api.resources import NODES, SERVICES, split_key
from minik8s.api.typed import LoadBalancerIngress, Node, Service
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)


def node_ready(node: Node) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def node_internal_ip(node: Node) -> str | None:
    for addr in (node.get("status") or {}).get("addresses") or []:
        if addr.get("type") == "InternalIP" and addr.get("address"):
            return addr["address"]
    return None


def _ip_key(ip: str) -> tuple[int, int | str]:
    try:
        return (0, int(ipaddress.ip_address(ip)))
    except ValueError:
        return (1, ip)


def desired_ingress(service: Service, nodes: list[Node]) -> list[LoadBalancerIngress]:
    """The ingress a LoadBalancer service should show: one entry per Ready node address."""
    spec = service.get("spec") or {}
    if spec.get("type") != "LoadBalancer" or spec.get("loadBalancerClass"):
        return []
    ips = {ip for n in nodes if node_ready(n) and (ip := node_internal_ip(n))}
    return [{"ip": ip, "ipMode": "VIP"} for ip in sorted(ips, key=_ip_key)]


class ServiceLBController(Controller):
    name = "servicelb"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, **kwargs: Any) -> None:
        """``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.service_informer = informers.informer(SERVICES)
        self.node_informer = informers.informer(NODES)
        self.informers = [self.service_informer, self.node_informer]
        self.service_informer.add_handler(on_add=self._service, on_update=lambda old, cur: self._service(cur),
                                          on_delete=None)
        self.node_informer.add_handler(on_add=self._node_changed, on_update=self._update_node,
                                       on_delete=self._node_changed)

    def _service(self, obj: dict[str, Any]) -> None:
        svc = typed.service(obj)
        spec = svc.get("spec") or {}
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        # Only LoadBalancers, and former ones still showing an ingress, have anything to do.
        if spec.get("type") == "LoadBalancer" or ingress:
            self.enqueue(obj)

    def _node_changed(self, node: dict[str, Any] | None) -> None:
        if tombstone_safe(node) is None:
            return
        for svc in self.service_informer.store.list():
            self._service(svc)

    def _update_node(self, old_obj: dict[str, Any], cur: dict[str, Any]) -> None:
        old, new = typed.node(old_obj), typed.node(cur)
        if (node_ready(old), node_internal_ip(old)) != (node_ready(new), node_internal_ip(new)):
            self._node_changed(cur)

    async def sync(self, key: str) -> None:
        cached = self.service_informer.store.get(key)
        if cached is None:
            return
        service = typed.service(cached)
        want = desired_ingress(service, [typed.node(n) for n in self.node_informer.store.list()])
        status = service.get("status") or {}
        have = (status.get("loadBalancer") or {}).get("ingress") or []
        if have == want:
            return
        spec = service.get("spec") or {}
        if spec.get("type") == "LoadBalancer" and spec.get("loadBalancerClass"):
            return  # another load balancer implementation owns this status
        updated = copy.deepcopy(cached)
        updated.setdefault("status", {})["loadBalancer"] = {"ingress": want} if want else {}
        updated.setdefault("apiVersion", "v1")
        updated.setdefault("kind", "Service")
        ns, name = split_key(key)
        try:
            await self.client.update_status(SERVICES, updated)
        except errors.NotFound:
            return
        log.info("servicelb: %s/%s ingress %s", ns, name, [i["ip"] for i in want] or "cleared")

