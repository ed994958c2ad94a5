"""The kubelet's configuration: command-line flags mapped into one typed dataclass.

``parse_args`` is the only place defaults are filled in (k3s-style): everything downstream
reads :class:`KubeletConfig` and never argv. Conflicting or malformed flags are rejected with
an error that names the flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket

from kubelet.container_gc import GC_PERIOD
from kubelet.runtime.docker import DEFAULT_SANDBOX_IMAGE
from minik8s import quantity
from minik8s.api import typed

__all__ = ["KubeletConfig", "parse_args", "KUBELET_VERSION", "parse_key_values", "parse_taints"]

KUBELET_VERSION = "v1.32.0-minik8s"
DEFAULT_ROOT = "/var/lib/minik8s-kubelet"


@dataclasses.dataclass(frozen=True)
class KubeletConfig:
    apiserver: str | None
    kubeconfig: str | None
    node_name: str
    port: int = 10250
    bind_address: str = ""  # where the node API listens; "" = the advertised InternalIP
    address: str = ""  # the InternalIP advertised on the Node; "" = the host's primary IP
    runtime: str = "docker"  # docker | fake
    count: int = 1  # fake only: hollow nodes {node}-0 .. {node}-(count-1)
    pod_infra_image: str = DEFAULT_SANDBOX_IMAGE
    system_reserved_cpu_millis: int = 0
    system_reserved_memory_bytes: int = 0
    max_pods: int = 110
    docker_host: str | None = None
    node_labels: dict[str, str] = dataclasses.field(default_factory=dict)
    register_with_taints: list[typed.Taint] = dataclasses.field(default_factory=list)
    root_dir: str = DEFAULT_ROOT  # per node: <root_dir>/<node>
    # Kubernetes' syncFrequency: a pod is re-synced at least this often (0 = only on events).
    sync_frequency: float = 60.0
    # The PLEG relist period: how often the runtime is listed to notice container changes.
    relist_period: float = 1.0
    # Follow the runtime's container event stream (Kubernetes' evented PLEG) when it has one;
    # the relist then runs only every evented_relist_period, as the safety net.
    evented_pleg: bool = True
    evented_relist_period: float = 300.0
    # How often the container GC removes dead containers and sandboxes of deleted pods
    # (Kubernetes' ContainerGCPeriod, one minute).
    container_gc_period: float = GC_PERIOD
    node_status_update_frequency: float = 10.0
    # cAdvisor's housekeeping interval: /stats/summary sweeps the runtime at most this often.
    housekeeping_interval: float = 10.0
    node_status_report_frequency: float = 300.0
    node_lease_duration_seconds: int = 40
    log_level: str = "info"
    # Networking (kubelet/netservices.py): the node's proxy and cluster DNS run in this process.
    disable_proxy: bool = False
    disable_dns: bool = False
    cluster_dns: tuple[str, ...] = ()  # --cluster-dns; empty: the node's own DNS at its pod gateway
    cluster_domain: str = "cluster.local"
    cluster_cidr: str = "10.244.0.0/16"
    # While the node has no podCIDR: False (Kubernetes' way) holds every pod but host-network
    # ones and keeps the node NotReady; True runs them on the runtime's default network with the
    # host's resolv.conf (a kubelet with no node IPAM to give it a podCIDR: tests, no controllers).
    runtime_default_network: bool = False
    # The node API's TLS (kubelet/serving.py): its serving certificate (self-signed under
    # cert_dir when not given) and the CA whose client certificates it accepts.
    tls_cert_file: str | None = None
    tls_private_key_file: str | None = None
    client_ca_file: str | None = None
    cert_dir: str = ""  # "" = <root_dir>/pki
    # Ask the cluster for the serving certificate (a kubelet-serving CSR) and renew it before
    # it expires (kubelet/server_certificate.py), as Kubernetes' serverTLSBootstrap does.
    rotate_server_certificates: bool = False
    authorization_mode: str = "AlwaysAllow"
    # --authentication-token-webhook: bearer tokens are also accepted, checked by the
    # apiserver's TokenReview (a ServiceAccount's, e.g. a Prometheus scraping /metrics)
    authentication_token_webhook: bool = False

    def node_names(self) -> list[str]:
        if self.runtime == "fake" and self.count > 1:
            return [f"{self.node_name}-{i}" for i in range(self.count)]
        return [self.node_name]

    def node_root(self, node: str) -> str:
        return os.path.join(self.root_dir, node)


def parse_key_values(text: str, *, flag: str) -> dict[str, str]:
    """``a=1,b=2`` as a dict; an item without ``=`` is an error naming ``flag``."""
    out: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{flag}: {item!r} is not key=value")
        out[key] = value
    return out


def parse_taints(text: str) -> list[typed.Taint]:
    """``key=value:Effect,key2:Effect`` (kubelet's --register-with-taints) as Taint dicts."""
    taints: list[typed.Taint] = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        kv, sep, effect = item.rpartition(":")
        if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise ValueError(f"--register-with-taints: {item!r} must be key[=value]:NoSchedule|PreferNoSchedule|NoExecute")
        key, _, value = kv.partition("=")
        taint: typed.Taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        taints.append(taint)
    return taints


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minik8s-kubelet", description="The minik8s node agent.")
    p.add_argument("--apiserver", help="apiserver URL, e.g. http://127.0.0.1:6443")
    p.add_argument("--kubeconfig", help="kubeconfig file (instead of --apiserver)")
    p.add_argument("--node-name", default=socket.gethostname().lower(), help="default: the hostname")
    p.add_argument("--port", type=int, default=10250, help="node HTTP API port (default 10250)")
    p.add_argument("--bind-address", default="",
                   help="address the node API listens on (default: the node's InternalIP, see --address)")
    p.add_argument("--address", default="", help="InternalIP to advertise (default: the host's primary IP)")
    p.add_argument("--runtime", choices=["docker", "fake"], default="docker")
    p.add_argument("--count", type=int, default=1, help="fake runtime only: number of hollow nodes")
    p.add_argument("--pod-infra-image", default=DEFAULT_SANDBOX_IMAGE, help="the sandbox (pause) image")
    p.add_argument("--system-reserved", default="", help="e.g. cpu=500m,memory=512Mi")
    p.add_argument("--max-pods", type=int, default=110)
    p.add_argument("--docker-host", default=None, help="Docker engine URL (default: DOCKER_HOST or the socket)")
    p.add_argument("--node-labels", default="", help="extra node labels: k=v,k2=v2")
    p.add_argument("--register-with-taints", default="", help="taints: key=value:Effect,...")
    p.add_argument("--root-dir", default=DEFAULT_ROOT, help="per-node state dirs live under <root-dir>/<node>")
    p.add_argument("--sync-frequency", type=float, default=None,
                   help="max seconds between pod syncs (default 60; 0 for the fake runtime)")
    p.add_argument("--relist-period", type=float, default=None,
                   help="seconds between runtime relists (default 1; off for the fake runtime)")
    p.add_argument("--evented-pleg", action=argparse.BooleanOptionalAction, default=True,
                   help="follow the container runtime's event stream instead of relisting every --relist-period "
                        "(default on; the relist stays as the safety net)")
    p.add_argument("--evented-relist-period", type=float, default=300.0,
                   help="seconds between relists while the runtime's events are followed (default 300)")
    p.add_argument("--container-gc-period", type=float, default=GC_PERIOD,
                   help="seconds between removals of deleted pods' stopped containers (default %(default)g, "
                        "Kubernetes' ContainerGCPeriod)")
    p.add_argument("--housekeeping-interval", type=float, default=10.0,
                   help="seconds between container stats sweeps for /stats/summary (cAdvisor's, default 10)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    # Networking: on by default with the Docker runtime, never with the hollow one.
    p.add_argument("--disable-proxy", action="store_true", help="do not run the service proxy (iptables)")
    p.add_argument("--disable-dns", action="store_true", help="do not run the node's cluster DNS")
    p.add_argument("--cluster-dns", default="", help="DNS server IPs for pods, comma-separated "
                   "(default: the node's own DNS at its pod-network gateway)")
    p.add_argument("--cluster-domain", default="cluster.local", help="the cluster's DNS domain")
    p.add_argument("--cluster-cidr", default="10.244.0.0/16", help="the pods' CIDR (all nodes' podCIDRs)")
    p.add_argument("--runtime-default-network", action="store_true",
                   help="while the node has no podCIDR, run pods on the container runtime's default network "
                        "with the host's resolv.conf instead of holding them (no node IPAM in this cluster)")
    g = p.add_argument_group("node API security")
    g.add_argument("--tls-cert-file", default=None,
                   help="the node API's serving certificate (default: one self-signed under --cert-dir)")
    g.add_argument("--tls-private-key-file", default=None, help="its key")
    g.add_argument("--client-ca-file", default=None,
                   help="CA whose client certificates may call the node API (none: every request is refused)")
    g.add_argument("--cert-dir", default="", help="where a self-signed serving certificate is kept "
                                                  "(default <root-dir>/pki)")
    g.add_argument("--rotate-server-certificates", action="store_true",
                   help="get the node API's serving certificate from the cluster (a CertificateSigningRequest "
                        "to kubernetes.io/kubelet-serving) and renew it before it expires; --tls-cert-file is "
                        "then not used")
    g.add_argument("--authorization-mode", default="AlwaysAllow",
                   help="how authenticated callers are authorized: AlwaysAllow, or Webhook (a "
                        "SubjectAccessReview to the apiserver; default AlwaysAllow)")
    g.add_argument("--authentication-token-webhook", action="store_true",
                   help="also accept bearer tokens, reviewed by the apiserver (TokenReview); default: client "
                        "certificates only")
    return p


def parse_args(argv: list[str] | None = None) -> KubeletConfig:
    p = _parser()
    a = p.parse_args(argv)
    if not a.apiserver and not a.kubeconfig:
        p.error("one of --apiserver or --kubeconfig is required")
    if a.count < 1:
        p.error("--count must be at least 1")
    if a.count > 1 and a.runtime != "fake":
        p.error("--count needs --runtime=fake (hollow nodes)")
    if a.max_pods < 1:
        p.error("--max-pods must be at least 1")
    try:
        reserved = parse_key_values(a.system_reserved, flag="--system-reserved")
        unknown = set(reserved) - {"cpu", "memory", "ephemeral-storage", "pid"}
        if unknown:
            raise ValueError(f"--system-reserved: unknown resource(s) {sorted(unknown)}")
        cpu = quantity.parse_cpu_millis(reserved["cpu"]) if "cpu" in reserved else 0
        mem = quantity.parse_bytes(reserved["memory"]) if "memory" in reserved else 0
        labels = parse_key_values(a.node_labels, flag="--node-labels")
        taints = parse_taints(a.register_with_taints)
    except ValueError as e:
        p.error(str(e))
    if bool(a.tls_cert_file) != bool(a.tls_private_key_file):
        p.error("--tls-cert-file and --tls-private-key-file go together")
    if a.rotate_server_certificates and a.count > 1:
        p.error("--rotate-server-certificates: a serving certificate names one node (--count 1)")
    from kubelet import auth
    if a.authorization_mode not in auth.MODES:
        p.error(f"--authorization-mode: unknown mode {a.authorization_mode!r}; known: {', '.join(sorted(auth.MODES))}")
    fake = a.runtime == "fake"
    cluster_dns = tuple(filter(None, (x.strip() for x in a.cluster_dns.split(","))))
    try:
        import ipaddress
        ipaddress.ip_network(a.cluster_cidr)
        for ip in cluster_dns:
            ipaddress.ip_address(ip)
    except ValueError as e:
        p.error(f"--cluster-cidr/--cluster-dns: {e}")
    if a.container_gc_period <= 0:
        p.error("--container-gc-period: must be greater than 0")
    return KubeletConfig(
        apiserver=a.apiserver, kubeconfig=a.kubeconfig, node_name=a.node_name, port=a.port,
        bind_address=a.bind_address, address=a.address, runtime=a.runtime, count=a.count,
        pod_infra_image=a.pod_infra_image, system_reserved_cpu_millis=cpu,
        system_reserved_memory_bytes=mem, max_pods=a.max_pods, docker_host=a.docker_host,
        node_labels=labels, register_with_taints=taints, root_dir=a.root_dir,
        # Hollow containers never change by themselves: relisting a thousand hollow nodes
        # every second would only burn the CPU the scale test measures.
        sync_frequency=a.sync_frequency if a.sync_frequency is not None else (0.0 if fake else 60.0),
        relist_period=a.relist_period if a.relist_period is not None else (0.0 if fake else 1.0),
        evented_pleg=a.evented_pleg, evented_relist_period=a.evented_relist_period,
        container_gc_period=a.container_gc_period,
        log_level=a.log_level, housekeeping_interval=a.housekeeping_interval,
        # Hollow nodes must never touch the host's iptables or bind port 53.
        disable_proxy=a.disable_proxy or fake, disable_dns=a.disable_dns or fake,
        cluster_dns=cluster_dns, cluster_domain=a.cluster_domain.strip("."), cluster_cidr=a.cluster_cidr,
        runtime_default_network=a.runtime_default_network,
        tls_cert_file=a.tls_cert_file, tls_private_key_file=a.tls_private_key_file, client_ca_file=a.client_ca_file,
        cert_dir=a.cert_dir or os.path.join(a.root_dir, "pki"), authorization_mode=a.authorization_mode,
        authentication_token_webhook=a.authentication_token_webhook,
        rotate_server_certificates=a.rotate_server_certificates,
    )
