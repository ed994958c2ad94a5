"""A pod's resolv.conf from its ``dnsPolicy`` and ``dnsConfig``, as the kubelet's dns configurer.

``ClusterFirst`` (the default; ``ClusterFirstWithHostNet`` for host-network pods): the cluster
DNS as nameserver, searches ``<ns>.svc.<zone> svc.<zone> <zone>`` then the host's own, and
``ndots:5``. A host-network pod under ``ClusterFirst`` gets ``Default``: the host's resolv.conf
(the runtime's default). ``None``: only ``dnsConfig``. ``dnsConfig`` is merged on top of any
policy: its nameservers and searches appended (deduplicated), its options overriding by name.
Kubernetes' limits apply (3 nameservers, 32 search domains). Without a cluster DNS address a
ClusterFirst pod falls back to ``Default`` with a warning, as Kubernetes does.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubelet.runtime import interface as ri
from minik8s.api import typed

__all__ = ["pod_dns_config", "read_host_searches", "uses_cluster_dns", "MISSING_CLUSTER_DNS"]

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
MISSING_CLUSTER_DNS = ('pod: "{pod}". kubelet does not have ClusterDNS IP configured and cannot create Pod '
                       'using "ClusterFirst" policy. Falling back to "Default" policy.')


def read_host_searches(path: str = "/etc/resolv.conf") -> list[str]:
    out: list[str] = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if parts and parts[0] in ("search", "domain"):
                    out = parts[1:]  # the last search/domain line wins, as the resolver reads it
    except OSError:
        pass
    return out


def _dedupe(items: Sequence[str]) -> list[str]:
    seen: list[str] = []
    for i in items:
        if i and i not in seen:
            seen.append(i)
    return seen


def uses_cluster_dns(pod: typed.Pod) -> bool:
    """The pod's policy asks for the cluster's DNS (ClusterFirst off the host network, or
    ClusterFirstWithHostNet)."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    return policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst" and not spec.get("hostNetwork"))


def pod_dns_config(pod: typed.Pod, *, cluster_dns: Sequence[str], cluster_domain: str,
                   host_searches: Sequence[str] = ()) -> tuple[ri.DNSConfig | None, str | None]:
    """(the DNS config, or None for the runtime's default; a warning to record, if any)."""
    spec = pod.get("spec") or {}
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    warning = None
    servers: list[str] = []
    searches: list[str] = []
    options: dict[str, str | None] = {}
    cluster = uses_cluster_dns(pod)
    if cluster and not cluster_dns:
        warning = MISSING_CLUSTER_DNS.format(pod=(pod.get("metadata") or {}).get("name"))
        cluster = False
    if cluster:
        zone = cluster_domain.strip(".")
        servers = list(cluster_dns)
        searches = [f"{ns}.svc.{zone}", f"svc.{zone}", zone, *host_searches]
        options = {"ndots": "5"}
    elif policy != "None" and not spec.get("dnsConfig"):
        return None, warning  # Default: what the runtime gives (the host's resolv.conf)
    elif policy != "None":
        # Default plus dnsConfig: start from the host's searches; the nameservers come from
        # dnsConfig alone (the runtime has no way to merge with the host's file).
        searches = list(host_searches)
    dc = spec.get("dnsConfig") or {}
    servers += dc.get("nameservers") or []
    searches += dc.get("searches") or []
    for opt in dc.get("options") or []:
        if opt.get("name"):
            options[opt["name"]] = opt.get("value")
    return ri.DNSConfig(
        servers=tuple(_dedupe(servers)[:MAX_NAMESERVERS]),
        searches=tuple(_dedupe(searches)[:MAX_SEARCHES]),
        options=tuple(k if v is None else f"{k}:{v}" for k, v in options.items()),
    ), warning
