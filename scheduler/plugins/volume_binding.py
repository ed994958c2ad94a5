"""VolumeBinding: a pod goes only where its PersistentVolumeClaims can follow it.

For each claim the pod names (Kubernetes' VolumeBinding filter, its reasons word for word):

* missing, or being deleted: no node at all (``persistentvolumeclaim "x" not found`` / ``...
  is being deleted``, a PreFilter rejection: the message has no node count);
* bound: the node must satisfy its volume's node affinity (``node(s) had volume node affinity
  conflict``); a volume that does not exist fits no node (PreFilter too);
* a ReadWriteOncePod claim another scheduled pod already uses: no node (``node has pod using
  PersistentVolumeClaim with the same name and ReadWriteOncePod access mode``, PreFilter);
* unbound, of a class that waits for its first consumer: a class with a provisioner can
  provision on any node (the PreBind step in :mod:`scheduler.volumes` names the chosen node),
  but the built-in local-path one only on a node that serves local-path volumes (its kubelet
  advertises a directory; hollow nodes do not);
  ``kubernetes.io/no-provisioner`` needs a matching free volume whose affinity admits the node
  (``node(s) didn't find available persistent volumes to bind``);
* unbound otherwise (``Immediate`` binding, no class): the binder binds those on its own, so
  the pod waits (``pod has unbound immediate PersistentVolumeClaims``, PreFilter).

Pods without claims are skipped at once. The plugin reads claims, volumes and classes from
:class:`scheduler.volumes.VolumeListers`, which the scheduler attaches; without one (the
algorithm used on its own) it has nothing to check.
"""

from __future__ import annotations

from collections.abc import Iterable

from minik8s import localpath, volumebinding
from minik8s.api import typed
from minik8s.api.wellknown.volumes import READ_WRITE_ONCE_POD
from minik8s.nodeselector import Matcher, selector_matcher
from scheduler.framework import CycleState, FilterPlugin, NodeCheck, NodeInfo, PodInfo, Rejection, pod_key
from scheduler.volumes import VolumeListers, claim_names

__all__ = ["NAME", "VolumeBinding"]

NAME = "VolumeBinding"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
NODE_CONFLICT = Rejection(("node(s) had volume node affinity conflict",), plugin=NAME)
BIND_CONFLICT = Rejection(("node(s) didn't find available persistent volumes to bind",), plugin=NAME)
UNBOUND_IMMEDIATE = Rejection(("pod has unbound immediate PersistentVolumeClaims",), plugin=NAME)
RWOP_CONFLICT = Rejection(("node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod "
                           "access mode",), plugin=NAME)
PV_NOT_EXIST = Rejection(("node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)",),
                         plugin=NAME)


def _advertises_local_path(node: NodeInfo) -> bool:
    return bool(((node.node or {}).get("metadata", {}).get("annotations") or {}).get(localpath.ANN_NODE_DIR))


class VolumeBinding:
    name = NAME

    def __init__(self, listers: VolumeListers | None = None) -> None:
        self.listers = listers

    def pre_filter(self, state: CycleState, pod: PodInfo) -> NodeCheck | Rejection | None:
        names = claim_names(pod.pod)
        if not names or self.listers is None:
            return None
        affinities: list[Matcher] = []
        delayed_static: list[typed.PersistentVolumeClaim] = []
        local_path = False
        for name in names:
            pvc = self.listers.claim(pod.namespace, name)
            if pvc is None:
                return Rejection((f'persistentvolumeclaim "{name}" not found',), plugin=NAME)
            if pvc["metadata"].get("deletionTimestamp"):
                return Rejection((f'persistentvolumeclaim "{name}" is being deleted',), plugin=NAME)
            if READ_WRITE_ONCE_POD in ((pvc.get("spec") or {}).get("accessModes") or ()) and any(
                    pod_key(p) != pod.key for p in self.listers.pods_using(pod.namespace, name)):
                return RWOP_CONFLICT
            volume_name = (pvc.get("spec") or {}).get("volumeName")
            if volume_name:
                pv = self.listers.volume(volume_name)
                if pv is None:
                    return PV_NOT_EXIST
                required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
                if required is not None:
                    affinities.append(selector_matcher(required))
                continue
            if not self.listers.waits_for_first_consumer(pvc):
                return UNBOUND_IMMEDIATE
            sc = self.listers.storage_class(volumebinding.storage_class(pvc)) or {}
            if sc.get("provisioner") == NO_PROVISIONER:
                delayed_static.append(pvc)
            elif sc.get("provisioner") == localpath.PROVISIONER:
                local_path = True
        if not affinities and not delayed_static and not local_path:
            return None
        volumes = self.listers.all_volumes() if delayed_static else []

        def check(node: NodeInfo) -> Rejection | None:
            if not all(m(node) for m in affinities):
                return NODE_CONFLICT
            if local_path and not _advertises_local_path(node):
                return BIND_CONFLICT
            for pvc in delayed_static:
                pv = volumebinding.find_best_volume(pvc, volumes, node=node, delay_binding=True)
                if pv is None or not volumebinding.node_affinity_admits(pv, node):
                    return BIND_CONFLICT
            return None

        return check


def attach(filters: Iterable[FilterPlugin], listers: VolumeListers) -> None:
    """Give every VolumeBinding plugin among ``filters`` the scheduler's listers."""
    for f in filters:
        if isinstance(f, VolumeBinding):
            f.listers = listers
