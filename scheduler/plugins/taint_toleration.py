"""TaintToleration: a filter for NoSchedule/NoExecute taints and a score for PreferNoSchedule.

Filter: the first NoSchedule or NoExecute taint of the node (in the node's order) that none of
the pod's tolerations tolerates rejects the node, naming that taint.
Score: fewer untolerated PreferNoSchedule taints is better; counts are normalised in reverse so
the node with the fewest gets 100.
"""

from __future__ import annotations

from collections.abc import Sequence

from scheduler.framework import (
    PREFER_NO_SCHEDULE,
    CycleState,
    NodeCheck,
    NodeInfo,
    PodInfo,
    Rejection,
    default_normalize,
    tolerations_tolerate,
    untolerated_taint_rejection,
)

NAME = "TaintToleration"


class TaintToleration:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> NodeCheck | None:
        tolerations = pod.tolerations

        def check(node: NodeInfo) -> Rejection | None:
            for taint in node.hard_taints:
                if not tolerations_tolerate(tolerations, taint):
                    return untolerated_taint_rejection(taint, NAME)
            return None

        return check

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int] | None:
        # Only tolerations that can apply to PreferNoSchedule matter here.
        tolerations = tuple(t for t in pod.tolerations if t.effect in ("", PREFER_NO_SCHEDULE))
        raw = [
            sum(1 for taint in node.soft_taints if not tolerations_tolerate(tolerations, taint))
            if node.soft_taints else 0
            for node in nodes
        ]
        return default_normalize(raw, reverse=True)
