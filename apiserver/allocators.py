"""Service ClusterIP and NodePort allocation, as Kubernetes' service REST storage does it.

The apiserver is the only writer of services, so the allocation maps live in its memory: they
are rebuilt from the stored services at start (:meth:`ServiceAllocator.rebuild`) and changed
only around service writes. A write that fails after allocating gives its allocations back
(:meth:`ServiceAllocator.release`), so nothing leaks.

Errors are field errors in Kubernetes' wording (``spec.clusterIPs``, ``spec.ports[0].nodePort``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from apiserver import validation as v
from apiserver.validation import FieldError

DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_NODE_PORT_RANGE = (30000, 32767)


class IPAllocator:
    """Addresses of one CIDR, handed out round-robin so a freed IP is not reused at once."""

    def __init__(self, cidr: str) -> None:
        self.net = ipaddress.ip_network(cidr, strict=False)
        self.first = int(self.net.network_address) + 1
        self.last = int(self.net.broadcast_address) - 1
        self.used: set[int] = set()
        self._next = self.first

    def contains(self, ip: str) -> bool:
        try:
            n = int(ipaddress.ip_address(ip))
        except ValueError:
            return False
        return self.first <= n <= self.last

    def allocate(self, ip: str | None = None) -> str:
        """``ip`` when given (ValueError with Kubernetes' reason if refused), else the next free."""
        if ip is not None:
            if not self.contains(ip):
                raise ValueError(f"the provided IP ({ip}) is not in the valid range. "
                                 f"The range of valid IPs is {self.net}")
            n = int(ipaddress.ip_address(ip))
            if n in self.used:
                raise ValueError("provided IP is already allocated")
            self.used.add(n)
            return ip
        size = self.last - self.first + 1
        if len(self.used) >= size:
            raise ValueError("range is full")
        n = self._next
        while n in self.used:
            n = n + 1 if n < self.last else self.first
        self.used.add(n)
        self._next = n + 1 if n < self.last else self.first
        return str(ipaddress.ip_address(n))

    def release(self, ip: str) -> None:
        try:
            self.used.discard(int(ipaddress.ip_address(ip)))
        except ValueError:
            pass


class PortAllocator:
    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi
        self.used: set[int] = set()
        self._next = lo

    def allocate(self, port: int | None = None) -> int:
        if port is not None:
            if not self.lo <= port <= self.hi:
                raise ValueError(f"provided port is not in the valid range. The range of valid ports is "
                                 f"{self.lo}-{self.hi}")
            if port in self.used:
                raise ValueError("provided port is already allocated")
            self.used.add(port)
            return port
        if len(self.used) > self.hi - self.lo:
            raise ValueError("range is full")
        p = self._next
        while p in self.used:
            p = p + 1 if p < self.hi else self.lo
        self.used.add(p)
        self._next = p + 1 if p < self.hi else self.lo
        return p

    def release(self, port: int) -> None:
        self.used.discard(port)


def _wants_cluster_ip(spec: dict[str, Any]) -> bool:
    return spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None"


def _wants_node_ports(spec: dict[str, Any]) -> bool:
    t = spec.get("type")
    return t == "NodePort" or (t == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True))


class ServiceAllocator:
    """ClusterIPs from the service CIDR and node ports from their range."""

    def __init__(self, *, service_cidr: str = DEFAULT_SERVICE_CIDR,
                 node_port_range: tuple[int, int] = DEFAULT_NODE_PORT_RANGE) -> None:
        self.ips = IPAllocator(service_cidr)
        self.ports = PortAllocator(*node_port_range)

    @property
    def kubernetes_service_ip(self) -> str:
        """The first address of the range, which Kubernetes gives the ``kubernetes`` service."""
        return str(ipaddress.ip_address(self.ips.first))

    def rebuild(self, services: list[dict[str, Any]]) -> None:
        for svc in services:
            spec = svc.get("spec") or {}
            ip = spec.get("clusterIP")
            if ip and ip != "None" and self.ips.contains(ip):
                self.ips.used.add(int(ipaddress.ip_address(ip)))
            for p in spec.get("ports") or []:
                if p.get("nodePort"):
                    self.ports.used.add(p["nodePort"])

    def allocate(self, new: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        """Fill ``new``'s clusterIP(s) and node ports, keeping what ``old`` had. On an error
        nothing stays allocated."""
        spec = new.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        taken_ip: str | None = None
        taken_ports: list[int] = []
        errs: list[FieldError] = []
        old_ip = old_spec.get("clusterIP")
        if spec.get("type") == "ExternalName":
            for f in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                spec.pop(f, None)
        elif spec.get("clusterIP") == "None":
            spec["clusterIPs"] = ["None"]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        else:
            want = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
            if old_ip and old_ip != "None" and (not want or want == old_ip):
                spec["clusterIP"] = old_ip
            else:
                try:
                    taken_ip = self.ips.allocate(want or None)
                    spec["clusterIP"] = taken_ip
                except ValueError as e:
                    errs.append(v.invalid("spec.clusterIPs", [want] if want else [],
                                          f"failed to allocate IP {want}: {e}" if want else f"failed to allocate IP: {e}"))
            if "clusterIP" in spec:
                spec["clusterIPs"] = [spec["clusterIP"]]
            spec["ipFamilies"] = ["IPv4"]
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        old_ports = {(p.get("port"), p.get("protocol")): p.get("nodePort") for p in old_spec.get("ports") or []
                     if p.get("nodePort")}
        if _wants_node_ports(spec):
            for i, p in enumerate(spec.get("ports") or []):
                want_port = p.get("nodePort")
                kept = old_ports.get((p.get("port"), p.get("protocol")))
                if kept and (not want_port or want_port == kept):
                    p["nodePort"] = kept
                    continue
                if want_port and want_port in old_ports.values():
                    continue  # moved between ports of the same service
                try:
                    p["nodePort"] = self.ports.allocate(want_port or None)
                    taken_ports.append(p["nodePort"])
                except ValueError as e:
                    errs.append(v.invalid(f"spec.ports[{i}].nodePort", want_port, str(e)))
        else:
            for p in spec.get("ports") or []:
                p.pop("nodePort", None)
        if errs:
            if taken_ip:
                self.ips.release(taken_ip)
            for port in taken_ports:
                self.ports.release(port)
        return errs

    def release_replaced(self, new: dict[str, Any] | None, old: dict[str, Any]) -> None:
        """After a successful write: free what ``old`` held that ``new`` (None: deleted) does not."""
        nspec = (new or {}).get("spec") or {}
        ospec = old.get("spec") or {}
        oip = ospec.get("clusterIP")
        if oip and oip != "None" and oip != nspec.get("clusterIP"):
            self.ips.release(oip)
        nports = {p.get("nodePort") for p in nspec.get("ports") or []}
        for p in ospec.get("ports") or []:
            if p.get("nodePort") and p["nodePort"] not in nports:
                self.ports.release(p["nodePort"])

    def release_new(self, new: dict[str, Any], old: dict[str, Any] | None) -> None:
        """After a failed write: free what ``allocate`` took for ``new`` beyond ``old``'s."""
        self.release_replaced(old, new)

    # ---- the REST storage's WriteHooks protocol -------------------------------------------

    def before_write(self, new: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        return self.allocate(new, old)

    def after_write(self, new: dict[str, Any] | None, old: dict[str, Any] | None, *, ok: bool) -> None:
        if ok:
            if old is not None:
                self.release_replaced(new, old)
        elif new is not None:
            self.release_new(new, old)
