"""``minik8s join URL [--token T] [--node-name N]``: run a node agent (the kubelet, with the
node's service proxy and cluster DNS inside it) on this host against a remote apiserver.

It is ``minik8s up`` with the control plane switched off (see :mod:`minik8s.up.config`): the
same supervisor, state file, ``status`` and ``down``. With the line ``minik8s up`` prints
(``--token <bootstrap token> --discovery-token-ca-cert-hash sha256:...``) it does what
``kubeadm join`` does (:mod:`minik8s.up.tlsbootstrap`): finds the cluster CA through the
signed ``cluster-info``, checks its pin, and gets this node its own client certificate
through a CertificateSigningRequest, never holding the admin's credentials. The CA and that
certificate go into ``<data-dir>/kubeconfig`` (mode 0600), which the node's components read.
(``--certificate-authority FILE`` with any other ``--token`` is used as given.)

``--control-plane --certificate-key K`` joins another control-plane host instead, as
``kubeadm join --control-plane``: the cluster's shared keys come from the encrypted
``kube-system/minik8s-certs`` (:mod:`minik8s.up.uploadcerts`), and this host runs an apiserver
on the same etcd, a scheduler and a controller-manager (leader-elected with the others'), and
its node(s), as ``minik8s up`` does.
"""

from __future__ import annotations

import argparse

from minik8s.up.config import DEFAULT_PORT, add_data_dir_flag, add_node_flags

__all__ = ["add_join_flags"]


def add_join_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", metavar="URL", help="the apiserver to join, e.g. https://10.0.0.5:6443")
    p.add_argument("--certificate-authority", default=None, metavar="FILE",
                   help="the cluster CA certificate (the server's <data-dir>/pki/ca.crt) to verify the apiserver with")
    p.add_argument("--token", default=None,
                   help="a bootstrap token (<id>.<secret>, printed by minik8s up) to discover the cluster and get "
                        "this node's client certificate with; any other token is used as it is")
    p.add_argument("--discovery-token-ca-cert-hash", action="append", default=[], metavar="sha256:HEX",
                   help="the pin of the cluster CA's public key (printed by minik8s up): the CA read from the "
                        "cluster's cluster-info is trusted only if it matches")
    g = p.add_argument_group("control-plane join (kubeadm join --control-plane)")
    g.add_argument("--control-plane", action="store_true",
                   help="run another apiserver, scheduler and controller-manager of the cluster on this host, on "
                        "its etcd (needs --token, --discovery-token-ca-cert-hash and --certificate-key)")
    g.add_argument("--certificate-key", default=None, metavar="HEX",
                   help="the key minik8s up --etcd printed, decrypting the control plane's shared keys")
    g.add_argument("--etcd-servers", default=None, metavar="URL,...",
                   help="the etcd cluster as this host reaches it (default: the one the first apiserver uses)")
    g.add_argument("--port", type=int, default=DEFAULT_PORT, help="this apiserver's port (default %(default)s)")
    g.add_argument("--bind-address", default="0.0.0.0", help="this apiserver's listen address (default %(default)s)")
    for component in ("apiserver", "scheduler", "controller-manager"):
        g.add_argument(f"--{component}-arg", action="append", default=[], metavar="FLAG=VALUE",
                       help=f"extra {component} flag (repeatable)")
    add_data_dir_flag(p)
    add_node_flags(p)
