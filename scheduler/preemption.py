"""Preemption: when a pod fits nowhere, find lower-priority pods whose removal makes room
(Kubernetes' DefaultPreemption PostFilter plugin and its ``preemption.Evaluator``).

Steps, for a pod that failed every node::

    eligible?  preemptionPolicy Never, or a lower-priority victim still terminating on the node
               this pod was already nominated to ──► no preemption
    candidates each node whose rejection is resolvable (resources, ports):
               take every lower-priority pod off a copy of the node; the pod must fit then,
               else the node is no candidate ("No preemption victims found for incoming pod");
               then put the victims back one by one, most important first (priority, then
               earliest start), keeping back each one the pod still fits beside (reprieve)
    pick       fewest ... as Kubernetes orders them: lowest highest-victim priority, lowest
               sum of victim priorities, fewest victims, latest start of the highest-priority
               victims, then the first node
    result     a Candidate (node + victims) the scheduler acts on: nominates the node for the
               pod, marks and gracefully deletes the victims; or the message that explains
               why nothing could be preempted

Pure: it reads NodeInfos and changes nothing; PodDisruptionBudgets are not considered
(minik8s serves none).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from scheduler.framework import NodeCheck, NodeInfo, PodInfo, Rejection

__all__ = ["Candidate", "NOT_HELPFUL", "NO_VICTIMS", "find_candidate", "clone_node", "no_candidate_message"]

NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_ELIGIBLE_NEVER = "preemption: not eligible due to preemptionPolicy=Never."
NOT_ELIGIBLE_TERMINATING = "preemption: not eligible due to a terminating pod on the nominated node."
_INT32_OFFSET = 2**31  # Kubernetes adds MaxInt32+1 to each priority so the sum stays positive


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    node_name: str
    victims: tuple[PodInfo, ...]


def clone_node(node: NodeInfo) -> NodeInfo:
    """A NodeInfo with the same node and pods, to change without touching the cache's."""
    out = NodeInfo(node.name, node.node)
    for p in node.pods.values():
        out.add_pod(p)
    return out


def _start_time(p: PodInfo) -> str:
    status = p.pod.get("status") or {}
    return status.get("startTime") or (p.pod.get("metadata") or {}).get("creationTimestamp") or ""


def _more_important_first(pods: list[PodInfo]) -> list[PodInfo]:
    # Kubernetes' MoreImportantPod: higher priority first, then the one that started earlier.
    return sorted(pods, key=lambda p: (-p.priority, _start_time(p)))


def _fits(checks: Sequence[NodeCheck], node: NodeInfo) -> bool:
    return all(check(node) is None for check in checks)


def select_victims(pod: PodInfo, node: NodeInfo, checks: Sequence[NodeCheck]) -> list[PodInfo] | None:
    """The fewest lower-priority pods to remove from ``node`` so ``pod`` fits, or None."""
    work = clone_node(node)
    potential = [p for p in work.pods.values() if p.priority < pod.priority]
    if not potential:
        return None
    for p in potential:
        work.remove_pod(p.key)
    if not _fits(checks, work):
        return None
    victims = []
    for p in _more_important_first(potential):
        work.add_pod(p)
        if not _fits(checks, work):
            work.remove_pod(p.key)
            victims.append(p)
    return victims or None


def _pick(candidates: list[Candidate]) -> Candidate:
    """Kubernetes' pickOneNodeForPreemption (PDB violations aside: there are none here)."""
    def highest(c: Candidate) -> int:
        return max(v.priority for v in c.victims)

    best = candidates
    low = min(highest(c) for c in best)
    best = [c for c in best if highest(c) == low]
    if len(best) > 1:
        sums = {id(c): sum(v.priority + _INT32_OFFSET for v in c.victims) for c in best}
        low_sum = min(sums.values())
        best = [c for c in best if sums[id(c)] == low_sum]
    if len(best) > 1:
        fewest = min(len(c.victims) for c in best)
        best = [c for c in best if len(c.victims) == fewest]
    if len(best) > 1:
        def earliest_top(c: Candidate) -> str:
            top = highest(c)
            return min(_start_time(v) for v in c.victims if v.priority == top)
        latest = max(earliest_top(c) for c in best)
        best = [c for c in best if earliest_top(c) == latest]
    return best[0]


def no_candidate_message(num_all_nodes: int, statuses: Mapping[str, Rejection], tried: int) -> str:
    """``preemption: 0/N nodes are available: ...`` for a search that found no victims on the
    ``tried`` nodes preemption could have helped."""
    counts = {NO_VICTIMS: tried, NOT_HELPFUL: num_all_nodes - tried}
    shown = ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items() if n))
    return f"preemption: 0/{num_all_nodes} nodes are available: {shown}."


def find_candidate(
    pod: PodInfo,
    nodes: Sequence[NodeInfo],
    statuses: Mapping[str, Rejection],
    checks: Sequence[NodeCheck],
    *,
    nominated_node: str | None = None,
) -> Candidate | str:
    """The node and victims to preempt for ``pod``, or the message saying why there are none.
    ``checks``: the filters' per-node checks for this pod; ``statuses``: why each node failed."""
    if pod.preemption_policy == "Never":
        return NOT_ELIGIBLE_NEVER
    if nominated_node:
        for n in nodes:
            if n.name == nominated_node:
                if any(p.priority < pod.priority and (p.pod.get("metadata") or {}).get("deletionTimestamp")
                       for p in n.pods.values()):
                    return NOT_ELIGIBLE_TERMINATING
                break
    candidates = []
    tried = 0
    for node in nodes:
        rejection = statuses.get(node.name)
        if rejection is None or not rejection.resolvable:
            continue
        tried += 1
        victims = select_victims(pod, node, checks)
        if victims:
            candidates.append(Candidate(node.name, tuple(victims)))
    if not candidates:
        return no_candidate_message(len(nodes), statuses, tried)
    return _pick(candidates)
