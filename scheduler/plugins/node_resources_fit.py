"""Node resources: the NodeResourcesFit filter and LeastAllocated score, and the
NodeResourcesBalancedAllocation score.

Fit (filter): the node must have room for one more pod (``allocatable.pods``) and, for each
resource the pod requests, ``allocatable >= already requested + pod's request``. Every shortage
is reported ("Insufficient cpu", "Insufficient memory", "Too many pods"...). A pod requesting
nothing is checked for the pod count only. Shortages are "resolvable": evicting pods would help.

LeastAllocated (score, cpu and memory weighted equally): ``(allocatable - requested) * 100 /
allocatable`` per resource, averaged — emptier nodes first. It counts non-zero requests, so pods
without requests still spread out.

BalancedAllocation (score): ``(1 - std(cpu fraction, memory fraction)) * 100`` on real requests
— nodes whose cpu and memory fill evenly first. Pods that request neither cpu nor memory are not
scored by it (Kubernetes skips best-effort pods, or they would all land on one node).
"""

from __future__ import annotations

from collections.abc import Sequence

from scheduler.framework import MAX_NODE_SCORE, CycleState, NodeCheck, NodeInfo, PodInfo, Rejection

__all__ = ["FIT_NAME", "BALANCED_NAME", "NodeResourcesFit", "BalancedAllocation", "insufficient_reasons"]

FIT_NAME = "NodeResourcesFit"
BALANCED_NAME = "NodeResourcesBalancedAllocation"


def insufficient_reasons(pod: PodInfo, node: NodeInfo) -> list[str]:
    """Every reason ``node`` cannot hold ``pod``, in Kubernetes' order."""
    r = pod.requests
    reasons = []
    if len(node.pods) + 1 > node.alloc_pods:
        reasons.append("Too many pods")
    if r.is_zero:
        return reasons
    if node.alloc_cpu < r.milli_cpu + node.req_cpu:
        reasons.append("Insufficient cpu")
    if node.alloc_mem < r.memory + node.req_mem:
        reasons.append("Insufficient memory")
    if node.alloc_eph < r.ephemeral_storage + node.req_eph:
        reasons.append("Insufficient ephemeral-storage")
    for name, value in r.scalars.items():
        if node.alloc_scalars.get(name, 0) < value + node.req_scalars.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


class NodeResourcesFit:
    name = FIT_NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> NodeCheck | None:
        r = pod.requests
        cpu, mem, eph, scalars = r.milli_cpu, r.memory, r.ephemeral_storage, r.scalars
        zero = r.is_zero

        def check(node: NodeInfo) -> Rejection | None:
            # Fast path first: most nodes fit, and this runs for every node of every cycle.
            if len(node.pods) < node.alloc_pods and (zero or (
                cpu + node.req_cpu <= node.alloc_cpu
                and mem + node.req_mem <= node.alloc_mem
                and eph + node.req_eph <= node.alloc_eph
                and (not scalars or all(
                    v + node.req_scalars.get(n, 0) <= node.alloc_scalars.get(n, 0) for n, v in scalars.items()
                ))
            )):
                return None
            return Rejection(tuple(insufficient_reasons(pod, node)), resolvable=True, plugin=FIT_NAME)

        return check

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int] | None:
        """LeastAllocated over cpu and memory, weight 1 each."""
        pc = pod.requests.non_zero_milli_cpu
        pm = pod.requests.non_zero_memory
        out = []
        for node in nodes:
            total = weights = 0
            alloc = node.alloc_cpu
            if alloc:
                want = node.nz_cpu + pc
                total += (alloc - want) * MAX_NODE_SCORE // alloc if want <= alloc else 0
                weights += 1
            alloc = node.alloc_mem
            if alloc:
                want = node.nz_mem + pm
                total += (alloc - want) * MAX_NODE_SCORE // alloc if want <= alloc else 0
                weights += 1
            out.append(total // weights if weights else 0)
        return out


class BalancedAllocation:
    name = BALANCED_NAME

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int] | None:
        pc = pod.requests.milli_cpu
        pm = pod.requests.memory
        if not pc and not pm:
            return None
        out = []
        for node in nodes:
            ac, am = node.alloc_cpu, node.alloc_mem
            if ac and am:
                fc = (node.req_cpu + pc) / ac
                fm = (node.req_mem + pm) / am
                # Fractions are capped at 1 (an overcommitted node is simply full).
                std = abs((fc if fc < 1.0 else 1.0) - (fm if fm < 1.0 else 1.0)) / 2
            else:
                # One resource (or none) to compare: perfectly balanced by definition.
                std = 0.0
            out.append(int((1 - std) * MAX_NODE_SCORE))
        return out
