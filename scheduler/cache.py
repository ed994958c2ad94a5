"""The scheduler's view of the cluster: nodes and the pods placed on them, with running totals.

Fed by the scheduler's node and pod watches (``add_node`` / ``update_node`` / ``remove_node``,
``add_pod`` / ``update_pod`` / ``remove_pod``) and by the scheduler itself: the moment a node is
chosen, ``assume_pod`` puts the pod on it, so the next cycle already sees the room it takes —
nothing is double-booked while the binding is in flight and the watch catches up. When the
watch then shows the pod bound, ``add_pod``/``update_pod`` confirm the assumption; if binding
fails, ``forget_pod`` takes it back. (Kubernetes' ``internal/cache``; as there, an assumed pod
does not expire by itself.)

Every change is incremental: a pod event touches one or two NodeInfos; nothing is recounted.
Pods that have finished (phase Succeeded or Failed) hold no resources and are dropped, as the
Kubernetes scheduler's pod informer never sees them.

Not thread-safe: one asyncio loop owns it, and a scheduling cycle runs without awaiting.
"""

from __future__ import annotations

import dataclasses

from minik8s.api import typed
from scheduler.framework import NodeInfo, PodInfo, pod_key

__all__ = ["SchedulerCache"]

_TERMINAL = ("Succeeded", "Failed")


@dataclasses.dataclass(slots=True)
class _PodState:
    info: PodInfo
    node_name: str
    assumed: bool


class SchedulerCache:
    def __init__(self) -> None:
        self._infos: dict[str, NodeInfo] = {}
        # Only NodeInfos whose Node object is known, in the order nodes arrived: what cycles see.
        self._schedulable: list[NodeInfo] = []
        self._pods: dict[str, _PodState] = {}

    # -- nodes --------------------------------------------------------------------------------

    def add_node(self, node: typed.Node) -> NodeInfo:
        """Add or replace a node (watch ADDED or MODIFIED)."""
        name = (node.get("metadata") or {}).get("name") or ""
        info = self._infos.get(name)
        if info is None:
            info = self._infos[name] = NodeInfo(name, node)
            self._schedulable.append(info)
        else:
            if info.node is None:
                self._schedulable.append(info)
            info.set_node(node)
        return info

    update_node = add_node

    def remove_node(self, name: str) -> None:
        """The node is gone. Its pods' totals stay until their own deletions arrive."""
        info = self._infos.get(name)
        if info is None or info.node is None:
            return
        info.set_node(None)
        self._schedulable.remove(info)
        if not info.pods:
            del self._infos[name]

    def nodes(self) -> list[NodeInfo]:
        """The nodes a pod may be placed on, as the cache holds them (do not modify the list)."""
        return self._schedulable

    def node(self, name: str) -> NodeInfo | None:
        return self._infos.get(name)

    # -- pods ---------------------------------------------------------------------------------

    def add_pod(self, pod: typed.Pod) -> None:
        """A pod from the watch (ADDED or MODIFIED). Only pods bound to a node are kept."""
        key = pod_key(pod)
        if ((pod.get("status") or {}).get("phase")) in _TERMINAL:
            self.remove_pod(key)
            return
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            # Not bound yet (or the watch lags behind our binding): an assumption stands.
            return
        self._place(PodInfo(pod), node_name, assumed=False)

    update_pod = add_pod

    def remove_pod(self, pod_or_key: typed.Pod | str) -> None:
        """A pod deleted (watch DELETED), or finished."""
        key = pod_or_key if isinstance(pod_or_key, str) else pod_key(pod_or_key)
        st = self._pods.pop(key, None)
        if st is not None:
            self._unplace(key, st.node_name)

    def assume_pod(self, pod: PodInfo | typed.Pod, node_name: str) -> PodInfo:
        """Count ``pod`` on ``node_name`` now, before the binding is confirmed."""
        info = pod if isinstance(pod, PodInfo) else PodInfo(pod)
        self._place(info, node_name, assumed=True)
        return info

    def forget_pod(self, key: str) -> None:
        """Undo ``assume_pod`` (the binding failed). A pod already confirmed is left alone."""
        st = self._pods.get(key)
        if st is not None and st.assumed:
            self.remove_pod(key)

    def is_assumed(self, key: str) -> bool:
        st = self._pods.get(key)
        return st is not None and st.assumed

    def pod_node(self, key: str) -> str | None:
        st = self._pods.get(key)
        return st.node_name if st else None

    def __len__(self) -> int:
        return len(self._pods)

    # -- internals ----------------------------------------------------------------------------

    def _place(self, info: PodInfo, node_name: str, *, assumed: bool) -> None:
        old = self._pods.get(info.key)
        if old is not None and old.node_name != node_name:
            self._unplace(info.key, old.node_name)
        target = self._infos.get(node_name)
        if target is None:
            # Pods can be seen before their node; keep their totals for when it arrives.
            target = self._infos[node_name] = NodeInfo(node_name)
        target.add_pod(info)
        self._pods[info.key] = _PodState(info, node_name, assumed)

    def _unplace(self, key: str, node_name: str) -> None:
        info = self._infos.get(node_name)
        if info is None:
            return
        info.remove_pod(key)
        if info.node is None and not info.pods:
            del self._infos[node_name]
