"""NodeReady filter: keep pods off nodes whose Ready condition is False or Unknown.

Kubernetes does this through taints: its node lifecycle controller puts
``node.kubernetes.io/not-ready:NoSchedule`` (Ready=False) or ``node.kubernetes.io/unreachable:
NoSchedule`` (Ready=Unknown) on the node and TaintToleration does the rest. This plugin applies
that same implied taint straight from the condition, so the scheduler is right even in the
seconds before the taint is written — with the same toleration rules and the same message.
A node that has not reported a Ready condition yet is not held back (no taint in Kubernetes
either until its grace period runs out).
"""

from __future__ import annotations

from scheduler.framework import (
    CycleState,
    NodeCheck,
    NodeInfo,
    PodInfo,
    Rejection,
    tolerations_tolerate,
    untolerated_taint_rejection,
)

NAME = "NodeReady"


class NodeReady:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> NodeCheck | None:
        tolerations = pod.tolerations

        def check(node: NodeInfo) -> Rejection | None:
            taint = node.ready_taint
            if taint is None or tolerations_tolerate(tolerations, taint):
                return None
            return untolerated_taint_rejection(taint, NAME)

        return check
