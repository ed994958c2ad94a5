"""The credentials ``minik8s up`` and ``minik8s join`` issue before anything starts, as
kubeadm's ``certs`` and ``kubeconfig`` phases (and k3s' server) do.

``up``: the cluster's PKI under ``<data-dir>/pki`` (:func:`minik8s.pki.ensure_control_plane`:
CA, the apiserver's serving certificate, its kubelet-client certificate, the ServiceAccount
key pair, the admin certificate), the admin kubeconfig at ``<data-dir>/kubeconfig`` (context
``minik8s``, CA and ``system:masters`` certificate embedded), and a kubeconfig per component
under ``<data-dir>/kubeconfigs/``, each with a client certificate of its own identity:

=========================  =================================================================
controller-manager         ``system:kube-controller-manager``
scheduler                  ``system:kube-scheduler``
kubelet of node N          ``system:node:N`` in group ``system:nodes`` (the node's proxy and
                           DNS run inside the kubelet and use its credentials)
=========================  =================================================================

and each kubelet's serving certificate for its node API (``pki/kubelets/N.crt``, naming the
node's addresses and name), signed by the cluster CA, which the apiserver checks kubelets
against; the kubelets accept client certificates of the same CA (``--client-ca-file``). The
controller-manager's and scheduler's secure ports serve the self-signed certificates those
components would make in ``pki/<component>/`` (:func:`minik8s.secure_serving.self_signed`),
made here and handed over with ``--tls-cert-file`` as k3s hands them its serving certificates,
so the components themselves never load cryptography for them.

``join --control-plane``: ``up``'s, after the cluster's CA and ServiceAccount keys and
encryption configuration came from ``kube-system/minik8s-certs`` (:mod:`minik8s.up.uploadcerts`);
every kubeconfig lists the joined apiserver after this host's own for failover.

``join``: the kubeconfig the node's components read, at ``<data-dir>/kubeconfig``: the remote
server, the cluster CA (found through token discovery and checked against
``--discovery-token-ca-cert-hash``, kept as ``<data-dir>/pki/ca.crt``; or given with
``--certificate-authority``) and, for a bootstrap ``--token``, the node's own client
certificate issued through a CertificateSigningRequest (:mod:`minik8s.up.tlsbootstrap`;
``pki/kubelet-client.crt``), else the ``--token`` as it is; the kubelet
accepts client certificates of that CA and serves a self-signed certificate (no CA key here:
the apiserver cannot verify it, so logs and exec on a joined node wait for kubelet serving
certificates issued through the API). Files are 0600. Nothing is re-issued when it exists and
still matches.
"""

from __future__ import annotations

import asyncio
import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from minik8s import pki, secure_serving
from minik8s.api import bootstraptoken
from minik8s.client import kubeconfig
from minik8s.up import admission_config, audit_policy, encryption_config, tlsbootstrap
from minik8s.up.config import UpConfig

__all__ = ["CONTEXT", "prepare", "component_kubeconfig", "control_loop_serving", "kubelet_serving", "client_ca"]

CONTEXT = "minik8s"

#: Component -> (user, groups) of its client certificate.
IDENTITIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "controller-manager": ("system:kube-controller-manager", ()),
    "scheduler": ("system:kube-scheduler", ()),
}


def component_kubeconfig(cfg: UpConfig, component: str) -> Path:
    """Where the kubeconfig of ``component`` (``scheduler``, ``kubelet-<node>``, ...) is."""
    return cfg.data_dir / "kubeconfigs" / f"{component}.kubeconfig"


def kubelet_serving(cfg: UpConfig, node: str) -> pki.KeyPair:
    """Where the serving certificate of node ``node``'s kubelet is (``up``)."""
    d = cfg.cert_dir / "kubelets"
    return pki.KeyPair(d / f"{node}.crt", d / f"{node}.key")


#: A control loop -> the name its secure port's self-signed certificate goes by (the
#: ``name`` of :class:`minik8s.secure_serving.SecureServer` in its main module).
SERVING_NAMES = {"controller-manager": "kube-controller-manager", "scheduler": "kube-scheduler"}


def control_loop_serving(cfg: UpConfig, component: str) -> pki.KeyPair:
    """Where the certificate of a control loop's secure port is (``up``): the self-signed one
    the component would make in ``pki/<component>/``, made here beforehand (:func:`prepare`)."""
    d = cfg.cert_dir / component
    name = SERVING_NAMES[component]
    return pki.KeyPair(d / f"{name}.crt", d / f"{name}.key")


def client_ca(cfg: UpConfig) -> Path | None:
    """The CA whose client certificates the kubelets accept: the cluster's."""
    if cfg.mode == "join":
        return Path(cfg.certificate_authority) if cfg.certificate_authority else cfg.cert_dir / "ca.crt"
    return cfg.cert_dir / "ca.crt"


def _write(path: Path, server: str, ca: bytes, pair: pki.KeyPair, others: tuple[str, ...] = ()) -> None:
    kubeconfig.write(str(path), server, context=CONTEXT, ca_data=ca, client_cert_data=pair.cert_pem,
                     client_key_data=pair.key_pem, other_servers=others)


def _client_cert_usable(pair: pki.KeyPair, ca_pem: bytes, node: str) -> bool:
    """A client certificate issued earlier for ``node`` by this CA, not about to expire."""
    if not (pair.cert_path.exists() and pair.key_path.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(pair.cert_pem)
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))
    except (ValueError, TypeError, InvalidSignature):
        return False
    fresh = cert.not_valid_after_utc - pki.RENEW_BEFORE > datetime.datetime.now(datetime.UTC)
    return fresh and pki.cert_subject(cert) == (f"system:node:{node}", ["system:nodes"])


def _join(cfg: UpConfig) -> None:
    """``join``: trust the cluster CA (discovered and pinned, or given) and, with a bootstrap
    token, get the node its own client certificate (kept across restarts while valid)."""
    if cfg.discovery_hashes:
        ca = asyncio.run(tlsbootstrap.discover_ca(cfg.server_url, cfg.token or "", list(cfg.discovery_hashes)))
        pki.write_private(cfg.cert_dir / "ca.crt", ca)
    else:
        ca = Path(cfg.certificate_authority or cfg.cert_dir / "ca.crt").read_bytes()
    if not (cfg.token and bootstraptoken.TOKEN_PATTERN.match(cfg.token)):
        kubeconfig.write(str(cfg.kubeconfig_path), cfg.server_url, context=CONTEXT, token=cfg.token, ca_data=ca)
        return
    nodes = cfg.node_names()
    if len(nodes) != 1:
        raise ValueError("joining with a bootstrap token runs exactly one node on this host (--nodes 1)")
    pair = pki.KeyPair(cfg.cert_dir / "kubelet-client.crt", cfg.cert_dir / "kubelet-client.key")
    if not _client_cert_usable(pair, ca, nodes[0]):
        cert, key = asyncio.run(tlsbootstrap.request_client_certificate(cfg.server_url, ca, cfg.token, nodes[0]))
        pki.write_private(pair.key_path, key)
        pki.write_private(pair.cert_path, cert)
    _write(cfg.kubeconfig_path, cfg.server_url, ca, pair)


def prepare(cfg: UpConfig) -> None:
    """Issue (or keep) every certificate and kubeconfig ``cfg`` needs, the apiserver's
    encryption-at-rest key (``encryption_config``), its audit policy (``audit_policy``) and its
    admission configuration (``admission_config``)."""
    if cfg.mode == "join":
        _join(cfg)
        return
    if cfg.enabled("apiserver"):
        encryption_config.ensure(cfg.data_dir)
        audit_policy.ensure(cfg.data_dir)
        admission_config.ensure(cfg.data_dir)
    sans = [cfg.node_ip] if cfg.node_ip else []
    files = pki.ensure_control_plane(cfg.cert_dir, extra_sans=sans)
    ca = files.ca.cert_pem
    _write(cfg.kubeconfig_path, cfg.server_url, ca, files.admin, cfg.other_servers)
    certs = cfg.cert_dir / "clients"
    for component, (user, groups) in IDENTITIES.items():
        if cfg.enabled(component):
            pair = pki.ensure_client_cert(files.ca, certs, component, user, groups)
            _write(component_kubeconfig(cfg, component), cfg.server_url, ca, pair, cfg.other_servers)
    for component in SERVING_NAMES:
        if cfg.enabled(component):
            secure_serving.self_signed(str(cfg.cert_dir / component), SERVING_NAMES[component])
    ips = [cfg.node_ip] if cfg.node_ip else pki.host_addresses()
    for node in cfg.node_names():
        pair = pki.ensure_client_cert(files.ca, certs, f"kubelet-{node}", f"system:node:{node}", ("system:nodes",))
        _write(component_kubeconfig(cfg, f"kubelet-{node}"), cfg.server_url, ca, pair, cfg.other_servers)
        serving = kubelet_serving(cfg, node)
        pki.ensure_serving_cert(files.ca, serving.cert_path.parent, node, f"system:node:{node}",
                                dns_names=[node], ips=ips)
