"""``minik8s join URL [--token T] [--node-name N]``: run a node agent (the kubelet, with the
node's service proxy and cluster DNS inside it) on this host against a remote apiserver.

It is ``minik8s up`` with the control plane switched off (see :mod:`minik8s.up.config`): the
same supervisor, state file, ``status`` and ``down``. A token goes into
``<data-dir>/kubeconfig`` (mode 0600), which the node's components read, so it never shows on
a command line.
"""

from __future__ import annotations

import argparse

from minik8s.up.config import add_data_dir_flag, add_node_flags

__all__ = ["add_join_flags"]


def add_join_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", metavar="URL", help="the apiserver to join, e.g. http://10.0.0.5:6443")
    p.add_argument("--token", default=None, help="bearer token to authenticate with (if the apiserver asks for one)")
    add_data_dir_flag(p)
    add_node_flags(p)
