"""The cluster DNS's Prometheus metrics, with CoreDNS' names and labels (its ``prometheus``
plugin): ``coredns_dns_requests_total{server, zone, view, proto, family, type}``,
``coredns_dns_responses_total{server, zone, view, rcode, plugin}`` and
``coredns_dns_request_duration_seconds{server, zone, view, type}``. ``server`` is
``dns://<address>:<port>``, ``zone`` the server block's (``.``: this server answers every
name, as Kubernetes' default Corefile), ``plugin`` ``kubernetes`` for cluster names and
``forward`` for what went upstream."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from minik8s.metrics import exponential_buckets

__all__ = ["DURATION", "REQUESTS", "RESPONSES", "qtype_label"]

REQUESTS = Counter("coredns_dns_requests", "Counter of DNS requests made per zone, protocol and family.",
                   ["server", "zone", "view", "proto", "family", "type"])
RESPONSES = Counter("coredns_dns_responses", "Counter of response status codes.",
                    ["server", "zone", "view", "rcode", "plugin"])
DURATION = Histogram("coredns_dns_request_duration_seconds", "Histogram of the time (in seconds) each request took.",
                     ["server", "zone", "view", "type"], buckets=exponential_buckets(0.00025, 2, 16))

# CoreDNS reports these query types by name and every other as "other".
_TYPES = frozenset(("A", "AAAA", "NS", "PTR", "SOA", "CNAME", "MX", "TXT", "SRV", "DS", "DNSKEY", "RRSIG", "NSEC",
                    "NSEC3", "HTTPS", "IXFR", "AXFR", "ANY"))


def qtype_label(name: str) -> str:
    return name if name in _TYPES else "other"
