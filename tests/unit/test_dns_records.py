"""Cluster DNS records: what each name of the cluster zone answers, from informer-shaped stores."""

from __future__ import annotations

from dnslib import QTYPE, RCODE

from kubelet.dns.records import SLICE_SERVICE_INDEX, Resolver, slice_service_key
from minik8s.client.cache import DEFAULT_INDEXERS, Store


def _stores(services: list[dict], slices: list[dict]) -> Resolver:
    svc = Store()
    for s in services:
        svc.add(s)
    sl = Store(indexers={**DEFAULT_INDEXERS, SLICE_SERVICE_INDEX: slice_service_key})
    for s in slices:
        sl.add(s)
    return Resolver(svc, sl, zone="cluster.local")


def _svc(name: str, ns: str = "default", **spec) -> dict:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def _slice(svc: str, ns: str = "default", *, endpoints: list[dict], ports: list[dict] | None = None, n: int = 0) -> dict:
    return {"metadata": {"name": f"{svc}-{n}", "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
            "addressType": "IPv4", "endpoints": endpoints, "ports": ports}


def _ep(ip: str, *, ready: bool = True, hostname: str | None = None) -> dict:
    e = {"addresses": [ip], "conditions": {"ready": ready}}
    if hostname:
        e["hostname"] = hostname
    return e


R = _stores(
    [_svc("web", clusterIP="10.96.0.20", type="ClusterIP",
          ports=[{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}]),
     _svc("db", clusterIP="None", ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}]),
     _svc("ext", type="ExternalName", externalName="example.com"),
     _svc("other", ns="team", clusterIP="10.96.0.30", ports=[{"port": 8080}])],
    [_slice("db", endpoints=[_ep("10.244.1.5", hostname="db-0"), _ep("10.244.2.6"), _ep("10.244.3.7", ready=False)],
            ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}]),
     _slice("db", endpoints=[_ep("10.244.1.5", hostname="db-0")], ports=[{"name": "pg", "port": 5432, "protocol": "TCP"}],
            n=1)],
)


def _a(answer) -> list[str]:
    return sorted(str(rr.rdata) for rr in answer.answers if rr.rtype == QTYPE.A)


def test_service_name_is_its_cluster_ip_case_insensitively() -> None:
    ans = R.resolve("Web.Default.svc.cluster.local.", QTYPE.A)
    assert ans.rcode == RCODE.NOERROR and _a(ans) == ["10.96.0.20"]
    assert _a(R.resolve("other.team.svc.cluster.local", QTYPE.A)) == ["10.96.0.30"]


def test_headless_service_is_its_ready_endpoints() -> None:
    ans = R.resolve("db.default.svc.cluster.local", QTYPE.A)
    assert _a(ans) == ["10.244.1.5", "10.244.2.6"]  # deduplicated; the unready one left out


def test_pod_hostname_and_dashed_ip_under_a_headless_service() -> None:
    assert _a(R.resolve("db-0.db.default.svc.cluster.local", QTYPE.A)) == ["10.244.1.5"]
    assert _a(R.resolve("10-244-2-6.db.default.svc.cluster.local", QTYPE.A)) == ["10.244.2.6"]
    assert R.resolve("db-9.db.default.svc.cluster.local", QTYPE.A).rcode == RCODE.NXDOMAIN
    # Not under a ClusterIP service.
    assert R.resolve("x.web.default.svc.cluster.local", QTYPE.A).rcode == RCODE.NXDOMAIN


def test_srv_for_named_ports() -> None:
    ans = R.resolve("_http._tcp.web.default.svc.cluster.local", QTYPE.SRV)
    assert [(rr.rdata.port, str(rr.rdata.target)) for rr in ans.answers] == [(80, "web.default.svc.cluster.local.")]
    assert [str(rr.rdata) for rr in ans.additional] == ["10.96.0.20"]
    assert [rr.rdata.port for rr in R.resolve("_dns._udp.web.default.svc.cluster.local", QTYPE.SRV).answers] == [53]
    assert R.resolve("_dns._tcp.web.default.svc.cluster.local", QTYPE.SRV).rcode == RCODE.NXDOMAIN
    headless = R.resolve("_pg._tcp.db.default.svc.cluster.local", QTYPE.SRV)
    assert sorted(str(rr.rdata.target) for rr in headless.answers) == [
        "10-244-2-6.db.default.svc.cluster.local.", "db-0.db.default.svc.cluster.local."]


def test_external_name_is_a_cname() -> None:
    ans = R.resolve("ext.default.svc.cluster.local", QTYPE.A)
    assert ans.rcode == RCODE.NOERROR
    assert [(rr.rtype, str(rr.rdata)) for rr in ans.answers] == [(QTYPE.CNAME, "example.com.")]


def test_rest_of_the_zone_is_nxdomain_and_other_types_nodata() -> None:
    for name in ("nope.default.svc.cluster.local", "web.nons.svc.cluster.local", "foo.cluster.local",
                 "web.default.svc.cluster.local.default.svc.cluster.local", "nons.svc.cluster.local"):
        ans = R.resolve(name, QTYPE.A)
        assert ans.rcode == RCODE.NXDOMAIN, name
        assert ans.authority and ans.authority[0].rtype == QTYPE.SOA
    nodata = R.resolve("web.default.svc.cluster.local", QTYPE.AAAA)
    assert nodata.rcode == RCODE.NOERROR and not nodata.answers and nodata.authority
    assert R.resolve("default.svc.cluster.local", QTYPE.A).rcode == RCODE.NOERROR


def test_pod_names_and_reverse_lookups() -> None:
    assert _a(R.resolve("10-244-1-9.default.pod.cluster.local", QTYPE.A)) == ["10.244.1.9"]
    ptr = R.resolve("20.0.96.10.in-addr.arpa", QTYPE.PTR)
    assert [str(rr.rdata) for rr in ptr.answers] == ["web.default.svc.cluster.local."]
    assert [str(rr.rdata) for rr in R.resolve("5.1.244.10.in-addr.arpa", QTYPE.PTR).answers] == [
        "db-0.db.default.svc.cluster.local."]


def test_names_outside_the_zone_are_not_ours() -> None:
    assert R.resolve("example.com", QTYPE.A) is None
    assert R.resolve("cluster.local.example.com", QTYPE.A) is None
    assert R.resolve("1.2.0.192.in-addr.arpa", QTYPE.PTR) is None
