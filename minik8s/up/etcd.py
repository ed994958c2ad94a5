"""A local, single-member etcd: the command line ``minik8s up --etcd`` supervises and tests start.

etcd comes from Debian's ``etcd-server`` package (``scripts/setup.sh`` installs it; no system
service is started: whoever needs one starts its own on loopback ports and a data dir of its
own). Clients reach it over plain HTTP/2 on loopback only: the member listens on 127.0.0.1 and
no other address, so no TLS is needed for it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["binary", "command", "client_url"]


def binary() -> str | None:
    """The etcd executable on PATH (Debian installs /usr/bin/etcd), or None."""
    return shutil.which("etcd")


def client_url(port: int, *, tls: bool = False) -> str:
    return f"{'https' if tls else 'http'}://127.0.0.1:{port}"


def command(data_dir: Path, *, client_port: int, peer_port: int, name: str = "minik8s",
            executable: str | None = None, initial_cluster: str | None = None,
            client_tls: tuple[str, str, str] | None = None) -> list[str]:
    """etcd's flags for one member serving clients on 127.0.0.1:``client_port``; alone, or one of
    the members ``initial_cluster`` lists (``name=http://127.0.0.1:PEER,...``). ``client_tls``
    (cert, key, CA) serves clients over HTTPS and requires a client certificate signed by the CA."""
    peer = f"http://127.0.0.1:{peer_port}"
    url = client_url(client_port, tls=client_tls is not None)
    tls_flags = [] if client_tls is None else [
        "--cert-file", client_tls[0], "--key-file", client_tls[1], "--trusted-ca-file", client_tls[2],
        "--client-cert-auth"]
    return [
        executable or binary() or "etcd",
        "--name", name,
        "--data-dir", str(data_dir),
        "--listen-client-urls", url,
        "--advertise-client-urls", url,
        *tls_flags,
        "--listen-peer-urls", peer,
        "--initial-advertise-peer-urls", peer,
        "--initial-cluster", initial_cluster or f"{name}={peer}",
        "--initial-cluster-state", "new",
        # Kubernetes' guidance for its etcd: a larger backend than the 2 GiB default is not
        # needed here; keep the default and let the apiserver compact every 5 minutes.
        "--logger", "zap",
        "--log-outputs", "stderr",
    ]
