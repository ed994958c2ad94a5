"""The pods preemption nominated to a node, and the room they hold there (Kubernetes'
``PodNominator`` and ``addNominatedPods``).

After a preemption the preemptor waits for its victims to go; meanwhile the room they free
must not be taken by a pod that is not more important. So when a pod is scheduled, every pod
nominated to a node with a priority at least its own is counted on a copy of that node (the
cache's NodeInfos are never changed). A nomination ends when its pod is bound or deleted, or
when a more important pod takes the node by preemption.
"""

from __future__ import annotations

from collections.abc import Sequence

from scheduler.framework import NodeInfo, PodInfo
from scheduler.preemption import clone_node

__all__ = ["Nominator"]


class Nominator:
    def __init__(self) -> None:
        self._by_pod: dict[str, tuple[str, PodInfo]] = {}  # pod key -> (node, pod)

    def __bool__(self) -> bool:
        return bool(self._by_pod)

    def node_of(self, key: str) -> str | None:
        got = self._by_pod.get(key)
        return got[0] if got else None

    def add(self, pod: PodInfo, node: str) -> list[tuple[str, str]]:
        """Nominate ``node`` for ``pod``; the (namespace, name) of the less important pods
        that were nominated to the same node and no longer are."""
        dropped = []
        for key, (n, other) in list(self._by_pod.items()):
            if n == node and other.priority < pod.priority and key != pod.key:
                del self._by_pod[key]
                dropped.append((other.namespace, other.name))
        self._by_pod[pod.key] = (node, pod)
        return dropped

    def remove(self, key: str) -> None:
        self._by_pod.pop(key, None)

    def reserve(self, nodes: Sequence[NodeInfo], pod: PodInfo) -> Sequence[NodeInfo]:
        """``nodes`` with the pods nominated to them counted, for scheduling ``pod``: only
        pods at least as important as it, never itself."""
        held: dict[str, list[PodInfo]] = {}
        for key, (node, other) in self._by_pod.items():
            if key != pod.key and other.priority >= pod.priority:
                held.setdefault(node, []).append(other)
        if not held:
            return nodes
        out = list(nodes)
        for i, n in enumerate(out):
            extra = held.get(n.name)
            if extra:
                copy = clone_node(n)
                for p in extra:
                    if p.key not in copy.pods:
                        copy.add_pod(p)
                out[i] = copy
        return out
