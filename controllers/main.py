"""``minik8s-controller-manager``: the process running the controllers, as kube-controller-manager.

Flags become one :class:`Config`; the effective configuration is logged once. With
``--leader-elect`` (the default) the process campaigns for the Lease
``kube-system/kube-controller-manager`` and runs the controllers only while it holds it, so
several copies can run and one acts. Each term starts from scratch: a fresh informer factory
and fresh controllers, so nothing stale survives a lost lease.

Controllers come from one table, :data:`CONTROLLERS`: name → how to build it, its
``--concurrent-<x>-syncs`` flag and default worker count, aliases, whether it runs by default,
and any flags of its own. ``--controllers`` takes kube-controller-manager's syntax:
``*`` (every default-on controller), ``name`` (enable), ``-name`` (disable), comma-separated.
Adding a controller is one entry in the table.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import re
import socket
import sys
import uuid
from collections.abc import Callable

from controllers.base import Controller
from minik8s import process, secure_serving, taskgroup
from minik8s.client.events import EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient
from minik8s.leaderelection import LeaderElector

log = logging.getLogger("controller-manager")


# -- the controller table -------------------------------------------------------------------

@dataclasses.dataclass
class ControllerContext:
    """What a controller constructor gets: the client, the shared informers, all parsed flags."""

    client: ApiClient
    informers: SharedInformerFactory
    options: argparse.Namespace
    recorders: list[EventRecorder] = dataclasses.field(default_factory=list)

    def recorder(self, component: str) -> EventRecorder:
        """An EventRecorder for ``component`` (e.g. ``replicaset-controller``), closed at stop."""
        rec = EventRecorder(self.client, component=component)
        self.recorders.append(rec)
        return rec


@dataclasses.dataclass(frozen=True)
class Registration:
    new: Callable[[ControllerContext], Controller | None]  # None: nothing for it to do here, not started
    concurrency_flag: str            # e.g. "concurrent-replicaset-syncs"
    default_workers: int = 5
    aliases: tuple[str, ...] = ()
    enabled_by_default: bool = True
    add_flags: Callable[[argparse.ArgumentParser], None] | None = None

    @property
    def concurrency_dest(self) -> str:
        return self.concurrency_flag.replace("-", "_")


def _new_replicaset(ctx: ControllerContext) -> Controller:
    from controllers.replicaset import ReplicaSetController

    return ReplicaSetController(ctx.client, ctx.informers, recorder=ctx.recorder("replicaset-controller"))


def _new_deployment(ctx: ControllerContext) -> Controller:
    from controllers.deployment import DeploymentController

    return DeploymentController(ctx.client, ctx.informers, recorder=ctx.recorder("deployment-controller"))


def _new_garbagecollector(ctx: ControllerContext) -> Controller:
    from controllers.garbagecollector import GarbageCollector

    return GarbageCollector(ctx.client, ctx.informers, recorder=ctx.recorder("garbage-collector-controller"))


def _new_namespace(ctx: ControllerContext) -> Controller:
    from controllers.namespace import NamespaceController

    return NamespaceController(ctx.client, ctx.informers)


def _new_nodelifecycle(ctx: ControllerContext) -> Controller:
    from controllers.nodelifecycle import NodeLifecycleController

    o = ctx.options
    return NodeLifecycleController(
        ctx.client, ctx.informers, recorder=ctx.recorder("node-controller"),
        node_monitor_grace_period=o.node_monitor_grace_period, node_startup_grace_period=o.node_startup_grace_period,
        default_not_ready_toleration_seconds=o.default_not_ready_toleration_seconds,
        default_unreachable_toleration_seconds=o.default_unreachable_toleration_seconds)


def _nodelifecycle_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--node-monitor-grace-period", type=parse_duration, default=40.0,
                   help="how long a node's Lease may go unrenewed before it is marked Unknown (default 40s)")
    p.add_argument("--node-startup-grace-period", type=parse_duration, default=60.0,
                   help="the same for a node that never posted Ready (default 60s)")
    p.add_argument("--default-not-ready-toleration-seconds", type=int, default=300,
                   help="how long pods without a not-ready toleration stay on a NotReady node (default 300)")
    p.add_argument("--default-unreachable-toleration-seconds", type=int, default=300,
                   help="how long pods without an unreachable toleration stay on an unreachable node (default 300)")


def _new_nodeipam(ctx: ControllerContext) -> Controller:
    from controllers.nodeipam import NodeIpamController

    o = ctx.options
    return NodeIpamController(ctx.client, ctx.informers, recorder=ctx.recorder("node-ipam-controller"),
                              cluster_cidr=o.cluster_cidr, node_cidr_mask_size=o.node_cidr_mask_size,
                              allocate_node_cidrs=o.allocate_node_cidrs)


def _cidr(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"invalid CIDR {text!r}: {e}") from None


def _nodeipam_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster-cidr", type=_cidr, default="10.244.0.0/16",
                   help="the CIDR pod networks are cut from (default 10.244.0.0/16)")
    p.add_argument("--node-cidr-mask-size", type=int, default=24, help="prefix length of each node's podCIDR (24)")
    p.add_argument("--allocate-node-cidrs", type=parse_bool, nargs="?", const=True, default=True,
                   help="give each node a spec.podCIDR from --cluster-cidr (default true)")


def _new_endpoint(ctx: ControllerContext) -> Controller:
    from controllers.endpoints import EndpointsController

    return EndpointsController(ctx.client, ctx.informers, recorder=ctx.recorder("endpoint-controller"))


def _new_endpointslice(ctx: ControllerContext) -> Controller:
    from controllers.endpointslice import EndpointSliceController

    return EndpointSliceController(ctx.client, ctx.informers, recorder=ctx.recorder("endpointslice-controller"))


def _new_servicelb(ctx: ControllerContext) -> Controller:
    from controllers.servicelb import ServiceLBController

    return ServiceLBController(ctx.client, ctx.informers)


def _new_pv_binder(ctx: ControllerContext) -> Controller:
    from controllers.pv_binder import PersistentVolumeBinder

    return PersistentVolumeBinder(ctx.client, ctx.informers, recorder=ctx.recorder("persistentvolume-controller"))


def _new_pvc_protection(ctx: ControllerContext) -> Controller:
    from controllers.pvc_protection import PVCProtectionController

    return PVCProtectionController(ctx.client, ctx.informers)


def _new_pv_protection(ctx: ControllerContext) -> Controller:
    from controllers.pv_protection import PVProtectionController

    return PVProtectionController(ctx.client, ctx.informers)


def _new_serviceaccount(ctx: ControllerContext) -> Controller:
    from controllers.serviceaccounts import ServiceAccountsController

    return ServiceAccountsController(ctx.client, ctx.informers)


def _new_root_ca_cert_publisher(ctx: ControllerContext) -> Controller | None:
    from controllers.rootcacertpublisher import RootCACertPublisher, kubeconfig_ca

    path = ctx.options.root_ca_file
    if path:
        with open(path) as f:
            root_ca: str | None = f.read()
    else:
        root_ca = kubeconfig_ca(ctx.options.kubeconfig)
    if not root_ca:
        return None  # nothing to publish: no --root-ca-file and a kubeconfig without a CA
    return RootCACertPublisher(ctx.client, ctx.informers, root_ca=root_ca)


def _new_serviceaccount_token(ctx: ControllerContext) -> Controller | None:
    import base64
    import hashlib

    from cryptography.hazmat.primitives import serialization

    from controllers.serviceaccount_tokens import TokensController

    o = ctx.options
    if not o.service_account_private_key_file:
        return None  # nothing to sign with, as kube-controller-manager without the flag
    with open(o.service_account_private_key_file, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    root_ca = None
    if o.root_ca_file:
        with open(o.root_ca_file, "rb") as f:
            root_ca = f.read()
    return TokensController(ctx.client, ctx.informers, private_key=key, key_id=kid, root_ca=root_ca)


def _serviceaccount_token_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--service-account-private-key-file", default=None,
                   help="the key legacy ServiceAccount token Secrets are signed with (the apiserver's "
                        "--service-account-signing-key-file); without it the tokens controller does not run")


def _new_csrapproving(ctx: ControllerContext) -> Controller:
    from controllers.certificates.approver import CSRApprovingController

    return CSRApprovingController(ctx.client, ctx.informers)


def _new_csrsigning(ctx: ControllerContext) -> Controller | None:
    from controllers.certificates.signer import CSRSigningController, SigningCA

    o = ctx.options
    if not (o.cluster_signing_cert_file and o.cluster_signing_key_file):
        return None  # no CA to sign with
    return CSRSigningController(ctx.client, ctx.informers, duration=o.cluster_signing_duration,
                                ca=SigningCA.from_files(o.cluster_signing_cert_file, o.cluster_signing_key_file))


def _csrsigning_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster-signing-cert-file", default=None,
                   help="the CA certificate (PEM) that issues the certificates of approved requests")
    p.add_argument("--cluster-signing-key-file", default=None, help="its private key (PEM)")
    p.add_argument("--cluster-signing-duration", type=parse_duration, default=8760 * 3600.0,
                   help="the longest life of an issued certificate (default 8760h)")


def _new_bootstrapsigner(ctx: ControllerContext) -> Controller:
    from controllers.bootstrapsigner import BootstrapSigner

    return BootstrapSigner(ctx.client, ctx.informers)


def _new_tokencleaner(ctx: ControllerContext) -> Controller:
    from controllers.tokencleaner import TokenCleaner

    return TokenCleaner(ctx.client, ctx.informers)


def _root_ca_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root-ca-file", default=None,
                   help="the CA bundle published as kube-root-ca.crt in every namespace (default: the "
                        "kubeconfig's certificate authority)")


def _new_local_path_provisioner(ctx: ControllerContext) -> Controller:
    from controllers.localpath_provisioner import LocalPathProvisioner
    from minik8s import localpath

    return LocalPathProvisioner(ctx.client, ctx.informers, recorder=ctx.recorder(localpath.PROVISIONER))
def _new_clusterrole_aggregation(ctx: ControllerContext) -> Controller:
    from controllers.clusterroleaggregation import ClusterRoleAggregationController

    return ClusterRoleAggregationController(ctx.client, ctx.informers)
def _new_daemonset(ctx: ControllerContext) -> Controller:
    from controllers.daemonset import DaemonSetController

    return DaemonSetController(ctx.client, ctx.informers, recorder=ctx.recorder("daemonset-controller"))


def _new_replicationcontroller(ctx: ControllerContext) -> Controller:
    from controllers.replication import ReplicationManager

    return ReplicationManager(ctx.client, ctx.informers, recorder=ctx.recorder("replication-controller"))


def _new_disruption(ctx: ControllerContext) -> Controller:
    from controllers.disruption import DisruptionController

    return DisruptionController(ctx.client, ctx.informers)


def _new_statefulset(ctx: ControllerContext) -> Controller:
    from controllers.statefulset import StatefulSetController

    return StatefulSetController(ctx.client, ctx.informers, recorder=ctx.recorder("statefulset-controller"))


def _new_job(ctx: ControllerContext) -> Controller:
    from controllers.job import JobController

    return JobController(ctx.client, ctx.informers, recorder=ctx.recorder("job-controller"))


def _new_cronjob(ctx: ControllerContext) -> Controller:
    from controllers.cronjob import CronJobController

    return CronJobController(ctx.client, ctx.informers, recorder=ctx.recorder("cronjob-controller"))


def _new_ttlafterfinished(ctx: ControllerContext) -> Controller:
    from controllers.ttlafterfinished import TTLAfterFinishedController

    return TTLAfterFinishedController(ctx.client, ctx.informers)


def _new_resourcequota(ctx: ControllerContext) -> Controller:
    from controllers.resourcequota import ResourceQuotaController

    return ResourceQuotaController(ctx.client, ctx.informers)


def _new_hpa(ctx: ControllerContext) -> Controller:
    from controllers.horizontalpodautoscaler import HorizontalPodAutoscalerController

    o = ctx.options
    return HorizontalPodAutoscalerController(
        ctx.client, ctx.informers, recorder=ctx.recorder("horizontal-pod-autoscaler"),
        sync_period=o.horizontal_pod_autoscaler_sync_period,
        downscale_stabilization=o.horizontal_pod_autoscaler_downscale_stabilization,
        tolerance=o.horizontal_pod_autoscaler_tolerance)


def _hpa_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--horizontal-pod-autoscaler-sync-period", type=parse_duration, default=15.0,
                   help="how often every HorizontalPodAutoscaler is synced (15s)")
    p.add_argument("--horizontal-pod-autoscaler-downscale-stabilization", type=parse_duration, default=300.0,
                   help="the scale-down stabilization window of HPAs without behavior (5m)")
    p.add_argument("--horizontal-pod-autoscaler-tolerance", type=float, default=0.1,
                   help="the smallest ratio of desired to actual metric that makes an HPA scale (0.1)")


CONTROLLERS: dict[str, Registration] = {
    "replicaset": Registration(_new_replicaset, "concurrent-replicaset-syncs", 5,
                               aliases=("replicaset-controller",)),
    "deployment": Registration(_new_deployment, "concurrent-deployment-syncs", 5,
                               aliases=("deployment-controller",)),
    # Workloads (issue 9).
    "statefulset": Registration(_new_statefulset, "concurrent-statefulset-syncs", 5,
                                aliases=("statefulset-controller",)),
    "replicationcontroller": Registration(_new_replicationcontroller, "concurrent-rc-syncs", 5,
                                          aliases=("replicationcontroller-controller",)),
    "disruption": Registration(_new_disruption, "concurrent-disruption-syncs", 5, aliases=("disruption-controller",)),
    "daemonset": Registration(_new_daemonset, "concurrent-daemonset-syncs", 2, aliases=("daemonset-controller",)),
    "job": Registration(_new_job, "concurrent-job-syncs", 5, aliases=("job-controller",)),
    "cronjob": Registration(_new_cronjob, "concurrent-cron-job-syncs", 5, aliases=("cronjob-controller",)),
    "ttl-after-finished": Registration(_new_ttlafterfinished, "concurrent-ttl-after-finished-syncs", 5,
                                       aliases=("ttl-after-finished-controller",)),
    "garbagecollector": Registration(_new_garbagecollector, "concurrent-gc-syncs", 20,
                                     aliases=("garbage-collector-controller",)),
    "namespace": Registration(_new_namespace, "concurrent-namespace-syncs", 10, aliases=("namespace-controller",)),
    "nodelifecycle": Registration(_new_nodelifecycle, "concurrent-node-lifecycle-syncs", 5,
                                  aliases=("node-lifecycle-controller",), add_flags=_nodelifecycle_flags),
    "nodeipam": Registration(_new_nodeipam, "concurrent-node-ipam-syncs", 5, aliases=("node-ipam-controller",),
                             add_flags=_nodeipam_flags),
    # Services networking (issue 5): Endpoints, EndpointSlices, and k3s-style ServiceLB.
    "endpoint": Registration(_new_endpoint, "concurrent-endpoint-syncs", 5, aliases=("endpoints-controller",)),
    "endpointslice": Registration(_new_endpointslice, "concurrent-service-endpoint-syncs", 5,
                                  aliases=("endpointslice-controller",)),
    "servicelb": Registration(_new_servicelb, "concurrent-servicelb-syncs", 2, aliases=("service-lb-controller",)),
    # Persistent storage (issue 10): binding, protection finalizers, the local-path provisioner.
    "persistentvolume-binder": Registration(_new_pv_binder, "concurrent-persistentvolume-binder-syncs", 5,
                                            aliases=("persistentvolume-binder-controller",)),
    "pvc-protection": Registration(_new_pvc_protection, "concurrent-pvc-protection-syncs", 2,
                                   aliases=("persistentvolumeclaim-protection-controller",)),
    "pv-protection": Registration(_new_pv_protection, "concurrent-pv-protection-syncs", 2,
                                  aliases=("persistentvolume-protection-controller",)),
    "local-path-provisioner": Registration(_new_local_path_provisioner, "concurrent-local-path-provisioner-syncs", 5),
    "clusterrole-aggregation": Registration(_new_clusterrole_aggregation, "concurrent-clusterrole-aggregation-syncs",
                                            1, aliases=("clusterrole-aggregation-controller",)),
    # Identity (issue 11): a default ServiceAccount and the kube-root-ca.crt ConfigMap per namespace.
    "serviceaccount": Registration(_new_serviceaccount, "concurrent-serviceaccount-syncs", 5,
                                   aliases=("serviceaccount-controller",)),
    "root-ca-cert-publisher": Registration(_new_root_ca_cert_publisher, "concurrent-root-ca-cert-publisher-syncs", 5,
                                           aliases=("root-ca-certificate-publisher-controller",),
                                           add_flags=_root_ca_flags),
    "serviceaccount-token": Registration(_new_serviceaccount_token, "concurrent-serviceaccount-token-syncs", 5,
                                         aliases=("serviceaccount-token-controller",),
                                         add_flags=_serviceaccount_token_flags),
    "csrapproving": Registration(_new_csrapproving, "concurrent-csrapproving-syncs", 2,
                                 aliases=("certificatesigningrequest-approving-controller",)),
    "csrsigning": Registration(_new_csrsigning, "concurrent-csrsigning-syncs", 2,
                               aliases=("certificatesigningrequest-signing-controller",), add_flags=_csrsigning_flags),
    # off by default as in kube-controller-manager; minik8s up turns them on (as kubeadm does)
    "bootstrapsigner": Registration(_new_bootstrapsigner, "concurrent-bootstrapsigner-syncs", 1,
                                    aliases=("bootstrap-signer-controller",), enabled_by_default=False),
    "tokencleaner": Registration(_new_tokencleaner, "concurrent-tokencleaner-syncs", 1,
                                 aliases=("token-cleaner-controller",), enabled_by_default=False),
    # Policy (issue 10): ResourceQuota status.
    "resourcequota": Registration(_new_resourcequota, "concurrent-resource-quota-syncs", 5,
                                  aliases=("resourcequota-controller",)),
    "horizontalpodautoscaling": Registration(_new_hpa, "concurrent-horizontal-pod-autoscaler-syncs", 5,
                                             aliases=("horizontal-pod-autoscaler-controller",), add_flags=_hpa_flags),
}


def _canonical(name: str) -> str:
    if name in CONTROLLERS:
        return name
    for canon, reg in CONTROLLERS.items():
        if name in reg.aliases:
            return canon
    raise ValueError(f'"{name}" is not in the list of known controllers: {", ".join(sorted(CONTROLLERS))}')


def enabled_controllers(spec: str) -> list[str]:
    """The controllers a ``--controllers`` value turns on, in table order."""
    items = [s.strip() for s in spec.split(",") if s.strip()]
    star = "*" in items
    on: set[str] = set()
    off: set[str] = set()
    for item in items:
        if item == "*":
            continue
        if item.startswith("-"):
            off.add(_canonical(item[1:]))
        else:
            on.add(_canonical(item))
    out = []
    for name, reg in CONTROLLERS.items():
        if name in off:
            continue
        if name in on or (star and reg.enabled_by_default):
            out.append(name)
    return out


# -- flags ----------------------------------------------------------------------------------

_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+(?:\.\d+)?)ms)?$")


def parse_duration(text: str) -> float:
    """Seconds from a Go duration (``15s``, ``1m30s``, ``500ms``) or a bare number of seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    m = _DURATION.match(text)
    if not text or m is None or not any(m.groups()):
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 15s, 1m30s, 500ms)")
    h, mi, s, ms = (float(g) if g else 0.0 for g in m.groups())
    return h * 3600 + mi * 60 + s + ms / 1000


def parse_bool(text: str) -> bool:
    """Go's strconv.ParseBool, as ``--leader-elect=false`` is written."""
    if text in ("1", "t", "T", "true", "True", "TRUE"):
        return True
    if text in ("0", "f", "F", "false", "False", "FALSE"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


@dataclasses.dataclass(frozen=True)
class Config:
    apiserver: str | None
    kubeconfig: str | None
    controllers: tuple[str, ...]
    workers: dict[str, int]
    leader_elect: bool
    lease_duration: float
    renew_deadline: float
    retry_period: float
    lease_name: str
    lease_namespace: str
    identity: str
    log_level: str
    options: argparse.Namespace = dataclasses.field(repr=False, compare=False)
    secure: secure_serving.Options = secure_serving.Options()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="minik8s-controller-manager",
                                description="Runs the minik8s controllers (replicaset, deployment, ...).")
    p.add_argument("--apiserver", "--master", dest="apiserver", help="the apiserver URL, e.g. http://127.0.0.1:6443")
    p.add_argument("--kubeconfig", help="a kubeconfig to reach the apiserver (when --apiserver is not given)")
    p.add_argument("--controllers", default="*",
                   help="controllers to run: '*' for all on by default, 'name' to enable, '-name' to disable "
                        f"(known: {', '.join(CONTROLLERS)})")
    p.add_argument("--leader-elect", type=parse_bool, nargs="?", const=True, default=True,
                   help="campaign for a Lease and act only while holding it (default true)")
    p.add_argument("--leader-elect-lease-duration", type=parse_duration, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=parse_duration, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=parse_duration, default=2.0)
    p.add_argument("--leader-elect-resource-name", default="kube-controller-manager")
    p.add_argument("--leader-elect-resource-namespace", default="kube-system")
    p.add_argument("--identity", default=None, help="leader-election identity (default hostname_uuid)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    # /metrics (the workqueues') and health over HTTPS, as kube-controller-manager's 10257
    secure_serving.add_flags(p, default_port=SECURE_PORT)
    for reg in CONTROLLERS.values():
        p.add_argument(f"--{reg.concurrency_flag}", dest=reg.concurrency_dest, type=int, default=reg.default_workers,
                       help=f"workers syncing concurrently (default {reg.default_workers})")
        if reg.add_flags is not None:
            reg.add_flags(p)
    return p


def parse_args(argv: list[str] | None = None) -> Config:
    p = build_parser()
    a = p.parse_args(argv)
    if not a.apiserver and not a.kubeconfig:
        p.error("one of --apiserver or --kubeconfig is required")
    try:
        names = enabled_controllers(a.controllers)
    except ValueError as e:
        p.error(f"--controllers: {e}")
    for name in names:
        if getattr(a, CONTROLLERS[name].concurrency_dest) < 1:
            p.error(f"--{CONTROLLERS[name].concurrency_flag} must be at least 1")
    identity = a.identity or f"{socket.gethostname()}_{uuid.uuid4()}"
    return Config(
        apiserver=a.apiserver, kubeconfig=a.kubeconfig, controllers=tuple(names),
        workers={n: getattr(a, CONTROLLERS[n].concurrency_dest) for n in names},
        leader_elect=a.leader_elect, lease_duration=a.leader_elect_lease_duration,
        renew_deadline=a.leader_elect_renew_deadline, retry_period=a.leader_elect_retry_period,
        lease_name=a.leader_elect_resource_name, lease_namespace=a.leader_elect_resource_namespace,
        identity=identity, log_level=a.log_level, options=a, secure=secure_serving.from_args(a, p),
    )


# -- running --------------------------------------------------------------------------------

#: kube-controller-manager's secure port: /metrics and the health checks over HTTPS.
SECURE_PORT = 10257

async def run_controllers(client: ApiClient, cfg: Config) -> None:
    """Build the enabled controllers on a fresh informer factory and run them until cancelled."""
    informers = SharedInformerFactory(client)
    ctx = ControllerContext(client=client, informers=informers, options=cfg.options)
    running: list[tuple[str, Controller]] = []
    for name in cfg.controllers:
        ctrl = CONTROLLERS[name].new(ctx)
        if ctrl is None:
            log.warning("controller %s not started: it has nothing to work with (see its flags)", name)
            continue
        running.append((name, ctrl))
        log.info("starting controller %s with %d workers", name, cfg.workers[name])
    informers.start()
    tasks = [asyncio.create_task(ctrl.run(cfg.workers[name]), name=f"controller {name}") for name, ctrl in running]
    try:
        if tasks:
            await asyncio.gather(*tasks)
        else:
            await asyncio.Event().wait()  # nothing enabled: hold the lease and idle
    finally:
        await taskgroup.cancel_and_wait(tasks)
        await informers.shutdown()
        for rec in ctx.recorders:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(rec.close(), 5.0)


async def amain(cfg: Config) -> None:
    if cfg.apiserver:
        client = ApiClient(cfg.apiserver, user_agent="minik8s-controller-manager")
    else:
        client = ApiClient.from_kubeconfig(cfg.kubeconfig, user_agent="minik8s-controller-manager")
    async with client:
        secure = secure_serving.SecureServer(cfg.secure, client, name="kube-controller-manager")
        serving = asyncio.create_task(secure.serve(), name="secure port")
        try:
            await _run(client, cfg)
        finally:
            await secure.shutdown()
            await asyncio.gather(serving, return_exceptions=True)


async def _run(client: ApiClient, cfg: Config) -> None:
    """The controllers, under leader election unless it is off."""
    if not cfg.leader_elect:
        await run_controllers(client, cfg)
        return
    elector = LeaderElector(client, name=cfg.lease_name, namespace=cfg.lease_namespace, identity=cfg.identity,
                            lease_duration=cfg.lease_duration, renew_deadline=cfg.renew_deadline,
                            retry_period=cfg.retry_period)
    while True:
        log.info("%s: attempting to acquire leader lease %s/%s...", cfg.identity, cfg.lease_namespace,
                 cfg.lease_name)

        async def lead() -> None:
            log.info("%s: successfully acquired lease %s/%s", cfg.identity, cfg.lease_namespace, cfg.lease_name)
            await run_controllers(client, cfg)

        await elector.run(lead)
        log.warning("%s: leader election lost; campaigning again", cfg.identity)


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    process.setup_logging(cfg.log_level)
    log.info("starting with %s", cfg)

    async def with_signals() -> None:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        assert task is not None
        process.add_stop_handler(task.cancel, loop)  # SIGTERM/SIGINT, or minik8s up's host
        with contextlib.suppress(asyncio.CancelledError):
            await amain(cfg)
        log.info("stopped")

    process.run(with_signals())
    sys.exit(0)


if __name__ == "__main__":
    main()
