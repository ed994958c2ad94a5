"""NodeName filter: a pod that names its node (``spec.nodeName``) fits only that node."""

from __future__ import annotations

from scheduler.framework import CycleState, NodeCheck, NodeInfo, PodInfo, Rejection

NAME = "NodeName"
REJECTION = Rejection(("node(s) didn't match the requested node name",), plugin=NAME)


class NodeName:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> NodeCheck | None:
        wanted = pod.node_name
        if not wanted:
            return None

        def check(node: NodeInfo) -> Rejection | None:
            return None if node.name == wanted else REJECTION

        return check
