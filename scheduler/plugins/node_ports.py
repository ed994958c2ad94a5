"""NodePorts filter: a pod's ``hostPort``s must be free on the node.

An IP of 0.0.0.0 (or none) clashes with the same protocol/port on any IP. The failure is
"resolvable" in Kubernetes' sense: evicting the pod holding the port would free it.
"""

from __future__ import annotations

from scheduler.framework import CycleState, NodeCheck, NodeInfo, PodInfo, Rejection

NAME = "NodePorts"
REJECTION = Rejection(("node(s) didn't have free ports for the requested pod ports",), resolvable=True, plugin=NAME)


class NodePorts:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> NodeCheck | None:
        wanted = pod.host_ports
        if not wanted:
            return None

        def check(node: NodeInfo) -> Rejection | None:
            if not node.used_ports:
                return None
            for ip, proto, port in wanted:
                if node.port_conflict(ip, proto, port):
                    return REJECTION
            return None

        return check
