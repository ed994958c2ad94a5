"""The apiserver's secure serving: which certificates it serves and trusts, made on first
start when none are given (as ``kube-apiserver`` self-signs into ``--cert-dir``, but signed by
a cluster CA that every component and the admin kubeconfig trust, as k3s does).

With ``--tls-cert-file``/``--tls-private-key-file`` the apiserver serves what it is given and
makes nothing; ``--client-ca-file`` is then the only source of client certificates it
accepts (none given: no x509 authentication). Without them, :func:`prepare` makes or reuses
the files under ``--cert-dir`` (see :mod:`minik8s.pki`) and writes the admin kubeconfig at
``<data-dir>/kubeconfig`` (context ``minik8s``, CA and admin certificate embedded, 0600).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from minik8s import pki, tlspeer
from minik8s.client import kubeconfig

__all__ = ["TLSFiles", "prepare", "uvicorn_options"]

KUBECONFIG_CONTEXT = "minik8s"


@dataclasses.dataclass(frozen=True)
class TLSFiles:
    cert_file: str
    key_file: str
    client_ca_file: str | None
    #: The apiserver's client certificate and the CA it checks kubelets' serving certificates
    #: against (``--kubelet-client-certificate``, ``--kubelet-client-key``,
    #: ``--kubelet-certificate-authority``).
    kubelet_client_cert: str | None = None
    kubelet_client_key: str | None = None
    kubelet_ca: str | None = None
    #: The admin kubeconfig written for this server (None when certificates were given).
    kubeconfig: str | None = None


def local_url(bind_address: str, port: int) -> str:
    """How a client on this host reaches the server."""
    host = "127.0.0.1" if bind_address in ("0.0.0.0", "::", "") else bind_address
    return f"https://{host}:{port}"


def prepare(*, data_dir: str, cert_dir: str | None, tls_cert_file: str | None, tls_private_key_file: str | None,
            client_ca_file: str | None, extra_sans: list[str], bind_address: str, port: int,
            kubelet_client_certificate: str | None = None, kubelet_client_key: str | None = None,
            kubelet_certificate_authority: str | None = None) -> TLSFiles:
    """The files to serve with, made under ``cert_dir`` when none are given."""
    if tls_cert_file or tls_private_key_file:
        if not (tls_cert_file and tls_private_key_file):
            raise ValueError("--tls-cert-file and --tls-private-key-file go together")
        return TLSFiles(tls_cert_file, tls_private_key_file, client_ca_file, kubelet_client_certificate,
                        kubelet_client_key, kubelet_certificate_authority)
    d = Path(cert_dir or os.path.join(data_dir, "pki"))
    files = pki.ensure_control_plane(d, extra_sans=extra_sans)
    path = os.path.join(data_dir, "kubeconfig")
    kubeconfig.write(path, local_url(bind_address, port), context=KUBECONFIG_CONTEXT, ca_data=files.ca.cert_pem,
                     client_cert_data=files.admin.cert_pem, client_key_data=files.admin.key_pem)
    return TLSFiles(str(files.serving.cert_path), str(files.serving.key_path), client_ca_file or str(files.ca_path),
                    kubelet_client_certificate or str(files.kubelet_client.cert_path),
                    kubelet_client_key or str(files.kubelet_client.key_path),
                    kubelet_certificate_authority or str(files.ca_path), path)


def uvicorn_options(tls: TLSFiles) -> dict[str, Any]:
    """uvicorn's TLS settings: serve ``tls``, ask clients for a certificate and verify one
    that is offered, and record its subject per connection (:mod:`minik8s.tlspeer`).

    WebSockets are served without permessage-deflate, as Kubernetes' apiserver serves them
    (golang.org/x/net/websocket has no compression): browsers offer it, and compressing every
    watch event for every watcher cost the apiserver about 1.4x the CPU of an uncompressed
    WebSocket event (tests/perf/watch_ws_bench.py, RESULTS.md)."""
    return {**tlspeer.uvicorn_options(tls.cert_file, tls.key_file, tls.client_ca_file), "ws_per_message_deflate": False}
