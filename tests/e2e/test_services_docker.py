"""Services end to end on real Docker and real iptables: a kubelet (with its proxy and cluster DNS),
the endpoint/endpointslice/servicelb/nodeipam controllers, and pods serving their hostnames.

Traffic is sent from inside pods with busybox ``nc`` (and from the host with sockets), names are
looked up with busybox ``nslookup`` through the node's DNS, exactly as a workload would.
"""

from __future__ import annotations

import collections
import contextlib
import socket
import subprocess

import pytest

from kubelet.proxy import iptables as ipt
from minik8s.api.resources import PODS, SERVICES
from minik8s.client.rest import ApiClient
from tests.e2e.services_harness import (
    aexec,
    backend,
    empty_namespace,
    eventually,
    host_cleanup,
    new_cluster,
    new_namespace,
    pod,
    service,
    wait_endpoints,
    wait_ready,
)

pytestmark = pytest.mark.docker

CLUSTER_CIDR = "10.245.0.0/16"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, docker_client, test_images):
    host_cleanup()
    c = new_cluster(tmp_path_factory, cluster_cidr=CLUSTER_CIDR)
    try:
        c.start_controllers()
        c.add_kubelet("svc-node", address=c.host_ip)
        yield c
    finally:
        c.stop(docker_client)
        host_cleanup()


@pytest.fixture
async def client(cluster):
    c = cluster.api.client()
    yield c
    await c.close()


@pytest.fixture
async def ns(client):
    name = await new_namespace(client)
    yield name
    await empty_namespace(client, name)


NODE = "svc-node"


async def _cluster_ip(client: ApiClient, ns: str, name: str) -> str:
    return (await client.get(SERVICES, name, namespace=ns))["spec"]["clusterIP"]


async def _until_answers(docker_client, ns: str, pod_name: str, target: str, *, cluster) -> str:
    """The first answer through a service (rules may trail the Endpoints by a moment)."""
    async def ask() -> str | None:
        out = (await aexec(docker_client, ns, pod_name, f"printf x | nc -w 3 {target}")).strip()
        return out if out and "timed out" not in out and "refused" not in out and "bad address" not in out else None
    return await eventually(ask, what=f"{pod_name} reaching {target}", cluster=cluster)


async def test_clusterip_by_name_spreads_over_three_replicas(cluster, client, ns, docker_client) -> None:
    for i in range(3):
        await client.create(PODS, backend(f"web-{i}", NODE, "web"), namespace=ns)
    await client.create(SERVICES, service("web", selector={"app": "web"}), namespace=ns)
    pods = await wait_ready(client, ns, ["web-0", "web-1", "web-2"], cluster=cluster)
    await wait_endpoints(client, ns, "web", {p["status"]["podIP"] for p in pods.values()}, cluster=cluster)
    # The client comes after the service, so it gets the service's variables.
    await client.create(PODS, pod("client", NODE), namespace=ns)
    await wait_ready(client, ns, ["client"], cluster=cluster)
    ip = await _cluster_ip(client, ns, "web")

    first = await _until_answers(docker_client, ns, "client", f"web.{ns}.svc.cluster.local 80", cluster=cluster)
    assert first in {"web-0", "web-1", "web-2"}
    short = (await aexec(docker_client, ns, "client", "printf x | nc -w 3 web 80")).strip()
    assert short in {"web-0", "web-1", "web-2"}

    env = await aexec(docker_client, ns, "client", "env")
    assert f"WEB_SERVICE_HOST={ip}" in env and "WEB_SERVICE_PORT=80" in env and f"WEB_PORT=tcp://{ip}:80" in env
    resolv = await aexec(docker_client, ns, "client", "cat /etc/resolv.conf")
    assert f"search {ns}.svc.cluster.local svc.cluster.local cluster.local" in resolv
    assert "options ndots:5" in resolv and "nameserver 10.245." in resolv

    out = await aexec(docker_client, ns, "client",
                      f"for i in $(seq 100); do printf x | nc -w 3 {ip} 80; echo; done")
    counts = collections.Counter(line.strip() for line in out.splitlines() if line.strip())
    assert sum(counts.values()) == 100, counts
    assert set(counts) == {"web-0", "web-1", "web-2"}, counts
    # An even spread gives each about 33; below 5 would take odds of about 1 in 10^8.
    assert min(counts.values()) >= 5, counts


async def test_unready_pod_leaves_endpoints_and_gets_no_traffic_hairpin_works(cluster, client, ns,
                                                                             docker_client) -> None:
    ready_file = {"exec": {"command": ["cat", "/tmp/ready"]}}
    serve = ["sh", "-c", "touch /tmp/ready; exec nc -ll -p 80 -e hostname"]
    for name in ("a", "b"):
        await client.create(PODS, backend(name, NODE, "flip", command=serve, readiness=ready_file), namespace=ns)
    await client.create(SERVICES, service("flip", selector={"app": "flip"}), namespace=ns)
    pods = await wait_ready(client, ns, ["a", "b"], cluster=cluster)
    ips = {n: p["status"]["podIP"] for n, p in pods.items()}
    await wait_endpoints(client, ns, "flip", set(ips.values()), cluster=cluster)

    await aexec(docker_client, ns, "a", "rm /tmp/ready")
    await wait_endpoints(client, ns, "flip", {ips["b"]}, cluster=cluster)
    await wait_endpoints(client, ns, "flip", {ips["a"]}, field_="notReadyAddresses", cluster=cluster)
    ip = await _cluster_ip(client, ns, "flip")

    # From b itself: every connection through the service comes back to b (hairpin), none to a.
    async def only_b() -> list[str] | None:
        out = await aexec(docker_client, ns, "b", f"for i in $(seq 20); do printf x | nc -w 3 {ip} 80; echo; done")
        lines = [x.strip() for x in out.splitlines() if x.strip()]
        return lines if lines == ["b"] * 20 else None
    got = await eventually(only_b, what="20 answers from b alone", cluster=cluster, timeout=30)
    assert got == ["b"] * 20


async def test_nodeport_and_loadbalancer_reachable_from_the_host(cluster, client, ns, docker_client) -> None:
    await client.create(PODS, backend("lb-0", NODE, "lb"), namespace=ns)
    await client.create(SERVICES, service("lb", selector={"app": "lb"}, port=8089, type="LoadBalancer"), namespace=ns)
    await wait_ready(client, ns, ["lb-0"], cluster=cluster)

    async def ingress() -> dict | None:
        svc = await client.get(SERVICES, "lb", namespace=ns)
        ips = [i.get("ip") for i in (svc["status"].get("loadBalancer") or {}).get("ingress") or []]
        return svc if cluster.host_ip in ips else None
    svc = await eventually(ingress, what="LoadBalancer ingress with the node's address", cluster=cluster)
    node_port = svc["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767

    def fetch(host: str, port: int) -> str:
        with socket.create_connection((host, port), timeout=3) as s:
            s.sendall(b"x")
            return s.recv(100).decode().strip()

    async def answers(host: str, port: int) -> str | None:
        import asyncio
        try:
            return await asyncio.to_thread(fetch, host, port) or None
        except OSError:
            return None
    assert await eventually(lambda: answers(cluster.host_ip, node_port), what="NodePort from the host",
                            cluster=cluster) == "lb-0"
    assert await eventually(lambda: answers(cluster.host_ip, 8089), what="LoadBalancer IP:port from the host",
                            cluster=cluster) == "lb-0"
    assert await eventually(lambda: answers("127.0.0.1", node_port), what="NodePort on localhost",
                            cluster=cluster) == "lb-0"


async def test_headless_and_external_name_in_dns(cluster, client, ns, docker_client) -> None:
    await client.create(PODS, backend("db-0", NODE, "db", hostname="db-0", subdomain="db"), namespace=ns)
    await client.create(PODS, backend("db-1", NODE, "db"), namespace=ns)
    await client.create(SERVICES, service("db", selector={"app": "db"}, clusterIP="None"), namespace=ns)
    await client.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext"},
                                   "spec": {"type": "ExternalName", "externalName": "example.com"}}, namespace=ns)
    await client.create(PODS, pod("client", NODE), namespace=ns)
    pods = await wait_ready(client, ns, ["db-0", "db-1", "client"], cluster=cluster)
    ips = {pods["db-0"]["status"]["podIP"], pods["db-1"]["status"]["podIP"]}
    await wait_endpoints(client, ns, "db", ips, cluster=cluster)

    async def both_ips() -> str | None:
        out = await aexec(docker_client, ns, "client", f"nslookup db.{ns}.svc.cluster.local")
        return out if all(f"Address: {ip}" in out for ip in ips) else None
    await eventually(both_ips, what="headless name resolving to both pod IPs", cluster=cluster)
    one = await aexec(docker_client, ns, "client", f"nslookup db-0.db.{ns}.svc.cluster.local")
    assert f"Address: {pods['db-0']['status']['podIP']}" in one
    assert pods["db-1"]["status"]["podIP"] not in one
    cname = await aexec(docker_client, ns, "client", f"nslookup -type=cname ext.{ns}.svc.cluster.local")
    assert "canonical name = example.com" in cname
    missing = await aexec(docker_client, ns, "client", f"nslookup nope.{ns}.svc.cluster.local")
    assert "NXDOMAIN" in missing


async def test_no_endpoints_rejects_and_deleting_the_service_removes_its_rules(cluster, client, ns,
                                                                               docker_client) -> None:
    await client.create(SERVICES, service("gone", selector={"app": "gone"}), namespace=ns)
    ip = await _cluster_ip(client, ns, "gone")

    def connect() -> str:
        try:
            with socket.create_connection((ip, 80), timeout=3):
                return "connected"
        except ConnectionRefusedError:
            return "refused"
        except OSError as e:
            return f"error {e}"

    async def refused() -> bool:
        import asyncio
        return await asyncio.to_thread(connect) == "refused"
    await eventually(refused, what="a service without endpoints refusing connections", cluster=cluster)

    await client.create(PODS, backend("g-0", NODE, "gone"), namespace=ns)
    await wait_ready(client, ns, ["g-0"], cluster=cluster)
    chain = ipt.service_chain(ipt.ServicePort(ns, "gone", "http", "TCP", ip, 80))

    def nat() -> str:
        return subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True, check=True).stdout

    async def has_chain() -> bool:
        return f":{chain} " in nat()
    await eventually(has_chain, what=f"{chain} programmed", cluster=cluster)

    await client.delete(SERVICES, "gone", namespace=ns)

    async def chain_gone() -> bool:
        text = nat()
        return f":{chain} " not in text and f"{ip}/32" not in text
    await eventually(chain_gone, what="the service's rules removed", cluster=cluster)
    with contextlib.suppress(Exception):
        await client.delete(PODS, "g-0", namespace=ns, grace_period_seconds=0)
