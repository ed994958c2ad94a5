"""NodeAffinity: ``nodeSelector`` and required node-affinity terms filter; preferred terms score.

Matching follows Kubernetes' node selector rules (:mod:`minik8s.nodeselector`).

The score adds the weights of the preferred terms a node matches, then scales so the best node
gets 100.
"""

from __future__ import annotations

from collections.abc import Sequence

from minik8s.nodeselector import Matcher, compile_term
from scheduler.framework import CycleState, NodeCheck, NodeInfo, PodInfo, Rejection, default_normalize

__all__ = ["NAME", "REJECTION", "NodeAffinity", "compile_term", "required_matcher"]

NAME = "NodeAffinity"
REJECTION = Rejection(("node(s) didn't match Pod's node affinity/selector",), plugin=NAME)


def required_matcher(pod: PodInfo) -> Matcher | None:
    """nodeSelector AND required terms as one predicate; None when the pod has neither."""
    checks: list[Matcher] = []
    if len(pod.node_selector) == 1:
        ((key, value),) = pod.node_selector.items()
        checks.append(lambda node: node.labels.get(key) == value)
    elif pod.node_selector:
        wanted = tuple(pod.node_selector.items())
        checks.append(lambda node: all(node.labels.get(k) == v for k, v in wanted))
    required = (pod.node_affinity or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:
        terms = [compile_term(t) for t in required.get("nodeSelectorTerms") or ()]
        checks.append(lambda node: any(t(node) for t in terms))
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda node: all(c(node) for c in checks)


class NodeAffinity:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo) -> NodeCheck | None:
        matches = required_matcher(pod)
        if matches is None:
            return None

        def check(node: NodeInfo) -> Rejection | None:
            return None if matches(node) else REJECTION

        return check

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int] | None:
        preferred = (pod.node_affinity or {}).get("preferredDuringSchedulingIgnoredDuringExecution") or ()
        terms = [(int(p.get("weight") or 0), compile_term(p.get("preference"))) for p in preferred]
        terms = [(w, m) for w, m in terms if w]
        if not terms:
            return None
        raw = [sum(w for w, m in terms if m(node)) for node in nodes]
        return default_normalize(raw)
