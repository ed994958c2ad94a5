"""Pure functions of the ReplicaSet controller: which pods to delete, and the status to write.

Mirrors ``pkg/controller/replicaset/replica_set_utils.go`` and the pod ranking of
``pkg/controller/controller_utils.go``. Nothing here talks to the apiserver; everything takes
the typed views of :mod:`minik8s.api.typed` and returns new values, so each rule can be tested on its own.
"""

from __future__ import annotations

import datetime
import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, cast

from controllers import controller_utils as cu
from minik8s import labels, timestamps
from minik8s.api import typed

REPLICA_FAILURE = "ReplicaFailure"

_P = TypeVar("_P", bound=Mapping[str, Any])

# Kubernetes' podPhaseToOrdinal: pending pods go first, then unknown, then running.
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


# -- which pods to delete -------------------------------------------------------------------

def _max_restarts(pod: typed.Pod) -> int:
    return max((cs.get("restartCount") or 0 for cs in (pod.get("status") or {}).get("containerStatuses") or []),
               default=0)


def _deletion_cost(pod: typed.Pod) -> int:
    raw = ((cu.meta(pod).get("annotations") or {}).get(cu.POD_DELETION_COST))
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0


def _ready_time(pod: typed.Pod) -> datetime.datetime | None:
    if not cu.is_pod_ready(pod):
        return None
    return timestamps.parse((cu.pod_ready_condition(pod) or {}).get("lastTransitionTime"))


def _log_rank(t: datetime.datetime, at: datetime.datetime) -> int:
    """floor(log2(age in ns)) as Kubernetes' logarithmic scale-down: pods of similar age tie."""
    age_ns = (at - t) / datetime.timedelta(microseconds=1) * 1000
    return int(math.log2(age_ns)) if age_ns > 0 else -1


def _compare_times(a: datetime.datetime | None, b: datetime.datetime | None, ua: str, ub: str,
                   at: datetime.datetime | None) -> int | None:
    """-1 when a's pod goes first (more recent, or unset), 1 when b's, None when equal."""
    if a == b:
        return None
    if a is None or b is None:
        return -1 if a is None else 1  # an empty time sorts first
    if at is None:
        return -1 if a > b else 1
    diff = _log_rank(a, at) - _log_rank(b, at)
    if diff == 0:
        # Same logarithmic bucket: a pseudorandom but stable order.
        return -1 if ua < ub else (1 if ua > ub else 0)
    return -1 if diff < 0 else 1


def compare_for_deletion(a: typed.Pod, rank_a: int, b: typed.Pod, rank_b: int, at: datetime.datetime | None) -> int:
    """Negative when pod ``a`` should be deleted before ``b`` (Kubernetes' ActivePodsWithRanks):

    1. unassigned < assigned; 2. Pending < Unknown < Running; 3. not ready < ready;
    4. lower pod-deletion-cost first; 5. higher rank (more related pods on its node) first;
    6. more recently ready first; 7. more restarts first; 8. newer first.
    """
    na, nb = (a.get("spec") or {}).get("nodeName") or "", (b.get("spec") or {}).get("nodeName") or ""
    if na != nb and (not na or not nb):
        return -1 if not na else 1
    pa = _PHASE_ORDINAL.get((a.get("status") or {}).get("phase") or "", 0)
    pb = _PHASE_ORDINAL.get((b.get("status") or {}).get("phase") or "", 0)
    if pa != pb:
        return -1 if pa < pb else 1
    ra, rb = cu.is_pod_ready(a), cu.is_pod_ready(b)
    if ra != rb:
        return -1 if not ra else 1
    ca, cb = _deletion_cost(a), _deletion_cost(b)
    if ca != cb:
        return -1 if ca < cb else 1
    if rank_a != rank_b:
        return -1 if rank_a > rank_b else 1
    ua, ub = cu.meta(a).get("uid") or "", cu.meta(b).get("uid") or ""
    if ra and rb:
        c = _compare_times(_ready_time(a), _ready_time(b), ua, ub, at)
        if c:
            return c
    xa, xb = _max_restarts(a), _max_restarts(b)
    if xa != xb:
        return -1 if xa > xb else 1
    c = _compare_times(timestamps.parse(cu.meta(a).get("creationTimestamp")),
                       timestamps.parse(cu.meta(b).get("creationTimestamp")), ua, ub, at)
    return c or 0


def rank_by_related_pods_on_same_node(pods: Sequence[typed.Pod], related: Sequence[typed.Pod]) -> list[int]:
    """Each pod's rank: how many active related pods (of the same Deployment) share its node."""
    on_node: dict[str, int] = {}
    for p in related:
        if cu.is_pod_active(p):
            node = (p.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    return [on_node.get((p.get("spec") or {}).get("nodeName") or "", 0) for p in pods]


def pods_to_delete(pods: Sequence[_P], related: Sequence[typed.Pod], diff: int,
                   *, at: datetime.datetime | None = None) -> list[_P]:
    """The ``diff`` pods to delete first. ``at`` turns on the logarithmic time comparison
    (Kubernetes' LogarithmicScaleDown, on by default); None compares times exactly. ``pods``
    come typed or as the store's plain dicts (the Job controller's): the same Pods either way."""
    if diff >= len(pods):
        return list(pods)
    typed_pods = cast("Sequence[typed.Pod]", pods)  # Pods, typed or not: a view, no copy
    ranks = rank_by_related_pods_on_same_node(typed_pods, related)
    def compare(x: tuple[typed.Pod, int], y: tuple[typed.Pod, int]) -> int:
        return compare_for_deletion(x[0], x[1], y[0], y[1], at)

    ranked = sorted(zip(typed_pods, ranks), key=functools.cmp_to_key(compare))
    return cast("list[_P]", [p for p, _ in ranked[:diff]])  # the same objects as ``pods``


# -- status ---------------------------------------------------------------------------------

def get_condition(status: typed.ReplicaSetStatus, ctype: str) -> typed.ReplicaSetCondition | None:
    for c in status.get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def calculate_status(rs: typed.ReplicaSet, pods: Sequence[typed.Pod], manage_error: Exception | None,
                     *, at: datetime.datetime) -> typed.ReplicaSetStatus:
    """The ReplicaSet status for its claimed active ``pods`` (observedGeneration is set when
    it is written). ``manage_error`` sets or clears the ReplicaFailure condition."""
    spec = rs.get("spec") or {}
    old = rs.get("status") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    template_selector = labels.from_set(template_labels)
    min_ready = spec.get("minReadySeconds") or 0
    fully_labeled = ready = available = 0
    for pod in pods:
        if template_selector.matches(cu.meta(pod).get("labels")):
            fully_labeled += 1
        if cu.is_pod_ready(pod):
            ready += 1
            if cu.is_pod_available(pod, min_ready, at):
                available += 1
    status: typed.ReplicaSetStatus = {
        "replicas": len(pods),
        "fullyLabeledReplicas": fully_labeled,
        "readyReplicas": ready,
        "availableReplicas": available,
    }
    if "observedGeneration" in old:
        status["observedGeneration"] = old["observedGeneration"]
    conditions: list[typed.ReplicaSetCondition] = [c.copy() for c in old.get("conditions") or []]
    failure = get_condition(old, REPLICA_FAILURE)
    if manage_error is not None and failure is None:
        wanted: int = spec["replicas"] if spec.get("replicas") is not None else 1
        diff = len(pods) - wanted
        reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
        conditions.append({"type": REPLICA_FAILURE, "status": "True",
                           "lastTransitionTime": timestamps.format_time(at), "reason": reason,
                           "message": error_message(manage_error)})
    elif manage_error is None and failure is not None:
        conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    if conditions:
        status["conditions"] = conditions
    return status


def error_message(e: Exception) -> str:
    """An error as Go's ``err.Error()`` prints it: the apiserver's message without our prefix."""
    return getattr(e, "message", None) or str(e)


_STATUS_FIELDS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")


def status_unchanged(rs: typed.ReplicaSet, new_status: typed.ReplicaSetStatus) -> bool:
    """True when writing ``new_status`` would change nothing (Kubernetes compares these)."""
    old = rs.get("status") or {}
    for f in _STATUS_FIELDS:
        if (old.get(f) or 0) != (new_status.get(f) or 0):
            return False
    generation = cu.meta(rs).get("generation") or 0
    if (old.get("observedGeneration") or 0) != generation:
        return False
    return (old.get("conditions") or []) == (new_status.get("conditions") or [])
