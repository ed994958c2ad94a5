"""The proxy's rule builder: Services + EndpointSlices in, ``iptables-restore`` text out (pure).

Kubernetes' kube-proxy iptables mode, chain for chain::

    nat PREROUTING/OUTPUT ─> KUBE-SERVICES ─ clusterIP:port ────────> KUBE-SVC-<hash>
                                  │       ─ loadBalancer/external IP ─> KUBE-EXT-<hash> ─> KUBE-SVC-<hash>
                                  └─ (last) dst LOCAL ─> KUBE-NODEPORTS ─ nodePort ─> KUBE-EXT-<hash>
    KUBE-SVC-<hash>: ! -s clusterCIDR ─> KUBE-MARK-MASQ; [affinity: -m recent --rcheck per endpoint];
                     one jump per endpoint, ``-m statistic --mode random --probability 1/(n-i)``
    KUBE-SEP-<hash>: -s <itself> ─> KUBE-MARK-MASQ (hairpin); [-m recent --set] DNAT to ip:port
    KUBE-EXT-<hash>: ─> KUBE-MARK-MASQ (traffic from outside), then KUBE-SVC-<hash>
    nat POSTROUTING ─> KUBE-POSTROUTING: MASQUERADE what carries the 0x4000 mark
    filter: KUBE-SERVICES / KUBE-EXTERNAL-SERVICES REJECT ports of services without endpoints;
            KUBE-FORWARD accepts marked and established traffic; KUBE-FIREWALL keeps localhost
            NodePorts (route_localnet) from being reached from outside

Chain names are kube-proxy's: the first 16 characters of base32(sha256(portname + protocol
[+ endpoint])). :func:`build` returns every rule; :func:`render` turns them into one
``iptables-restore --noflush`` document that declares (and so flushes) every chain we own,
refills them, and deletes stale ones with ``-X``, so one restore swaps the whole set atomically.
The hooks into the built-in chains (:data:`JUMPS`) are not part of it: they are ensured once
with ``iptables -C``/``-I`` because the built-in chains are shared with Docker and others.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import ipaddress
from collections.abc import Iterable

from minik8s.api import typed

__all__ = [
    "ServicePort", "Endpoint", "Rules", "JUMPS", "OWNED_PREFIXES", "service_ports", "slice_endpoints",
    "build", "render", "render_cleanup", "chain_texts", "service_chain", "endpoint_chain", "external_chain", "MASQ_MARK",
]

MASQ_MARK = "0x4000"  # kube-proxy's --iptables-masquerade-bit 14
MASQ_MARK_MASK = f"{MASQ_MARK}/{MASQ_MARK}"

KUBE_SERVICES = "KUBE-SERVICES"
KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES"
KUBE_NODEPORTS = "KUBE-NODEPORTS"
KUBE_POSTROUTING = "KUBE-POSTROUTING"
KUBE_MARK_MASQ = "KUBE-MARK-MASQ"
KUBE_FORWARD = "KUBE-FORWARD"
KUBE_FIREWALL = "KUBE-FIREWALL"

NAT_BASE_CHAINS = (KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ)
FILTER_BASE_CHAINS = (KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_FIREWALL)
# Per-service chains: anything with these prefixes that we did not ask for is stale.
OWNED_PREFIXES = ("KUBE-SVC-", "KUBE-SEP-", "KUBE-EXT-", "KUBE-FW-", "KUBE-XLB-")

_NEW = ["-m", "conntrack", "--ctstate", "NEW"]
# (table, built-in chain, rule args) kube-proxy hooks in before anything else in those chains.
JUMPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("nat", "PREROUTING", ("-m", "comment", "--comment", "kubernetes service portals", "-j", KUBE_SERVICES)),
    ("nat", "OUTPUT", ("-m", "comment", "--comment", "kubernetes service portals", "-j", KUBE_SERVICES)),
    ("nat", "POSTROUTING", ("-m", "comment", "--comment", "kubernetes postrouting rules", "-j", KUBE_POSTROUTING)),
    ("filter", "INPUT", (*_NEW, "-m", "comment", "--comment", "kubernetes externally-visible service portals",
                         "-j", KUBE_EXTERNAL_SERVICES)),
    ("filter", "INPUT", ("-j", KUBE_FIREWALL)),
    ("filter", "FORWARD", ("-m", "comment", "--comment", "kubernetes forwarding rules", "-j", KUBE_FORWARD)),
    ("filter", "FORWARD", (*_NEW, "-m", "comment", "--comment", "kubernetes service portals", "-j", KUBE_SERVICES)),
    ("filter", "FORWARD", (*_NEW, "-m", "comment", "--comment", "kubernetes externally-visible service portals",
                           "-j", KUBE_EXTERNAL_SERVICES)),
    ("filter", "OUTPUT", (*_NEW, "-m", "comment", "--comment", "kubernetes service portals", "-j", KUBE_SERVICES)),
    ("filter", "OUTPUT", ("-j", KUBE_FIREWALL)),
)


# -- the model the rules are built from ------------------------------------------------------

@dataclasses.dataclass(frozen=True, order=True)
class Endpoint:
    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclasses.dataclass(frozen=True)
class ServicePort:
    """One port of one service, as the proxy programs it."""

    namespace: str
    name: str
    port_name: str
    protocol: str  # TCP | UDP | SCTP
    cluster_ip: str | None
    port: int
    node_port: int | None = None
    load_balancer_ips: tuple[str, ...] = ()
    external_ips: tuple[str, ...] = ()
    affinity_seconds: int | None = None  # sessionAffinity ClientIP timeout
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def port_name_string(self) -> str:
        """kube-proxy's ServicePortName.String(): ``ns/name`` plus ``:port`` when the port is named."""
        return f"{self.namespace}/{self.name}" + (f":{self.port_name}" if self.port_name else "")

    @property
    def proto(self) -> str:
        return self.protocol.lower()

    def usable_endpoints(self) -> list[Endpoint]:
        """Ready endpoints; with none, the serving terminating ones (kube-proxy's fallback)."""
        ready = [e for e in self.endpoints if e.ready]
        if ready:
            return sorted(ready)
        return sorted(e for e in self.endpoints if e.serving and e.terminating)


def _ipv4(ip: str | None) -> bool:
    if not ip or ip == "None":
        return False
    try:
        return ipaddress.ip_address(ip).version == 4
    except ValueError:
        return False


def service_ports(service: typed.Service) -> list[ServicePort]:
    """The ports of a service the proxy serves (none for headless or ExternalName services)."""
    md, spec = service.get("metadata") or {}, service.get("spec") or {}
    status = service.get("status") or {}
    if spec.get("type") == "ExternalName" or not _ipv4(spec.get("clusterIP")):
        return []
    affinity = None
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
        affinity = int(cfg.get("timeoutSeconds") or 10800)
    lb_ips: tuple[str, ...] = ()
    if spec.get("type") == "LoadBalancer":
        lb_ips = tuple(i["ip"] for i in (status.get("loadBalancer") or {}).get("ingress") or [] if _ipv4(i.get("ip")))
    external = tuple(ip for ip in spec.get("externalIPs") or [] if _ipv4(ip))
    out = []
    for p in spec.get("ports") or []:
        node_port = p.get("nodePort") if spec.get("type") in ("NodePort", "LoadBalancer") else None
        out.append(ServicePort(
            namespace=md.get("namespace") or "default", name=md["name"], port_name=p.get("name") or "",
            protocol=p.get("protocol") or "TCP", cluster_ip=spec["clusterIP"], port=int(p["port"]),
            node_port=int(node_port) if node_port else None, load_balancer_ips=lb_ips, external_ips=external,
            affinity_seconds=affinity))
    return out


def slice_endpoints(slices: Iterable[typed.EndpointSlice], port_name: str, protocol: str) -> tuple[Endpoint, ...]:
    """The endpoints of one service port from the service's EndpointSlices (deduplicated)."""
    seen: dict[tuple[str, int], Endpoint] = {}
    for s in slices:
        if s.get("addressType", "IPv4") != "IPv4":
            continue
        port = None
        for p in s.get("ports") or []:
            if (p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == protocol and p.get("port"):
                port = int(p["port"])
                break
        if port is None:
            continue
        for e in s.get("endpoints") or []:
            cond = e.get("conditions") or {}
            ready = cond.get("ready") is not False  # nil means ready, as the API says
            serving = cond.get("serving") if cond.get("serving") is not None else ready
            terminating = bool(cond.get("terminating"))
            for ip in (e.get("addresses") or [])[:1]:
                if _ipv4(ip):
                    seen.setdefault((ip, port), Endpoint(ip, port, ready, bool(serving), terminating))
    return tuple(sorted(seen.values()))


# -- chain names -------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1 << 16)
def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def service_chain(sp: ServicePort) -> str:
    return "KUBE-SVC-" + _hash(sp.port_name_string + sp.proto)


def external_chain(sp: ServicePort) -> str:
    return "KUBE-EXT-" + _hash(sp.port_name_string + sp.proto)


def endpoint_chain(sp: ServicePort, ep: Endpoint) -> str:
    return "KUBE-SEP-" + _hash(sp.port_name_string + sp.proto + ep.address)


# -- building ------------------------------------------------------------------------------------

@dataclasses.dataclass
class Rules:
    """Chains (in declaration order) and rules per table; rules are argument lists after ``-A``."""

    nat_chains: list[str] = dataclasses.field(default_factory=list)
    filter_chains: list[str] = dataclasses.field(default_factory=list)
    nat: list[list[str]] = dataclasses.field(default_factory=list)
    filter: list[list[str]] = dataclasses.field(default_factory=list)

    _rendered: tuple[list[str], list[str]] | None = dataclasses.field(default=None, repr=False, compare=False)

    def owned_nat_chains(self) -> set[str]:
        return {c for c in self.nat_chains if c.startswith(OWNED_PREFIXES)}

    def rendered(self) -> tuple[list[str], list[str]]:
        """(filter lines, nat lines) as ``-A ...`` text, rendered once per Rules."""
        if self._rendered is None:
            self._rendered = ([_line(a) for a in self.filter], [_line(a) for a in self.nat])
        return self._rendered


def _comment(text: str) -> list[str]:
    return ["-m", "comment", "--comment", text]


def _match(sp: ServicePort, *, dst: str | None, dport: int | None) -> list[str]:
    args = ["-p", sp.proto]
    if dst:
        args += ["-d", f"{dst}/32"]
    if dport is not None:
        args += ["-m", sp.proto, "--dport", str(dport)]
    return args


def build(ports: Iterable[ServicePort], *, cluster_cidr: str | None, localhost_nodeports: bool = True) -> Rules:
    """Every rule for these service ports (each with its endpoints filled in)."""
    r = Rules()
    r.nat_chains += list(NAT_BASE_CHAINS)
    r.filter_chains += list(FILTER_BASE_CHAINS)

    r.nat.append([KUBE_POSTROUTING, "-m", "mark", "!", "--mark", MASQ_MARK_MASK, "-j", "RETURN"])
    # Clear the mark so a packet that is forwarded again is not masqueraded twice.
    r.nat.append([KUBE_POSTROUTING, "-j", "MARK", "--xor-mark", MASQ_MARK])
    # kube-proxy adds --random-fully here; measured on these machines (tests/perf/service_bench.py)
    # it made new connections from the host to a ClusterIP fail by the hundreds at ~5k/s (random
    # source ports land on the pods' TIME_WAIT sockets), while plain MASQUERADE keeps the
    # client's own port when it is free and failed none.
    r.nat.append([KUBE_POSTROUTING, *_comment("kubernetes service traffic requiring SNAT"),
                  "-j", "MASQUERADE"])
    r.nat.append([KUBE_MARK_MASQ, "-j", "MARK", "--or-mark", MASQ_MARK])

    r.filter.append([KUBE_FORWARD, *_comment("kubernetes forwarding rules"), "-m", "mark", "--mark", MASQ_MARK_MASK,
                     "-j", "ACCEPT"])
    r.filter.append([KUBE_FORWARD, *_comment("kubernetes forwarding conntrack rule"),
                     "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"])
    if localhost_nodeports:
        # route_localnet lets 127.0.0.1:<nodePort> be DNATed; never from outside the host.
        r.filter.append([KUBE_FIREWALL, *_comment("block incoming localnet connections"),
                         "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8",
                         "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP"])

    for sp in sorted(ports, key=lambda p: (p.namespace, p.name, p.port_name, p.protocol)):
        _service_rules(r, sp, cluster_cidr=cluster_cidr)

    r.nat.append([KUBE_SERVICES, *_comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain"),
                  "-m", "addrtype", "--dst-type", "LOCAL", "-j", KUBE_NODEPORTS])
    return r


def _service_rules(r: Rules, sp: ServicePort, *, cluster_cidr: str | None) -> None:
    name = sp.port_name_string
    endpoints = sp.usable_endpoints()
    external_ips = [(ip, "loadbalancer IP") for ip in sp.load_balancer_ips] + [(ip, "external IP") for ip in sp.external_ips]
    if not endpoints:
        # Nothing to send to: refuse at once rather than let connections hang.
        reject = ["-j", "REJECT", "--reject-with", "icmp-port-unreachable"]
        r.filter.append([KUBE_SERVICES, *_comment(f"{name} has no endpoints"),
                         *_match(sp, dst=sp.cluster_ip, dport=sp.port), *reject])
        for ip, _ in external_ips:
            r.filter.append([KUBE_EXTERNAL_SERVICES, *_comment(f"{name} has no endpoints"),
                             *_match(sp, dst=ip, dport=sp.port), *reject])
        if sp.node_port:
            r.filter.append([KUBE_EXTERNAL_SERVICES, *_comment(f"{name} has no endpoints"),
                             "-m", "addrtype", "--dst-type", "LOCAL", *_match(sp, dst=None, dport=sp.node_port),
                             *reject])
        return

    svc = service_chain(sp)
    r.nat_chains.append(svc)
    r.nat.append([KUBE_SERVICES, *_comment(f"{name} cluster IP"), *_match(sp, dst=sp.cluster_ip, dport=sp.port),
                  "-j", svc])
    if cluster_cidr:
        # From outside the pod network (the host itself, other machines): the reply must come
        # back through this node, so masquerade.
        r.nat.append([svc, *_comment(f"{name} cluster IP"), *_match(sp, dst=sp.cluster_ip, dport=sp.port),
                      "!", "-s", cluster_cidr, "-j", KUBE_MARK_MASQ])

    if sp.node_port or external_ips:
        ext = external_chain(sp)
        r.nat_chains.append(ext)
        r.nat.append([ext, *_comment(f"masquerade traffic for {name} external destinations"), "-j", KUBE_MARK_MASQ])
        r.nat.append([ext, "-j", svc])
        for ip, what in external_ips:
            r.nat.append([KUBE_SERVICES, *_comment(f"{name} {what}"), *_match(sp, dst=ip, dport=sp.port), "-j", ext])
        if sp.node_port:
            r.nat.append([KUBE_NODEPORTS, *_comment(name), *_match(sp, dst=None, dport=sp.node_port), "-j", ext])

    seps = [(ep, endpoint_chain(sp, ep)) for ep in endpoints]
    if sp.affinity_seconds:
        for ep, sep in seps:
            r.nat.append([svc, *_comment(f"{name} -> {ep.address}"), "-m", "recent", "--name", sep,
                          "--rcheck", "--seconds", str(sp.affinity_seconds), "--reap", "-j", sep])
    n = len(seps)
    for i, (ep, sep) in enumerate(seps):
        rule = [svc, *_comment(f"{name} -> {ep.address}")]
        if i < n - 1:
            rule += ["-m", "statistic", "--mode", "random", "--probability", f"{1.0 / (n - i):0.10f}"]
        r.nat.append([*rule, "-j", sep])
    for ep, sep in seps:
        r.nat_chains.append(sep)
        r.nat.append([sep, *_comment(name), "-s", f"{ep.ip}/32", "-j", KUBE_MARK_MASQ])
        rule = [sep, *_comment(name)]
        if sp.affinity_seconds:
            rule += ["-m", "recent", "--name", sep, "--set"]
        r.nat.append([*rule, "-p", sp.proto, "-m", sp.proto, "-j", "DNAT", "--to-destination", ep.address])


# -- rendering ------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1 << 16)
def _quote(arg: str) -> str:
    if arg == "" or any(c in arg for c in ' "\'\\;#'):
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return arg


def _line(args: list[str]) -> str:
    return "-A " + " ".join(_quote(a) for a in args)


def chain_texts(rules: Rules) -> dict[str, str]:
    """Each nat chain's rendered rules, for telling which chains changed since the last apply."""
    out: dict[str, list[str]] = {c: [] for c in rules.nat_chains}
    for a, line in zip(rules.nat, rules.rendered()[1]):
        out.setdefault(a[0], []).append(line)
    return {c: "\n".join(lines) for c, lines in out.items()}


def render(rules: Rules, *, stale_nat: Iterable[str] = (), stale_filter: Iterable[str] = (),
           unchanged_nat: Iterable[str] = ()) -> str:
    """One ``iptables-restore --noflush`` document: declare (flush) our chains, fill them, and
    delete the stale ones (declared first, since a chain must be empty to be deleted).

    ``unchanged_nat`` names per-service chains already in the kernel exactly as ``rules`` want
    them: they are left out of the document (``--noflush`` leaves them alone), so a change to
    one service rewrites that service's chains and the shared ones, not all of them (as
    kube-proxy's partial syncs do)."""
    skip = {c for c in unchanged_nat if c.startswith(OWNED_PREFIXES)}
    out: list[str] = []
    filter_lines, nat_lines = rules.rendered()
    for table, chains, args, lines, stale, omit in (
            ("filter", rules.filter_chains, rules.filter, filter_lines, stale_filter, set()),
            ("nat", rules.nat_chains, rules.nat, nat_lines, stale_nat, skip)):
        stale = sorted(set(stale) - set(chains))
        out.append(f"*{table}")
        out += [f":{c} - [0:0]" for c in chains if c not in omit]
        out += [f":{c} - [0:0]" for c in stale]
        out += [line for a, line in zip(args, lines) if a[0] not in omit] if omit else lines
        out += [f"-X {c}" for c in stale]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def render_cleanup(nat_chains: Iterable[str], filter_chains: Iterable[str]) -> str:
    """A document that flushes and deletes these chains (after the hooks to them are gone)."""
    out = []
    for table, chains in (("filter", sorted(set(filter_chains))), ("nat", sorted(set(nat_chains)))):
        out.append(f"*{table}")
        out += [f":{c} - [0:0]" for c in chains]
        out += [f"-X {c}" for c in chains]
        out.append("COMMIT")
    return "\n".join(out) + "\n"
