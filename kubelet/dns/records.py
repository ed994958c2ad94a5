"""Cluster DNS records: what a name under the cluster domain means (pure; no sockets here).

The Kubernetes DNS specification, as CoreDNS' ``kubernetes`` plugin answers it, read from the
informer caches of Services and EndpointSlices:

=============================================  =======================================================
``<svc>.<ns>.svc.<zone>``                      A: the ClusterIP; headless: the ready endpoints' IPs;
                                               ExternalName: a CNAME to ``spec.externalName``;
                                               SRV: one record per port (per endpoint when headless)
``<host>.<svc>.<ns>.svc.<zone>``               A: the endpoint of a headless service whose hostname
                                               (or dashed IP) is ``<host>``
``_<port>._<proto>.<svc>.<ns>.svc.<zone>``     SRV: the named port; target the service (or each
                                               endpoint of a headless service), A records beside it
``<a-b-c-d>.<ns>.pod.<zone>``                  A: a.b.c.d (CoreDNS' ``pods insecure``)
``<d>.<c>.<b>.<a>.in-addr.arpa``               PTR of a ClusterIP or a headless endpoint, when known
=============================================  =======================================================

Everything else under the zone is NXDOMAIN; a name that exists without records of the asked
type is NODATA (NOERROR, empty answer, the zone's SOA in authority). Names outside the zone (and
unknown reverse names) are not answered here: :meth:`Resolver.resolve` returns None and the
server forwards them upstream.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

from dnslib import CNAME, PTR, QTYPE, RCODE, RR, SOA, SRV, A, DNSLabel

from minik8s.api import typed
from minik8s.client.cache import Store

__all__ = ["Answer", "Resolver", "DEFAULT_TTL", "SLICE_SERVICE_INDEX", "slice_service_key"]

DEFAULT_TTL = 5  # CoreDNS' kubernetes plugin default: changes show within seconds
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
SLICE_SERVICE_INDEX = "dns-service"


def slice_service_key(s: dict[str, Any]) -> list[str]:
    md = s.get("metadata") or {}
    svc = (md.get("labels") or {}).get(LABEL_SERVICE_NAME)
    return [f"{md.get('namespace') or ''}/{svc}"] if svc else []


@dataclasses.dataclass
class Answer:
    rcode: int = RCODE.NOERROR
    answers: list[RR] = dataclasses.field(default_factory=list)
    authority: list[RR] = dataclasses.field(default_factory=list)
    additional: list[RR] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class _Endpoint:
    ip: str
    hostname: str | None
    ports: tuple[tuple[str, str, int], ...]  # (name, protocol, port)

    @property
    def host_label(self) -> str:
        return self.hostname or self.ip.replace(".", "-")


class Resolver:
    """Answers for the cluster zone from a service store and an EndpointSlice store.

    ``services`` and ``slices`` are :class:`~minik8s.client.cache.Store` objects (the slice store
    indexed with :func:`slice_service_key` under :data:`SLICE_SERVICE_INDEX`).
    """

    def __init__(self, services: Store, slices: Store, *, zone: str = "cluster.local", ttl: int = DEFAULT_TTL) -> None:
        self.services = services
        self.slices = slices
        self.zone = zone.strip(".").lower()
        self.zone_labels = tuple(self.zone.split("."))
        self.ttl = ttl

    # -- helpers ----------------------------------------------------------------------------------

    def soa(self) -> RR:
        return RR(self.zone + ".", QTYPE.SOA, ttl=self.ttl,
                  rdata=SOA(f"ns.dns.{self.zone}.", f"hostmaster.{self.zone}.", (1, 7200, 1800, 86400, self.ttl)))

    def _nx(self) -> Answer:
        return Answer(rcode=RCODE.NXDOMAIN, authority=[self.soa()])

    def _nodata(self) -> Answer:
        return Answer(authority=[self.soa()])

    def _service(self, ns: str, name: str) -> typed.Service | None:
        obj = self.services.get(f"{ns}/{name}")
        return typed.service(obj) if obj is not None else None

    def _endpoints(self, service: typed.Service) -> list[_Endpoint]:
        """Ready endpoints of a service (deduplicated by IP), from its slices."""
        md = service.get("metadata") or {}
        found: dict[str, _Endpoint] = {}
        for obj in self.slices.by_index(SLICE_SERVICE_INDEX, f"{md.get('namespace')}/{md.get('name')}"):
            s = typed.endpoint_slice(obj)
            if s.get("addressType", "IPv4") != "IPv4":
                continue
            ports = tuple(((p.get("name") or ""), (p.get("protocol") or "TCP"), int(p["port"]))
                          for p in s.get("ports") or [] if p.get("port"))
            for e in s.get("endpoints") or []:
                if (e.get("conditions") or {}).get("ready") is False:
                    continue
                for ip in (e.get("addresses") or [])[:1]:
                    found.setdefault(ip, _Endpoint(ip, e.get("hostname"), ports))
        return sorted(found.values(), key=lambda e: tuple(int(x) for x in e.ip.split(".")) if _is_v4(e.ip) else ())

    @staticmethod
    def _headless(service: typed.Service) -> bool:
        return (service.get("spec") or {}).get("clusterIP") == "None"

    # -- the entry point --------------------------------------------------------------------------

    def in_zone(self, qname: str) -> bool:
        labels = tuple(qname.lower().strip(".").split("."))
        n = len(self.zone_labels)
        return labels[-n:] == self.zone_labels if len(labels) >= n else False

    def resolve(self, qname: str, qtype: int) -> Answer | None:
        """The answer for a question, or None when it is not ours (forward it)."""
        name = qname.lower().strip(".")
        labels = tuple(name.split(".")) if name else ()
        if name.endswith(".in-addr.arpa"):
            return self._reverse(labels, qtype)
        if not self.in_zone(name):
            return None
        rel = labels[: len(labels) - len(self.zone_labels)]
        if not rel:
            if qtype in (QTYPE.SOA, QTYPE.ANY):
                return Answer(answers=[self.soa()])
            return self._nodata()
        kind = rel[-1]
        if kind == "svc":
            return self._svc(name, rel[:-1], qtype)
        if kind == "pod":
            return self._pod(name, rel[:-1], qtype)
        return self._nx()

    # -- <...>.svc.<zone> ---------------------------------------------------------------------------

    def _svc(self, fqdn: str, rel: tuple[str, ...], qtype: int) -> Answer:
        if len(rel) == 0:
            return self._nodata()  # svc.<zone> itself exists
        if len(rel) == 1:
            ns = rel[0]
            exists = bool(self.services.by_index("namespace", ns))
            return self._nodata() if exists else self._nx()
        ns, svc_name = rel[-1], rel[-2]
        service = self._service(ns, svc_name)
        if service is None:
            return self._nx()
        rest = rel[:-2]
        base = f"{svc_name}.{ns}.svc.{self.zone}."
        if not rest:
            return self._service_answer(fqdn, base, service, qtype)
        if len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
            return self._srv(fqdn, base, service, rest[0][1:], rest[1][1:], qtype)
        if len(rest) == 1:
            return self._endpoint_answer(fqdn, base, service, rest[0], qtype)
        return self._nx()

    def _service_answer(self, fqdn: str, base: str, service: typed.Service, qtype: int) -> Answer:
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName":
            target = (spec.get("externalName") or "").strip(".") + "."
            return Answer(answers=[RR(fqdn + ".", QTYPE.CNAME, ttl=self.ttl, rdata=CNAME(target))])
        if qtype == QTYPE.SRV:
            return self._srv_all(fqdn, base, service)
        if qtype not in (QTYPE.A, QTYPE.ANY):
            return self._nodata()
        if self._headless(service):
            eps = self._endpoints(service)
            if not eps:
                return self._nodata()
            return Answer(answers=[RR(fqdn + ".", QTYPE.A, ttl=self.ttl, rdata=A(e.ip)) for e in eps])
        ip = spec.get("clusterIP")
        if not _is_v4(ip):
            return self._nodata()
        return Answer(answers=[RR(fqdn + ".", QTYPE.A, ttl=self.ttl, rdata=A(ip))])

    def _endpoint_answer(self, fqdn: str, base: str, service: typed.Service, host: str, qtype: int) -> Answer:
        if not self._headless(service):
            return self._nx()
        matches = [e for e in self._endpoints(service) if e.host_label == host]
        if not matches:
            return self._nx()
        if qtype not in (QTYPE.A, QTYPE.ANY):
            return self._nodata()
        return Answer(answers=[RR(fqdn + ".", QTYPE.A, ttl=self.ttl, rdata=A(e.ip)) for e in matches])

    def _srv(self, fqdn: str, base: str, service: typed.Service, port_name: str, proto: str, qtype: int) -> Answer:
        spec = service.get("spec") or {}
        ports = [p for p in spec.get("ports") or []
                 if (p.get("name") or "") == port_name and (p.get("protocol") or "TCP").lower() == proto]
        if not ports:
            return self._nx()
        if qtype not in (QTYPE.SRV, QTYPE.ANY):
            return self._nodata()
        return self._srv_records(fqdn, base, service, ports)

    def _srv_all(self, fqdn: str, base: str, service: typed.Service) -> Answer:
        ports = (service.get("spec") or {}).get("ports") or []
        if not ports:
            return self._nodata()
        return self._srv_records(fqdn, base, service, ports)

    def _srv_records(self, fqdn: str, base: str, service: typed.Service, ports: list[typed.ServicePort]) -> Answer:
        out = Answer()
        if self._headless(service):
            eps = self._endpoints(service)
            for p in ports:
                key = ((p.get("name") or ""), (p.get("protocol") or "TCP"))
                targets = [(e, port) for e in eps for (n, pr, port) in e.ports if (n, pr) == key]
                if not targets:
                    continue
                weight = max(1, 100 // len(targets))
                for e, port in targets:
                    target = f"{e.host_label}.{base}"
                    out.answers.append(RR(fqdn + ".", QTYPE.SRV, ttl=self.ttl,
                                          rdata=SRV(0, weight, port, DNSLabel(target))))
                    out.additional.append(RR(target, QTYPE.A, ttl=self.ttl, rdata=A(e.ip)))
            if not out.answers:
                out.authority.append(self.soa())
            return out
        ip = (service.get("spec") or {}).get("clusterIP")
        for p in ports:
            out.answers.append(RR(fqdn + ".", QTYPE.SRV, ttl=self.ttl,
                                  rdata=SRV(0, 100, int(p["port"]), DNSLabel(base))))
        if _is_v4(ip):
            out.additional.append(RR(base, QTYPE.A, ttl=self.ttl, rdata=A(ip)))
        return out

    # -- <ip>.<ns>.pod.<zone> -----------------------------------------------------------------------

    def _pod(self, fqdn: str, rel: tuple[str, ...], qtype: int) -> Answer:
        if len(rel) == 0:
            return self._nodata()
        if len(rel) != 2:
            return self._nx()
        ip = rel[0].replace("-", ".")
        if not _is_v4(ip):
            return self._nx()
        if qtype not in (QTYPE.A, QTYPE.ANY):
            return self._nodata()
        return Answer(answers=[RR(fqdn + ".", QTYPE.A, ttl=self.ttl, rdata=A(ip))])

    # -- reverse ------------------------------------------------------------------------------------

    def _reverse(self, labels: tuple[str, ...], qtype: int) -> Answer | None:
        if len(labels) != 6:
            return None
        ip = ".".join(reversed(labels[:4]))
        if not _is_v4(ip):
            return None
        names: list[str] = []
        for svc in map(typed.service, self.services.list()):
            md, spec = svc.get("metadata") or {}, svc.get("spec") or {}
            base = f"{md.get('name')}.{md.get('namespace')}.svc.{self.zone}."
            if spec.get("clusterIP") == ip:
                names.append(base)
            elif spec.get("clusterIP") == "None":
                names += [f"{e.host_label}.{base}" for e in self._endpoints(svc) if e.ip == ip]
        if not names:
            return None  # not a cluster address we know: let upstream say
        if qtype not in (QTYPE.PTR, QTYPE.ANY):
            return Answer()
        fqdn = ".".join(labels) + "."
        return Answer(answers=[RR(fqdn, QTYPE.PTR, ttl=self.ttl, rdata=PTR(n)) for n in names])


def _is_v4(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        return ipaddress.ip_address(ip).version == 4
    except ValueError:
        return False
