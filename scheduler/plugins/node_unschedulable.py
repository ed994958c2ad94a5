"""NodeUnschedulable filter: keep pods off cordoned nodes (``spec.unschedulable: true``).

A pod that tolerates the ``node.kubernetes.io/unschedulable:NoSchedule`` taint (DaemonSet pods
do) may still land there, exactly as in Kubernetes.
"""

from __future__ import annotations

from scheduler.framework import (
    NO_SCHEDULE,
    TAINT_NODE_UNSCHEDULABLE,
    CycleState,
    NodeCheck,
    NodeInfo,
    PodInfo,
    Rejection,
    Taint,
    tolerations_tolerate,
)

NAME = "NodeUnschedulable"
REJECTION = Rejection(("node(s) were unschedulable",), plugin=NAME)

_UNSCHEDULABLE_TAINT = Taint(TAINT_NODE_UNSCHEDULABLE, "", NO_SCHEDULE)


class NodeUnschedulable:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> NodeCheck | None:
        if tolerations_tolerate(pod.tolerations, _UNSCHEDULABLE_TAINT):
            return None

        def check(node: NodeInfo) -> Rejection | None:
            return REJECTION if node.unschedulable else None

        return check
