"""The DNS server over real sockets on 127.0.0.1: UDP and TCP answers, truncation, forwarding to an
upstream (another DNSServer, authoritative for its own zone), and SERVFAIL when upstreams fail."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from kubelet.dns.records import SLICE_SERVICE_INDEX, Resolver, slice_service_key
from kubelet.dns.server import DNSServer, read_upstreams
from minik8s.client.cache import DEFAULT_INDEXERS, Store


def _resolver(zone: str, services: list[dict], slices: list[dict] = ()) -> Resolver:
    svc = Store()
    for s in services:
        svc.add(s)
    sl = Store(indexers={**DEFAULT_INDEXERS, SLICE_SERVICE_INDEX: slice_service_key})
    for s in slices:
        sl.add(s)
    return Resolver(svc, sl, zone=zone)


def _svc(name: str, ip: str) -> dict:
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"clusterIP": ip, "ports": [{"port": 80}]}}


async def _udp(port: int, name: str, qtype: str = "A", *, edns: bool = False) -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    if edns:
        q.add_ar(EDNS0(udp_len=4096))
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        await loop.sock_connect(s, ("127.0.0.1", port))
        await loop.sock_sendall(s, q.pack())
        data = await asyncio.wait_for(loop.sock_recv(s, 65535), 10)
    reply = DNSRecord.parse(data)
    assert reply.header.id == q.header.id
    return reply


async def _tcp(port: int, name: str, qtype: str = "A") -> DNSRecord:
    q = DNSRecord.question(name, qtype)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = q.pack()
    writer.write(struct.pack("!H", len(data)) + data)
    n = struct.unpack("!H", await reader.readexactly(2))[0]
    reply = DNSRecord.parse(await reader.readexactly(n))
    writer.close()
    return reply


@pytest.fixture
async def upstream():
    """A real DNS server for the zone ``upstream.test``, standing in as the host's resolver."""
    server = DNSServer(_resolver("upstream.test", [_svc("far", "10.96.9.9")]), bind="127.0.0.1", port=0,
                       upstreams=[])
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def cluster(upstream):
    many = {"metadata": {"name": "many", "namespace": "default"}, "spec": {"clusterIP": "None"}}
    slices = [{"metadata": {"name": "many-x", "namespace": "default", "labels": {"kubernetes.io/service-name": "many"}},
               "endpoints": [{"addresses": [f"10.244.{i // 250}.{i % 250 + 1}"], "conditions": {"ready": True}}
                             for i in range(80)]}]
    server = DNSServer(_resolver("cluster.local", [_svc("web", "10.96.0.20"), many], slices), bind="127.0.0.1",
                       port=0, upstreams=[f"127.0.0.1:{upstream.port}"])
    await server.start()
    yield server
    await server.close()


async def test_answers_cluster_names_over_udp_and_tcp(cluster) -> None:
    for reply in (await _udp(cluster.port, "web.default.svc.cluster.local"),
                  await _tcp(cluster.port, "web.default.svc.cluster.local")):
        assert reply.header.rcode == RCODE.NOERROR and reply.header.aa
        assert [str(rr.rdata) for rr in reply.rr] == ["10.96.0.20"]
    nx = await _udp(cluster.port, "nope.default.svc.cluster.local")
    assert nx.header.rcode == RCODE.NXDOMAIN and nx.auth[0].rtype == QTYPE.SOA


async def test_big_answers_are_truncated_over_udp_unless_edns_allows(cluster) -> None:
    small = await _udp(cluster.port, "many.default.svc.cluster.local")
    assert small.header.tc and not small.rr
    big = await _udp(cluster.port, "many.default.svc.cluster.local", edns=True)
    assert not big.header.tc and len(big.rr) == 80
    assert len((await _tcp(cluster.port, "many.default.svc.cluster.local")).rr) == 80


async def test_other_names_are_forwarded_upstream(cluster, upstream) -> None:
    reply = await _udp(cluster.port, "far.default.svc.upstream.test")
    assert [str(rr.rdata) for rr in reply.rr] == ["10.96.9.9"]
    assert (await _tcp(cluster.port, "far.default.svc.upstream.test")).rr[0].rdata.__str__() == "10.96.9.9"
    assert cluster.forwarded == 2 and upstream.queries == 2


async def test_servfail_when_upstreams_refuse_or_stay_silent() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    silent.setblocking(False)
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    closed_port = closed.getsockname()[1]
    closed.close()  # nothing listens there now: the kernel answers port-unreachable
    server = DNSServer(_resolver("cluster.local", []), bind="127.0.0.1", port=0,
                       upstreams=[f"127.0.0.1:{closed_port}", f"127.0.0.1:{silent.getsockname()[1]}"],
                       forward_timeout=0.3, forward_budget=1.0)
    await server.start()
    try:
        first = await _udp(server.port, "example.org")
        assert first.header.rcode == RCODE.SERVFAIL
        second = await _udp(server.port, "example.net")
        assert second.header.rcode == RCODE.SERVFAIL
        # The silent upstream was asked once: after that it was known to be down.
        got = []
        while True:
            try:
                got.append(silent.recv(4096))
            except BlockingIOError:
                break
        assert len(got) == 1
    finally:
        await server.close()
        silent.close()

    none = DNSServer(_resolver("cluster.local", []), bind="127.0.0.1", port=0, upstreams=[])
    await none.start()
    try:
        assert (await _udp(none.port, "example.org")).header.rcode == RCODE.SERVFAIL
    finally:
        await none.close()


def test_upstreams_come_from_resolv_conf_without_ourselves(tmp_path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search example\nnameserver 10.0.0.2\n# nameserver 10.9.9.9\nnameserver 10.244.0.1\noptions ndots:2\n")
    assert read_upstreams(str(conf), exclude={"10.244.0.1"}) == ["10.0.0.2"]
    assert read_upstreams(str(tmp_path / "missing")) == []


async def test_coredns_metrics_count_requests_responses_and_latency(cluster, upstream) -> None:
    from prometheus_client import REGISTRY

    server = f"dns://127.0.0.1:{cluster.port}"

    def get(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"server": server, "zone": ".", "view": "", **labels}) or 0.0

    await _udp(cluster.port, "web.default.svc.cluster.local")
    await _tcp(cluster.port, "web.default.svc.cluster.local", "AAAA")
    await _udp(cluster.port, "nope.default.svc.cluster.local")
    await _udp(cluster.port, "far.default.svc.upstream.test")
    assert get("coredns_dns_requests_total", proto="udp", family="1", type="A") == 3
    assert get("coredns_dns_requests_total", proto="tcp", family="1", type="AAAA") == 1
    assert get("coredns_dns_responses_total", rcode="NOERROR", plugin="kubernetes") == 2
    assert get("coredns_dns_responses_total", rcode="NXDOMAIN", plugin="kubernetes") == 1
    assert get("coredns_dns_responses_total", rcode="NOERROR", plugin="forward") == 1
    assert get("coredns_dns_request_duration_seconds_count", type="A") == 3
