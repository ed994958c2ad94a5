"""The local-path storage contract shared by the provisioner (controller-manager) and the
kubelets: names, annotations and the directory layout, as k3s' local-path provisioner has them.

* The StorageClass ``local-path`` (provisioner :data:`PROVISIONER`, default class,
  ``WaitForFirstConsumer``, reclaim ``Delete``) is created by the controller-manager at start.
* A kubelet on a real node advertises where its volumes live with the Node annotation
  :data:`ANN_NODE_DIR` (``<node data dir>/local-path``).
* Once the scheduler has picked the node of a claim's first pod, the provisioner creates a
  PersistentVolume ``pvc-<claim uid>``: a ``hostPath`` (``DirectoryOrCreate``) at
  :func:`volume_dir` on that node, with node affinity to it, pre-bound to the claim, carrying
  the finalizer :data:`CLEANUP_FINALIZER`.
* The directory is made by the node's kubelet when it mounts the volume, and removed by that
  kubelet when the volume is deleted (reclaim ``Delete``), which then drops the finalizer. So
  it works for nodes on other hosts (``minik8s join``): nothing but the node touches its disk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from minik8s.api.wellknown import storage as storage_api

PROVISIONER = "minik8s.io/local-path"
STORAGE_CLASS = "local-path"
ANN_NODE_DIR = "local-path.minik8s.io/dir"
CLEANUP_FINALIZER = "local-path.minik8s.io/cleanup"
HOSTNAME_LABEL = "kubernetes.io/hostname"
SUPPORTED_ACCESS_MODES = ("ReadWriteOnce", "ReadWriteOncePod")


def node_dir(node_root: str) -> str:
    """Where a node keeps its local-path volumes, under its data dir."""
    return os.path.join(node_root, "local-path")


def volume_dir(base: str, pv_name: str, namespace: str, claim: str) -> str:
    """``<base>/pvc-<uid>_<namespace>_<claim>``: one directory per volume, named as k3s names it."""
    return os.path.join(base, f"{pv_name}_{namespace}_{claim}")


def default_storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS, "annotations": {storage_api.ANN_IS_DEFAULT_CLASS: "true"}},
        "provisioner": PROVISIONER, "reclaimPolicy": "Delete",
        "volumeBindingMode": storage_api.BINDING_WAIT_FOR_FIRST_CONSUMER,
    }


def node_of(pv: Mapping[str, Any]) -> str | None:
    """The node a provisioned volume lives on: the one value of its hostname affinity."""
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}
    for term in required.get("nodeSelectorTerms") or ():
        for expr in term.get("matchExpressions") or ():
            if expr.get("key") == HOSTNAME_LABEL and expr.get("operator") == "In" and len(expr.get("values") or ()) == 1:
                node: str = expr["values"][0]
                return node
    return None
