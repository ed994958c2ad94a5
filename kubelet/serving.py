"""The node API's TLS: the serving certificate the kubelet presents, and the CA of the client
certificates it accepts.

As Kubernetes' kubelet: a certificate from the cluster with ``--rotate-server-certificates``
(``kubelet/server_certificate.py``), else ``--tls-cert-file``/``--tls-private-key-file`` when given (``minik8s
up`` issues one signed by the cluster CA, naming the node's addresses, so the apiserver can
verify it); otherwise a self-signed one kept under ``--cert-dir`` (``kubelet.crt``, signed by a
CA of this kubelet's own that nobody else trusts: the apiserver, which checks kubelets against
the cluster CA, then refuses to talk to it). ``--client-ca-file`` names who may call; without
it no client certificate is accepted and every request is refused.
"""

from __future__ import annotations

import socket
from typing import Any

from kubelet.config import KubeletConfig
from minik8s import tlspeer

__all__ = ["serving_files", "tls_options", "uvicorn_options"]


def serving_files(cfg: KubeletConfig, host_ip: str) -> tuple[str, str]:
    """``(cert, key)`` paths of the node API's serving certificate."""
    if cfg.tls_cert_file and cfg.tls_private_key_file:
        return cfg.tls_cert_file, cfg.tls_private_key_file
    from minik8s import pki  # only to self-sign: cryptography is slow to import

    hostname = socket.gethostname().lower()
    with pki.locked(cfg.cert_dir):
        ca = pki.ensure_ca(cfg.cert_dir, common_name=f"{hostname}-ca")
        pair = pki.ensure_serving_cert(ca, cfg.cert_dir, "kubelet", hostname,
                                       dns_names=[hostname, *cfg.node_names()[:100]], ips=[host_ip])
    return str(pair.cert_path), str(pair.key_path)


def uvicorn_options(cfg: KubeletConfig, host_ip: str) -> dict[str, Any]:
    cert, key = serving_files(cfg, host_ip)
    return tls_options(cert, key, cfg.client_ca_file)


def tls_options(cert: str, key: str, client_ca_file: str | None) -> dict[str, Any]:
    """uvicorn's TLS settings for a given pair (``--rotate-server-certificates``: the pair the
    cluster issued, kubelet/server_certificate.py)."""
    return tlspeer.uvicorn_options(cert, key, client_ca_file)
