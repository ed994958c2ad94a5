"""``minik8s join URL [--token T] [--node-name N]``: run a node agent (the kubelet, with the
node's service proxy and cluster DNS inside it) on this host against a remote apiserver.

It is ``minik8s up`` with the control plane switched off (see :mod:`minik8s.up.config`): the
same supervisor, state file, ``status`` and ``down``. The token and the cluster CA
(``--certificate-authority``: a copy of the server's ``<data-dir>/pki/ca.crt``) go into
``<data-dir>/kubeconfig`` (mode 0600), which the node's components read, so the token never
shows on a command line. The apiserver must accept the token (bootstrap tokens).
"""

from __future__ import annotations

import argparse

from minik8s.up.config import add_data_dir_flag, add_node_flags

__all__ = ["add_join_flags"]


def add_join_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", metavar="URL", help="the apiserver to join, e.g. https://10.0.0.5:6443")
    p.add_argument("--certificate-authority", default=None, metavar="FILE",
                   help="the cluster CA certificate (the server's <data-dir>/pki/ca.crt) to verify the apiserver with")
    p.add_argument("--token", default=None, help="bearer token to authenticate with (if the apiserver asks for one)")
    add_data_dir_flag(p)
    add_node_flags(p)
