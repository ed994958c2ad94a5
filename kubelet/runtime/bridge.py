"""A sandbox's place on the node's pod bridge, as Kubernetes' CNI ``bridge`` plugin with
``host-local`` IPAM makes it.

The Docker runtime starts a pod's sandbox with no network from Docker (``network_mode=none``:
no endpoint, no embedded DNS resolver, no libnetwork bookkeeping per pod, which cost a pod's
start about a fifth of its Docker time, tests/perf/RESULTS.md) and wires it here instead::

    node bridge mk<hash> (gateway .1) ── mkv<sandbox id> ═══ veth ═══ eth0 (pod IP/prefix, default via .1)
                                         hairpin on                    in the sandbox's netns (by its pid)

:class:`HostLocalIPAM` hands out the podCIDR's addresses as host-local does: the next free one
after the last handed out (an address just released is not reused at once), never the network,
gateway or broadcast address. It keeps them in memory, owned by the sandbox's id; the runtime
records each sandbox's address in the sandbox's labels, so a restarted kubelet recovers the
allocations from the sandboxes that are not stopped (:meth:`HostLocalIPAM.recover`), as
host-local does from its files. An address is released when its sandbox stops (CNI DEL at
StopPodSandbox) or is removed. The veth needs no teardown: the kernel destroys the pair with
the sandbox's network namespace.

:func:`wire` runs ``ip`` twice (through :mod:`kubelet.nettools`): once on the host (the pair,
made with its peer inside the namespace; the host end on the bridge, up, hairpin on) and once
inside the namespace (``nsenter``: address, link up, default route).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from kubelet import nettools

__all__ = ["HostLocalIPAM", "AddressesExhausted", "wire", "host_interface"]


class AddressesExhausted(Exception):
    """Every address of the pod network is in use."""


def host_interface(sandbox_id: str) -> str:
    """The host end's name: stable per sandbox, at most 15 characters (IFNAMSIZ - 1)."""
    return "mkv" + sandbox_id[:12]


class HostLocalIPAM:
    """Addresses of one pod network, each owned by one sandbox."""

    def __init__(self, subnet: str, gateway: str) -> None:
        self.network = ipaddress.ip_network(subnet, strict=False)
        self.gateway = gateway
        self._owners: dict[str, str] = {}  # address -> owner (the sandbox's id, or a placeholder)
        self._hosts = [str(a) for a in self.network.hosts()]
        self._last = gateway

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen

    def recover(self, owners: Mapping[str, str]) -> None:
        """Take the addresses in use as the runtime found them (address -> owner)."""
        for ip, owner in owners.items():
            if ipaddress.ip_address(ip) in self.network:
                self._owners[ip] = owner

    def allocate(self, owner: str) -> str:
        hosts = self._hosts
        start = hosts.index(self._last) + 1 if self._last in hosts else 0
        for ip in hosts[start:] + hosts[:start]:
            if ip != self.gateway and ip not in self._owners:
                self._owners[ip] = owner
                self._last = ip
                return ip
        raise AddressesExhausted(f"no free address in {self.network} ({len(self._owners)} in use)")

    def assign(self, ip: str, owner: str) -> None:
        """Give an allocated address its final owner (the sandbox's id, once it exists)."""
        self._owners[ip] = owner

    def release(self, owner: str) -> str | None:
        """Free what ``owner`` holds; the address, or None when it held none."""
        for ip, held_by in list(self._owners.items()):
            if held_by == owner:
                del self._owners[ip]
                return ip
        return None

    def release_address(self, ip: str) -> None:
        self._owners.pop(ip, None)

    def in_use(self) -> dict[str, str]:
        return dict(self._owners)


async def wire(pid: int, *, ip: str, prefixlen: int, gateway: str, bridge: str, host_end: str) -> None:
    """Plug the network namespace of process ``pid`` into ``bridge`` with ``ip``; raises
    :class:`nettools.CommandError` with ``ip``'s message when the kernel refuses a step."""
    await nettools.run(["ip", "-batch", "-"], input=(
        f"link add {host_end} type veth peer name eth0 netns {pid}\n"
        f"link set {host_end} master {bridge} up\n"
        # A pod reaching itself through a Service is sent back out of the port it came in by.
        f"link set {host_end} type bridge_slave hairpin on\n"))
    await nettools.run(["nsenter", "-t", str(pid), "-n", "ip", "-batch", "-"], input=(
        f"addr add {ip}/{prefixlen} dev eth0\n"
        "link set eth0 up\n"
        "link set lo up\n"
        f"route add default via {gateway}\n"))
