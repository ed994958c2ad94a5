"""The one configuration of ``minik8s up`` and ``minik8s join``: flags mapped into one typed
dataclass, defaults filled in here and nowhere else (as k3s does it).

``join`` is ``up`` with the control plane switched off and a remote server: the same
:class:`UpConfig` describes both, so the supervisor, the component table and the status
command never ask which command started them.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
import re
import socket
from pathlib import Path

__all__ = [
    "COMPONENTS",
    "CONTROL_PLANE",
    "NODE_AGENTS",
    "UpConfig",
    "add_data_dir_flag",
    "add_node_flags",
    "add_up_flags",
    "config_from_args",
    "parse_extra_arg",
]

#: Every component ``--disable-<name>`` can switch off, in start order.
CONTROL_PLANE = ("apiserver", "controller-manager", "scheduler")
NODE_AGENTS = ("node", "proxy", "dns")
COMPONENTS = (*CONTROL_PLANE, *NODE_AGENTS)

DEFAULT_DATA_DIR = "~/.minik8s"
DEFAULT_PORT = 6443
DEFAULT_KUBELET_PORT = 10250
DEFAULT_ETCD_PORT = 2379


@dataclasses.dataclass(frozen=True)
class UpConfig:
    """What to run and where. Paths are absolute; ``server`` is None when the apiserver is ours."""

    data_dir: Path
    port: int = DEFAULT_PORT
    bind_address: str = "0.0.0.0"
    #: A remote apiserver (``minik8s join``); None means the local one ``up`` starts.
    server: str | None = None
    token: str | None = None
    #: ``join``: the cluster CA's certificate file, trusted for the remote apiserver.
    certificate_authority: str | None = None
    #: ``join``: the pins (``sha256:<hex>``) of the cluster CA found through token discovery.
    discovery_hashes: tuple[str, ...] = ()
    nodes: int = 1
    #: Local nodes are named <node_name>, <node_name>-2, <node_name>-3, ...
    node_name: str = ""
    #: Node i serves its node API on kubelet_port + i - 1.
    kubelet_port: int = DEFAULT_KUBELET_PORT
    disabled: frozenset[str] = frozenset()
    # Node pass-through flags (None: the kubelet's own default).
    pod_infra_image: str | None = None
    runtime: str = "docker"
    node_ip: str | None = None
    max_pods: int | None = None
    system_reserved: str | None = None
    node_labels: str | None = None
    register_with_taints: str | None = None
    docker_host: str | None = None
    cluster_cidr: str | None = None
    #: k3s-style ``--<component>-arg=flag=value`` overrides, by component name.
    extra_args: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    log_level: str = "info"
    #: One process per component (the design's layout), or, with ``--single-process``, one process
    #: running them all as k3s does (minik8s.up.host).
    process_per_component: bool = True
    #: ``--etcd``: a local etcd (client port ``etcd_port``, peer port +1) holds the state, not SQLite.
    etcd: bool = False
    etcd_port: int = DEFAULT_ETCD_PORT
    #: ``join --control-plane``: the apiserver joined (this host runs ``up``'s control plane too).
    join_control_plane: str | None = None
    certificate_key: str | None = None
    #: An etcd cluster of someone else's (``join --control-plane``): the apiserver's store.
    etcd_servers: str | None = None

    @property
    def highly_available(self) -> bool:
        """Whether other control-plane hosts may run beside this one (the state is in etcd:
        ``--etcd``, ``join --control-plane``, or ``--apiserver-arg=etcd-servers=...``): the
        scheduler and controller-manager then elect a leader."""
        given = (parse_extra_arg(a, flag="--apiserver-arg")[0] for a in self.extra_args.get("apiserver", ()))
        return self.etcd or self.etcd_servers is not None or "etcd-servers" in given

    @property
    def other_servers(self) -> tuple[str, ...]:
        """The cluster's other apiservers, for the kubeconfigs' failover list."""
        return (self.join_control_plane,) if self.join_control_plane else ()

    @property
    def mode(self) -> str:
        return "join" if self.server else "up"

    @property
    def server_url(self) -> str:
        """How every local process (and the kubeconfig) reaches the apiserver."""
        return self.server or f"https://127.0.0.1:{self.port}"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def kubeconfig_path(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def cert_dir(self) -> Path:
        """The cluster's PKI (``up``): CA, serving and client certificates, SA keys."""
        return self.data_dir / "pki"

    @property
    def kubelet_root(self) -> Path:
        return self.data_dir / "kubelet"

    def enabled(self, component: str) -> bool:
        return component not in self.disabled

    def node_names(self) -> list[str]:
        if not self.enabled("node"):
            return []
        return [self.node_name if i == 1 else f"{self.node_name}-{i}" for i in range(1, self.nodes + 1)]

    def summary(self) -> str:
        """The effective configuration as one log line (what was asked and what was defaulted)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["disabled"] = sorted(self.disabled) or "none"
        fields["token"] = "<set>" if self.token else None
        fields["extra_args"] = {k: list(v) for k, v in self.extra_args.items() if v} or None
        if self.server:  # a joined node listens for no apiserver of its own
            fields["port"] = fields["bind_address"] = None
        return ", ".join(f"{k}={v}" for k, v in fields.items() if v is not None)


def parse_extra_arg(text: str, *, flag: str) -> tuple[str, str | None]:
    """``name=value`` or ``name`` (with or without leading dashes) of a ``--<c>-arg`` flag."""
    name, sep, value = text.lstrip("-").partition("=")
    if not name:
        raise ValueError(f"{flag}: {text!r} names no flag (want name=value)")
    return name, (value if sep else None)


def add_data_dir_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                   help="where the store, logs, kubeconfig and state live (default %(default)s)")


def add_node_flags(p: argparse.ArgumentParser) -> None:
    """Flags passed through to every local kubelet (``up`` and ``join`` share them)."""
    g = p.add_argument_group("node (kubelet) flags")
    g.add_argument("--node-name", default=None,
                   help="name of the (first) local node (default: the hostname; more nodes add -2, -3, ...)")
    g.add_argument("--kubelet-port", type=int, default=DEFAULT_KUBELET_PORT,
                   help="node API port of the first node; node i uses port+i-1 (default %(default)s)")
    g.add_argument("--pod-infra-image", default=None, help="the pod sandbox image (default minik8s/pause:latest)")
    g.add_argument("--runtime", choices=("docker", "fake"), default="docker",
                   help="container runtime: docker, or fake for hollow nodes (default %(default)s)")
    g.add_argument("--node-ip", default=None, help="InternalIP the nodes advertise (default: the primary IP)")
    g.add_argument("--max-pods", type=int, default=None, help="pods per node (default 110)")
    g.add_argument("--system-reserved", default=None, help="e.g. cpu=500m,memory=512Mi")
    g.add_argument("--node-labels", default=None, help="extra node labels: k=v,k2=v2")
    g.add_argument("--register-with-taints", default=None, help="taints: key=value:Effect,...")
    g.add_argument("--docker-host", default=None, help="Docker engine URL (default: DOCKER_HOST or the socket)")
    g.add_argument("--kubelet-arg", action="append", default=[], metavar="FLAG=VALUE",
                   help="any other kubelet flag, e.g. --kubelet-arg=sync-frequency=30 (repeatable)")
    g.add_argument("--disable-node", action="store_true", help="run no kubelet")
    g.add_argument("--disable-proxy", action="store_true", help="the kubelet runs no service proxy (iptables)")
    g.add_argument("--disable-dns", action="store_true", help="the kubelets run no cluster DNS")
    g.add_argument("--cluster-cidr", default=None,
                   help="the pods' CIDR, split into per-node podCIDRs (default 10.244.0.0/16)")
    p.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info",
                   help="log level of minik8s and of every component (default %(default)s)")
    layout = p.add_mutually_exclusive_group()
    layout.add_argument("--process-per-component", dest="process_per_component", action="store_true", default=True,
                        help="run each component as a process of its own: crash isolation, a GIL and a core each "
                             "(the default)")
    layout.add_argument("--single-process", dest="process_per_component", action="store_false",
                        help="run every component in one process, as k3s does: less than half the memory, "
                             "no crash isolation, one GIL for all")


def add_up_flags(p: argparse.ArgumentParser) -> None:
    add_data_dir_flag(p)
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="apiserver port (default %(default)s)")
    p.add_argument("--bind-address", default="0.0.0.0", help="apiserver listen address (default %(default)s)")
    p.add_argument("--etcd", action="store_true",
                   help="run a local etcd (Debian's etcd-server) as one more component and keep the cluster's "
                        "state in it instead of the embedded SQLite store")
    p.add_argument("--etcd-port", type=int, default=DEFAULT_ETCD_PORT,
                   help="with --etcd: its client port on 127.0.0.1; the peer port is the next one (default %(default)s)")
    p.add_argument("--nodes", type=int, default=1, help="local nodes (kubelets on this Docker engine; default 1)")
    p.add_argument("--disable-scheduler", action="store_true", help="run no scheduler")
    p.add_argument("--disable-controller-manager", action="store_true", help="run no controller-manager")
    p.add_argument("--apiserver-arg", action="append", default=[], metavar="FLAG=VALUE",
                   help="extra apiserver flag, e.g. --apiserver-arg=watch-history=600 (repeatable)")
    p.add_argument("--scheduler-arg", action="append", default=[], metavar="FLAG=VALUE",
                   help="extra scheduler flag (repeatable)")
    p.add_argument("--controller-manager-arg", action="append", default=[], metavar="FLAG=VALUE",
                   help="extra controller-manager flag (repeatable)")
    add_node_flags(p)


def _check_port(p: argparse.ArgumentParser, flag: str, port: int) -> None:
    if not 1 <= port <= 65535:
        p.error(f"{flag} must be between 1 and 65535, not {port}")


def config_from_args(p: argparse.ArgumentParser, a: argparse.Namespace, *, join: bool = False) -> UpConfig:
    """Map parsed flags into an :class:`UpConfig`; a bad or conflicting flag ends with
    ``p.error`` naming it. The only place defaults are filled in."""
    disabled = {name for name in COMPONENTS if getattr(a, "disable_" + name.replace("-", "_"), False)}
    control_plane = join and getattr(a, "control_plane", False)
    if control_plane:
        if not (a.token and a.discovery_token_ca_cert_hash and a.certificate_key):
            p.error("--control-plane needs --token (a bootstrap token), --discovery-token-ca-cert-hash and "
                    "--certificate-key, as minik8s up --etcd printed them")
        if not re.fullmatch(r"[0-9a-f]{64}", a.certificate_key):
            p.error("--certificate-key must be 64 hex digits")
        _check_port(p, "--port", a.port)
    elif join:
        if getattr(a, "certificate_key", None) or getattr(a, "etcd_servers", None):
            p.error("--certificate-key and --etcd-servers are for --control-plane")
        disabled |= set(CONTROL_PLANE)
        if a.disable_node:
            p.error("--disable-node: a joined node without a kubelet would run nothing")
    nodes = getattr(a, "nodes", 1)
    if nodes < 1:
        p.error(f"--nodes must be at least 1, not {nodes}")
    if nodes > 1 and a.disable_node:
        p.error("--nodes and --disable-node conflict: give one")
    _check_port(p, "--kubelet-port", a.kubelet_port)
    if a.kubelet_port + nodes - 1 > 65535:
        p.error(f"--kubelet-port {a.kubelet_port} leaves no room for {nodes} nodes")
    if not join:
        _check_port(p, "--port", a.port)
        _check_port(p, "--etcd-port", a.etcd_port + 1)
    if a.cluster_cidr is not None:
        try:
            ipaddress.ip_network(a.cluster_cidr)
        except ValueError as e:
            p.error(f"--cluster-cidr: {e}")
    if a.max_pods is not None and a.max_pods < 1:
        p.error("--max-pods must be at least 1")
    server = None
    ca_file = None
    if join:
        server = a.url.rstrip("/")
        if not server.startswith("https://"):
            p.error(f"URL must start with https:// (the apiserver serves HTTPS only), not {a.url!r}")
        if a.certificate_authority:
            ca_file = os.path.abspath(os.path.expanduser(a.certificate_authority))
            if not os.path.isfile(ca_file):
                p.error(f"--certificate-authority: no file {ca_file}")
        for pin in a.discovery_token_ca_cert_hash or ():
            if not re.fullmatch(r"sha256:[0-9a-f]{64}", pin):
                p.error(f"--discovery-token-ca-cert-hash: {pin!r} is not sha256:<64 hex digits>")
        if not ca_file and not a.discovery_token_ca_cert_hash:
            p.error("one of --discovery-token-ca-cert-hash (with a bootstrap --token) or --certificate-authority "
                    "is needed to trust the apiserver")
    extra: dict[str, tuple[str, ...]] = {}
    for component in ("apiserver", "scheduler", "controller-manager", "kubelet"):
        values = tuple(getattr(a, component.replace("-", "_") + "_arg", None) or ())
        flag = f"--{component}-arg"
        for v in values:
            try:
                parse_extra_arg(v, flag=flag)
            except ValueError as e:
                p.error(str(e))
        extra[component] = values
    return UpConfig(
        data_dir=Path(os.path.expanduser(a.data_dir)).absolute(),
        port=getattr(a, "port", DEFAULT_PORT),
        bind_address=getattr(a, "bind_address", "0.0.0.0"),
        server=None if control_plane else server,
        token=getattr(a, "token", None),
        certificate_authority=ca_file,
        discovery_hashes=tuple(getattr(a, "discovery_token_ca_cert_hash", None) or ()),
        nodes=nodes,
        # The kubelet's own default is the lower-cased hostname; node names must be DNS labels.
        node_name=a.node_name or socket.gethostname().lower(),
        kubelet_port=a.kubelet_port,
        disabled=frozenset(disabled),
        pod_infra_image=a.pod_infra_image,
        runtime=a.runtime,
        node_ip=a.node_ip,
        max_pods=a.max_pods,
        system_reserved=a.system_reserved,
        node_labels=a.node_labels,
        register_with_taints=a.register_with_taints,
        docker_host=a.docker_host,
        cluster_cidr=a.cluster_cidr,
        extra_args=extra,
        log_level=a.log_level,
        process_per_component=a.process_per_component,
        etcd=getattr(a, "etcd", False),
        etcd_port=getattr(a, "etcd_port", DEFAULT_ETCD_PORT),
        join_control_plane=server if control_plane else None,
        certificate_key=getattr(a, "certificate_key", None) if control_plane else None,
        etcd_servers=getattr(a, "etcd_servers", None) if control_plane else None,
    )
