"""The component table of ``minik8s up``: which processes run, with which command lines.

Each component is started as its own process through its entry point (``python -m
apiserver.main``, ...), never imported: minik8s/ imports no component. Its command line is a
map of default flags (filled from :class:`~minik8s.up.config.UpConfig`) overridden by the
user's ``--<component>-arg=flag=value``, as k3s builds its components' arguments.

Components come in start *waves*: the apiserver, then the control loops, then the node
agents; the supervisor waits for the apiserver's readiness before the second wave and stops
the waves in the order :data:`STOP_WAVES` gives.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minik8s.api import bootstraptoken
from minik8s.up import admission_config, audit_policy, encryption_config
from minik8s.up import etcd as local_etcd
from minik8s.up.config import UpConfig, parse_extra_arg

if TYPE_CHECKING:
    from minik8s import pki

# The credentials module (its certificates need cryptography, ~9 MiB) is imported where a
# command line names a certificate: in the start-up child, never in the supervisor itself.


def control_loop_serving(cfg: UpConfig, component: str) -> pki.KeyPair:
    from minik8s.up import credentials

    return credentials.control_loop_serving(cfg, component)


def client_ca(cfg: UpConfig) -> Path | None:
    from minik8s.up import credentials

    return credentials.client_ca(cfg)


def component_kubeconfig(cfg: UpConfig, component: str) -> Path:
    from minik8s.up import credentials

    return credentials.component_kubeconfig(cfg, component)


def kubelet_serving(cfg: UpConfig, node: str) -> pki.KeyPair:
    from minik8s.up import credentials

    return credentials.kubelet_serving(cfg, node)

__all__ = ["Component", "HOST_MODULE", "STOP_WAVES", "build", "from_json", "host_component", "module_available",
           "render_flags", "to_json"]

#: The control loops stop first (nothing may replace what goes next), then the node agents
#: (their containers stay), the apiserver last so everyone else can say goodbye to it.
STOP_WAVES = (("controller-manager", "scheduler"), ("kubelet",), ("apiserver",), ("host",), ("etcd",))

#: The process that runs the Python components in one interpreter (:mod:`minik8s.up.host`).
HOST_MODULE = "minik8s.up.host"


@dataclasses.dataclass(frozen=True)
class Component:
    """One process the supervisor keeps running."""

    name: str  # unique: "apiserver", "kubelet", "kubelet-2", ...
    kind: str  # the table entry: apiserver, controller-manager, scheduler, kubelet
    module: str  # run as ``python -m <module>``
    argv: tuple[str, ...]  # the flags after the module
    log_path: Path
    wave: int  # 0 apiserver, 1 control loops, 2 node agents
    node: str | None = None  # the node a kubelet registers
    program: tuple[str, ...] = ()  # a program that is no Python module (etcd): run instead of -m
    embedded: bool = False  # run by the host process (minik8s.up.host) in a thread, not as a process of its own

    @property
    def command(self) -> list[str]:
        if self.program:
            return [*self.program, *self.argv]
        return [sys.executable, "-m", self.module, *self.argv]


def to_json(c: Component) -> dict[str, Any]:
    """``c`` as JSON, for the start-up child to hand the supervisor (:func:`from_json`)."""
    d = dataclasses.asdict(c)
    d["log_path"] = str(c.log_path)
    return d


def from_json(d: dict[str, Any]) -> Component:
    return Component(**{**d, "argv": tuple(d["argv"]), "program": tuple(d["program"]), "log_path": Path(d["log_path"])})


def render_flags(defaults: dict[str, str | None], extra: tuple[str, ...], *, flag: str) -> tuple[str, ...]:
    """``{"port": "1"}`` + ``("port=2", "v")`` → ``("--port=2", "--v")``: the user's extra
    flags replace defaults of the same name and add the rest, in order."""
    merged = dict(defaults)
    for item in extra:
        name, value = parse_extra_arg(item, flag=flag)
        merged[name] = value
    return tuple(f"--{k}" if v is None else f"--{k}={v}" for k, v in merged.items())


def module_available(module: str) -> bool:
    """Whether ``python -m module`` would find it, without importing any component code:
    the top-level package is located (not executed) and the file looked for beneath it."""
    top, _, rest = module.partition(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    if not rest:
        return True
    for base in spec.submodule_search_locations or ():
        path = Path(base, *rest.split("."))
        if path.with_suffix(".py").is_file() or (path / "__main__.py").is_file():
            return True
    return False


def _kubelet_defaults(cfg: UpConfig, *, node: str, port: int, first: bool) -> dict[str, str | None]:
    # Credentials travel in a kubeconfig, not on a command line every `ps` shows: a joined
    # node's (its token) or, under `up`, the node's own client certificate.
    kc = cfg.kubeconfig_path if cfg.mode == "join" else component_kubeconfig(cfg, f"kubelet-{node}")
    flags: dict[str, str | None] = {"kubeconfig": str(kc)}
    # The node API: HTTPS with a certificate of the cluster CA (up) and callers' certificates
    # checked against the cluster CA.
    if cfg.mode == "up":
        serving = kubelet_serving(cfg, node)
        flags |= {"tls-cert-file": str(serving.cert_path), "tls-private-key-file": str(serving.key_path)}
    elif cfg.token and bootstraptoken.TOKEN_PATTERN.match(cfg.token):
        # A node joined with a bootstrap token asks the cluster for its serving certificate
        # too (a kubelet-serving CSR for its own addresses) and renews it, as kubeadm's
        # kubelets with serverTLSBootstrap.
        flags["rotate-server-certificates"] = None
    ca = client_ca(cfg)
    if ca is not None:
        flags["client-ca-file"] = str(ca)
    # Callers are authorized by the apiserver (SubjectAccessReview), as kubeadm runs kubelets.
    flags["authorization-mode"] = "Webhook"
    flags["authentication-token-webhook"] = None  # bearer tokens too (TokenReview), as kubeadm's kubelets
    flags |= {"node-name": node, "port": str(port), "root-dir": str(cfg.kubelet_root),
              "runtime": cfg.runtime, "log-level": cfg.log_level}
    passthrough = {"pod-infra-image": cfg.pod_infra_image, "address": cfg.node_ip,
                   "max-pods": None if cfg.max_pods is None else str(cfg.max_pods),
                   "system-reserved": cfg.system_reserved, "node-labels": cfg.node_labels,
                   "register-with-taints": cfg.register_with_taints, "docker-host": cfg.docker_host}
    flags |= {k: v for k, v in passthrough.items() if v is not None}
    # The kubelet runs the node's service proxy and cluster DNS in-process. The proxy's
    # iptables rules and routes belong to the host, so only the first local node runs one;
    # each node's DNS binds that node's own pod-network gateway, so every node runs its own.
    if not first or not cfg.enabled("proxy"):
        flags["disable-proxy"] = None
    if not cfg.enabled("dns"):
        flags["disable-dns"] = None
    if cfg.cluster_cidr:
        flags["cluster-cidr"] = cfg.cluster_cidr
    if not cfg.enabled("controller-manager"):
        flags["runtime-default-network"] = None  # no node IPAM: no podCIDR will ever come
    return flags


def _client_flags(cfg: UpConfig, component: str) -> dict[str, str | None]:
    """A control loop reaches the apiserver with its own identity (its kubeconfig)."""
    return {"kubeconfig": str(component_kubeconfig(cfg, component))}


#: The control loops' secure ports (/metrics, health), as kube-scheduler's and
#: kube-controller-manager's defaults.
SECURE_PORTS = {"scheduler": 10259, "controller-manager": 10257}


#: The user's flags that choose a control loop's serving certificate themselves.
_SERVING_FLAGS = ("cert-dir", "tls-cert-file", "tls-private-key-file")


def _secure_flags(cfg: UpConfig, component: str) -> dict[str, str | None]:
    """The secure port of a control loop as kubeadm runs it: on loopback, a self-signed
    certificate (under ``pki/<component>/``), callers' certificates checked against the
    cluster CA and bearer tokens reviewed by the apiserver. The certificate is the one the
    component would make in that ``--cert-dir``, made beforehand and handed over as
    ``--tls-cert-file``, as k3s does: the component then needs no cryptography (~9 MiB of its
    memory) to serve it. A user's own ``--cert-dir`` or ``--tls-*`` flag is left alone."""
    flags: dict[str, str | None] = {"secure-port": str(SECURE_PORTS[component]), "bind-address": "127.0.0.1"}
    user = {parse_extra_arg(item, flag=f"--{component}-arg")[0] for item in cfg.extra_args.get(component, ())}
    if user & set(_SERVING_FLAGS):
        flags["cert-dir"] = str(cfg.cert_dir / component)
    else:
        serving = control_loop_serving(cfg, component)
        flags |= {"tls-cert-file": str(serving.cert_path), "tls-private-key-file": str(serving.key_path)}
    ca = client_ca(cfg)
    if ca is not None:
        flags["client-ca-file"] = str(ca)
    return flags


def host_component(logs_dir: Path) -> Component:
    """The process that runs the embedded components (its own log holds what none of them wrote)."""
    return Component("host", "host", HOST_MODULE, (), logs_dir / "host.log", 0)


def build(cfg: UpConfig) -> list[Component]:
    """Every enabled component of ``cfg``, in start order."""
    out: list[Component] = []
    extra = cfg.extra_args

    def add(name: str, kind: str, module: str, defaults: dict[str, str | None], wave: int,
            node: str | None = None) -> None:
        argv = render_flags(defaults, extra.get(kind, ()), flag=f"--{kind}-arg")
        out.append(Component(name, kind, module, argv, cfg.logs_dir / f"{name}.log", wave, node,
                             embedded=not cfg.process_per_component))

    if cfg.etcd and cfg.enabled("apiserver"):
        # Beside the apiserver (which waits for it): Debian's etcd on loopback, data under the data dir.
        etcd_cmd = local_etcd.command(cfg.data_dir / "etcd", client_port=cfg.etcd_port, peer_port=cfg.etcd_port + 1)
        out.append(Component("etcd", "etcd", "etcd", tuple(etcd_cmd[1:]), cfg.logs_dir / "etcd.log", 0,
                             program=(etcd_cmd[0],)))
    if cfg.enabled("apiserver"):
        store = {"etcd-servers": local_etcd.client_url(cfg.etcd_port)} if cfg.etcd else {}
        if cfg.etcd_servers:  # join --control-plane: the cluster's etcd
            store = {"etcd-servers": cfg.etcd_servers}
        add("apiserver", "apiserver", "apiserver.main",
            {"data-dir": str(cfg.data_dir), "port": str(cfg.port), "bind-address": cfg.bind_address,
             "cert-dir": str(cfg.cert_dir), "log-level": cfg.log_level,
             # nodes joining with a token (minik8s join), as kubeadm's apiserver flags
             "enable-bootstrap-token-auth": None,
             # Secrets encrypted at rest with the key minik8s up generated (encryption_config)
             "encryption-provider-config": str(encryption_config.path_of(cfg.data_dir)),
             # the audit log, with the policy minik8s up wrote (audit_policy)
             **audit_policy.flags(cfg.data_dir, cfg.logs_dir),
             # PodSecurity: baseline unless a namespace's labels say otherwise, kube-system exempt
             **admission_config.flags(cfg.data_dir), **store}, 0)
    # One controller-manager and one scheduler per cluster, and `up` refuses a second
    # supervisor on the same data dir: leader election would only delay a restarted process
    # by a lease duration, so it is off unless the user turns it back on, or the state is in
    # etcd, where other control-plane hosts (join --control-plane) run theirs beside these.
    elect = "true" if cfg.highly_available else "false"
    if cfg.enabled("controller-manager"):
        cm: dict[str, str | None] = {**_client_flags(cfg, "controller-manager"), "leader-elect": elect, "log-level": cfg.log_level}
        if cfg.cluster_cidr:  # node IPAM hands out podCIDRs from it
            cm["cluster-cidr"] = cfg.cluster_cidr
        # as kubeadm runs it: the bootstrap-token controllers on, and the cluster CA signs the
        # certificates of approved requests (joining nodes' client certificates)
        cm["controllers"] = "*,bootstrapsigner,tokencleaner"
        cm["cluster-signing-cert-file"] = str(cfg.cert_dir / "ca.crt")
        cm["cluster-signing-key-file"] = str(cfg.cert_dir / "ca.key")
        # legacy ServiceAccount token Secrets are signed with the ServiceAccount key (kubeadm's flag)
        cm["service-account-private-key-file"] = str(cfg.cert_dir / "sa.key")
        cm |= _secure_flags(cfg, "controller-manager")
        add("controller-manager", "controller-manager", "controllers.main", cm, 1)
    if cfg.enabled("scheduler"):
        add("scheduler", "scheduler", "scheduler.main",
            {**_client_flags(cfg, "scheduler"), "leader-elect": elect, "log-level": cfg.log_level,
             **_secure_flags(cfg, "scheduler")}, 1)
    for i, node in enumerate(cfg.node_names()):
        add("kubelet" if i == 0 else f"kubelet-{i + 1}", "kubelet", "kubelet.main",
            _kubelet_defaults(cfg, node=node, port=cfg.kubelet_port + i, first=i == 0), 2, node)
    return out
