"""Two hosts: pod-to-pod and Service traffic across nodes over host-gw routes, without NAT.

The second "host" is a network namespace joined to this one by a veth pair, with a dockerd of
its own started inside it through ``nsenter --net`` (own data root, exec root, socket, bridge
subnet) and a second kubelet, also inside it, on that engine. Each kubelet advertises its veth
address as InternalIP, so each node's proxy can route the other's podCIDR via it (host-gw needs
the next hop on a directly connected network). Everything made here is removed afterwards:
containers, both engines' state, the namespace (and with it the veth), routes and chains.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from minik8s import errors
from minik8s.api import bootstraptoken
from minik8s.api.resources import CERTIFICATESIGNINGREQUESTS, NODES, PODS, SERVICES
from minik8s.client.rest import ApiClient
from minik8s.up import tlsbootstrap
from tests.conftest import missing
from tests.e2e.services_harness import (
    aexec,
    backend,
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

CLUSTER_CIDR = "10.246.0.0/16"
HOST_VETH_IP, PEER_VETH_IP = "172.29.77.1", "172.29.77.2"
PEER_BRIDGE = "172.30.77.1/24"


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {proc.stderr.strip()}")
    return proc


class SecondHost:
    """A netns + veth + dockerd: a machine of its own as far as the kubelet can tell."""

    def __init__(self, base: Path) -> None:
        tag = uuid.uuid4().hex[:6]
        self.netns = f"mkh-{tag}"
        self.veth_host, self.veth_peer = f"mkh{tag}a", f"mkh{tag}b"
        self.dir = base / "host2"
        self.sock = self.dir / "docker.sock"
        self.dockerd: subprocess.Popen | None = None

    @property
    def docker_host(self) -> str:
        return f"unix://{self.sock}"

    def nsenter(self) -> tuple[str, ...]:
        return ("nsenter", f"--net=/var/run/netns/{self.netns}")

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        _sweep_leftovers()
        _sh("ip", "netns", "add", self.netns)
        _sh("ip", "link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_peer)
        _sh("ip", "link", "set", self.veth_peer, "netns", self.netns)
        _sh("ip", "addr", "add", f"{HOST_VETH_IP}/30", "dev", self.veth_host)
        _sh("ip", "link", "set", self.veth_host, "up")
        ns = ("ip", "netns", "exec", self.netns)
        _sh(*ns, "ip", "addr", "add", f"{PEER_VETH_IP}/30", "dev", self.veth_peer)
        _sh(*ns, "ip", "link", "set", self.veth_peer, "up")
        _sh(*ns, "ip", "link", "set", "lo", "up")
        _sh(*ns, "ip", "route", "add", "default", "via", HOST_VETH_IP)
        log = open(self.dir / "dockerd.log", "ab")
        self.dockerd = subprocess.Popen(
            [*self.nsenter(), "dockerd", "--data-root", str(self.dir / "data"), "--exec-root", str(self.dir / "exec"),
             "--pidfile", str(self.dir / "docker.pid"), "-H", self.docker_host, "--bip", PEER_BRIDGE],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while _sh("docker", "-H", self.docker_host, "version", check=False).returncode != 0:
            if self.dockerd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the second dockerd did not start:\n" +
                                   (self.dir / "dockerd.log").read_text(errors="replace")[-2000:])
            time.sleep(0.2)
        # Nothing can be pulled: hand the local images over.
        save = subprocess.Popen(["docker", "save", "minik8s/busybox:latest", "minik8s/pause:latest"],
                                stdout=subprocess.PIPE)
        subprocess.run(["docker", "-H", self.docker_host, "load", "-q"], stdin=save.stdout, check=True,
                       capture_output=True)
        save.wait()

    def network_report(self) -> str:
        """What both ends of the veth see, for a failure's message: addresses, routes, the host's
        INPUT chain and the namespace's neighbours (whether it reached the host at all)."""
        ns = ("ip", "netns", "exec", self.netns)
        checks = {"host addresses": ("ip", "-4", "-o", "addr"), "host routes": ("ip", "-4", "route"),
                  "host INPUT": ("iptables", "-S", "INPUT"),
                  "namespace routes": (*ns, "ip", "-4", "route"),
                  "namespace neighbours": (*ns, "ip", "neigh")}
        out = []
        for what, argv in checks.items():
            proc = _sh(*argv, check=False)
            out.append(f"--- {what}:\n{(proc.stdout + proc.stderr).strip()}")
        return "\n".join(out)

    def stop(self) -> None:
        if self.dockerd is not None and self.dockerd.poll() is None:
            ids = _sh("docker", "-H", self.docker_host, "ps", "-aq", check=False).stdout.split()
            if ids:
                _sh("docker", "-H", self.docker_host, "rm", "-f", *ids, check=False)
            self.dockerd.send_signal(signal.SIGTERM)
            try:
                self.dockerd.wait(30)
            except subprocess.TimeoutExpired:
                self.dockerd.kill()
                self.dockerd.wait()
        _sh("ip", "netns", "del", self.netns, check=False)  # takes the veth pair with it
        _sh("ip", "link", "del", self.veth_host, check=False)
        with contextlib.suppress(OSError):
            shutil.rmtree(self.dir)


def _sweep_leftovers() -> None:
    """Remove what a run of this module that was killed left on this host: its namespaces and
    host-side veths (``mkh`` names are this module's alone). Left in place, a veth still holding
    HOST_VETH_IP makes the kernel answer the new namespace from the wrong interface, and the other
    host's join times out. Whatever else holds that address is named, not removed."""
    for line in _sh("ip", "netns", "list").stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith("mkh-"):
            _sh("ip", "netns", "del", name, check=False)
    for line in _sh("ip", "-o", "link", "show", "type", "veth").stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith("mkh") and name.endswith("a"):
            _sh("ip", "link", "del", name, check=False)
    holders = _sh("ip", "-4", "-o", "addr", "show", "to", f"{HOST_VETH_IP}/30").stdout.strip()
    if holders:
        raise RuntimeError(f"{HOST_VETH_IP}/30 is taken on this host, the test needs it for its veth:\n{holders}")


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory, docker_client, test_images):
    for tool in ("nsenter", "dockerd", "ip"):
        if shutil.which(tool) is None:
            missing(f"{tool} is needed for the multi-host test")
    if os.geteuid() != 0:
        missing("the multi-host test needs root (network namespaces, a second dockerd)")
    host_cleanup()
    cluster = new_cluster(tmp_path_factory, cluster_cidr=CLUSTER_CIDR, tls_sans=(HOST_VETH_IP,),
                          api_args=("--enable-bootstrap-token-auth",))
    second = SecondHost(cluster.base)
    try:
        second.start()
        cluster.start_controllers(more=("csrapproving", "csrsigning", "bootstrapsigner"))
        cluster.add_kubelet("mh-here", address=HOST_VETH_IP)
        # The other host joins as `minik8s join` does: a bootstrap token and the CA pin, then a
        # client certificate of its own, never the admin's (kubeadm's bootstrap-token flow).
        remote = f"https://{HOST_VETH_IP}:{cluster.api.port}"
        token = bootstraptoken.new_token()
        ca = cluster.api.pki.joinpath("ca.crt").read_bytes()

        async def publish() -> None:
            async with cluster.api.client() as c:
                await tlsbootstrap.publish(c, remote, ca, token)
        asyncio.run(publish())
        joined = second.dir / "mh-there.kubeconfig"
        try:
            _sh(*second.nsenter(), sys.executable, "-m", "minik8s.up.tlsbootstrap", remote, "--token", token,
                "--discovery-token-ca-cert-hash", tlsbootstrap.ca_hash(ca), "--node-name", "mh-there",
                "--kubeconfig", str(joined))
        except RuntimeError as e:
            raise RuntimeError(f"{e}\n{second.network_report()}") from None
        cluster.add_kubelet("mh-there", address=PEER_VETH_IP, prefix=second.nsenter(), server_url=remote,
                            extra_args=("--docker-host", second.docker_host), kubeconfig=joined)
        yield cluster, second
    finally:
        cluster.stop(docker_client)
        second.stop()
        host_cleanup()


@pytest.fixture
async def client(two_hosts):
    c = two_hosts[0].api.client()
    yield c
    await c.close()


def _our_routes(prefix: tuple[str, ...] = ()) -> str:
    return _sh(*prefix, "ip", "-4", "route", "show", "proto", "77").stdout


async def test_pod_reaches_a_pod_on_the_other_host_by_ip_and_through_a_cluster_ip(two_hosts, client,
                                                                                   docker_client) -> None:
    cluster, second = two_hosts
    ns = await new_namespace(client)
    nodes = {n: await client.get(NODES, n) for n in ("mh-here", "mh-there")}
    cidrs = {n: node["spec"].get("podCIDR") for n, node in nodes.items()}

    async def routed() -> bool:
        here = await client.get(NODES, "mh-there")
        cidr = here["spec"].get("podCIDR")
        return bool(cidr) and f"{cidr} via {PEER_VETH_IP}" in _our_routes()
    await eventually(routed, what="a host-gw route to the other node's podCIDR", cluster=cluster)

    await client.create(PODS, backend("far", "mh-there", "far"), namespace=ns)
    await client.create(PODS, pod("near", "mh-here", command=["sh", "-c", "exec nc -ll -p 80 -e hostname"]),
                        namespace=ns)
    await client.create(SERVICES, service("far", selector={"app": "far"}), namespace=ns)
    pods = await wait_ready(client, ns, ["far", "near"], cluster=cluster)
    far_ip, near_ip = pods["far"]["status"]["podIP"], pods["near"]["status"]["podIP"]
    cidrs = {n: (await client.get(NODES, n))["spec"]["podCIDR"] for n in ("mh-here", "mh-there")}
    import ipaddress
    assert ipaddress.ip_address(far_ip) in ipaddress.ip_network(cidrs["mh-there"])
    assert ipaddress.ip_address(near_ip) in ipaddress.ip_network(cidrs["mh-here"])
    await wait_endpoints(client, ns, "far", {far_ip}, cluster=cluster)

    async def by_pod_ip() -> str | None:
        out = (await aexec(docker_client, ns, "near", f"printf x | nc -w 3 {far_ip} 80")).strip()
        return out if out == "far" else None
    await eventually(by_pod_ip, what="near -> far by pod IP", cluster=cluster)

    ip = (await client.get(SERVICES, "far", namespace=ns))["spec"]["clusterIP"]

    async def by_cluster_ip() -> str | None:
        out = (await aexec(docker_client, ns, "near", f"printf x | nc -w 3 {ip} 80")).strip()
        return out if out == "far" else None
    await eventually(by_cluster_ip, what="near -> far through the ClusterIP", cluster=cluster)
    by_name = (await aexec(docker_client, ns, "near", f"printf x | nc -w 3 far.{ns}.svc.cluster.local 80")).strip()
    assert by_name == "far"

    # The way back, from the pod over there, without NAT: it sees the near pod's own address.
    import docker
    remote = docker.DockerClient(base_url=second.docker_host)
    try:
        found = remote.containers.list(ignore_removed=True, filters={"label": ["io.minik8s.pod.name=far", "io.minik8s.container.name=c"]})
        out = found[0].exec_run(["sh", "-c", f"printf x | nc -w 3 {near_ip} 80"]).output.decode().strip()
        assert out == "near"
    finally:
        remote.close()


async def test_the_joined_node_registered_with_its_own_certificate(two_hosts, client) -> None:
    import yaml
    from cryptography import x509

    cluster, second = two_hosts
    path = second.dir / "mh-there.kubeconfig"
    user = yaml.safe_load(path.read_text())["users"][0]["user"]
    assert "token" not in user
    cert = x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))
    assert cert.subject.rfc4514_string() == "CN=system:node:mh-there,O=system:nodes"
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(cluster.api.pki.joinpath("ca.crt").read_bytes()))
    csrs = (await client.list(CERTIFICATESIGNINGREQUESTS))["items"]
    [csr] = [c for c in csrs if c["spec"]["username"].startswith("system:bootstrap:")]
    assert csr["status"]["conditions"][0]["reason"] == "AutoApproved" and csr["status"]["certificate"]
    # with it, the node may change its own Node but not another one
    async with ApiClient.from_kubeconfig(str(path)) as node_client:
        await node_client.patch(NODES, "mh-there", {"metadata": {"labels": {"joined": "yes"}}})
        with pytest.raises(errors.Forbidden):
            await node_client.patch(NODES, "mh-here", {"metadata": {"labels": {"stolen": "yes"}}})


async def test_logs_and_exec_reach_a_pod_on_the_joined_node_through_kubectl(two_hosts, client, kubectl) -> None:
    """The joined kubelet serves its node API with a certificate it got from the cluster (a
    kubelet-serving CSR approved for its own addresses), which the apiserver verifies against
    the cluster CA: kubectl logs and exec work as on the other node."""
    from cryptography import x509

    cluster, second = two_hosts
    ns = await new_namespace(client)
    await client.create(PODS, pod("talker", "mh-there", command=["sh", "-c", "echo hello-from-there; sleep 3600"]),
                        namespace=ns)
    await wait_ready(client, ns, ["talker"], cluster=cluster)
    csrs = (await client.list(CERTIFICATESIGNINGREQUESTS))["items"]
    [csr] = [c for c in csrs if c["spec"]["signerName"] == "kubernetes.io/kubelet-serving"
             and c["spec"]["username"] == "system:node:mh-there"]
    assert csr["status"]["conditions"][0]["reason"] == "AutoApproved"
    served = x509.load_pem_x509_certificate(base64.b64decode(csr["status"]["certificate"]))
    sans = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(i) for i in sans.get_values_for_type(x509.IPAddress)] == [PEER_VETH_IP]
    assert sans.get_values_for_type(x509.DNSName) == ["mh-there"]

    async def logged() -> bool:
        out = await asyncio.to_thread(kubectl, "-n", ns, "logs", "talker", server=cluster.api)
        return out.returncode == 0 and out.stdout.strip() == "hello-from-there"
    await eventually(logged, what="kubectl logs of the pod on the joined node", cluster=cluster)
    out = await asyncio.to_thread(kubectl, "-n", ns, "exec", "talker", "--", "sh", "-c", "echo $((6 * 7))",
                                  server=cluster.api)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42"


async def test_routes_follow_nodes_leaving(two_hosts, client) -> None:
    cluster, second = two_hosts
    there = next(k for k in cluster.kubelets if k.node == "mh-there")
    cidr = (await client.get(NODES, "mh-there"))["spec"]["podCIDR"]

    async def present() -> bool:
        return f"{cidr} via {PEER_VETH_IP}" in _our_routes()
    await eventually(present, what="the route to mh-there", cluster=cluster)
    there.stop()
    await client.delete(NODES, "mh-there")

    async def gone() -> bool:
        return cidr not in _our_routes()
    await eventually(gone, what="the route removed once the node is gone", cluster=cluster)
