"""Pure functions of the node lifecycle controller: node conditions, the taints they imply, and
which pods tolerate which taints for how long.

As Kubernetes' ``pkg/controller/nodelifecycle`` (conditions, ``doNoScheduleTaintingPass`` /
``doNoExecuteTaintingPass``), ``pkg/controller/tainteviction`` (toleration times) and the
DefaultTolerationSeconds admission plugin (pods that say nothing about the not-ready and
unreachable taints tolerate them for a cluster-wide default). Nothing here does I/O.
"""

from __future__ import annotations

import datetime

from minik8s import timestamps
from minik8s.api.typed import Node, NodeCondition, Pod, Taint, Toleration

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_EXECUTE, NO_SCHEDULE = "NoExecute", "NoSchedule"

# The conditions the kubelet posts, which go Unknown when it stops posting.
NODE_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")

# Kubernetes' nodeConditionToTaintKeyStatusMap: (condition, status) → NoSchedule taint key.
NO_SCHEDULE_TAINTS: dict[tuple[str, str], str] = {
    ("Ready", "False"): TAINT_NOT_READY,
    ("Ready", "Unknown"): TAINT_UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}
_MANAGED_NO_SCHEDULE = frozenset(NO_SCHEDULE_TAINTS.values()) | {TAINT_UNSCHEDULABLE}
_MANAGED_NO_EXECUTE = frozenset({TAINT_NOT_READY, TAINT_UNREACHABLE})


def condition(node: Node, ctype: str) -> NodeCondition | None:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return c
    return None


def ready_status(node: Node) -> str | None:
    """"True", "False", "Unknown", or None when the kubelet never posted Ready."""
    c = condition(node, "Ready")
    return c.get("status") if c else None


def unknown_conditions(node: Node, *, at: str) -> list[NodeCondition]:
    """The conditions to write when the kubelet stopped posting: every kubelet condition not
    already Unknown becomes Unknown (heartbeat kept, transition now), as Kubernetes words it."""
    out: list[NodeCondition] = []
    for ctype in NODE_CONDITIONS:
        cur = condition(node, ctype)
        if cur is None:
            out.append({"type": ctype, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                        "message": "Kubelet never posted node status.", "lastHeartbeatTime": at,
                        "lastTransitionTime": at})
        elif cur.get("status") != "Unknown":
            out.append({**cur, "status": "Unknown", "reason": "NodeStatusUnknown",
                        "message": "Kubelet stopped posting node status.", "lastTransitionTime": at})
    return out


def desired_taints(node: Node, *, at: str) -> list[Taint] | None:
    """The node's taints with the controller-managed ones made to match its conditions, or None
    when nothing changes. Taints someone else put there are kept; a managed taint that stays
    keeps its timeAdded (eviction deadlines count from it)."""
    spec = node.get("spec") or {}
    want: set[tuple[str, str]] = set()
    for (ctype, status), key in NO_SCHEDULE_TAINTS.items():
        c = condition(node, ctype)
        if c is not None and c.get("status") == status:
            want.add((key, NO_SCHEDULE))
    if spec.get("unschedulable"):
        want.add((TAINT_UNSCHEDULABLE, NO_SCHEDULE))
    ready = ready_status(node)
    if ready == "False":
        want.add((TAINT_NOT_READY, NO_EXECUTE))
    elif ready == "Unknown":
        want.add((TAINT_UNREACHABLE, NO_EXECUTE))

    current = spec.get("taints") or []
    out: list[Taint] = []
    have: set[tuple[str | None, str | None]] = set()
    for t in current:
        ident = (t.get("key"), t.get("effect"))
        managed = (ident[1] == NO_SCHEDULE and ident[0] in _MANAGED_NO_SCHEDULE) or \
                  (ident[1] == NO_EXECUTE and ident[0] in _MANAGED_NO_EXECUTE)
        if managed and ident not in want:
            continue
        have.add(ident)
        out.append(t)
    for key, effect in sorted(want - have):
        taint: Taint = {"key": key, "effect": effect}
        if effect == NO_EXECUTE:
            taint["timeAdded"] = at
        out.append(taint)
    return None if out == current else out


# -- tolerations ------------------------------------------------------------------------------

def tolerates(toleration: Toleration, taint: Taint) -> bool:
    """Kubernetes' Toleration.ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if key and key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    if not key:
        return False  # an empty key only goes with Exists
    return (toleration.get("value") or "") == (taint.get("value") or "")


def effective_tolerations(pod: Pod, *, not_ready_seconds: int, unreachable_seconds: int) -> list[Toleration]:
    """The pod's tolerations plus what DefaultTolerationSeconds admission would have added:
    not-ready and unreachable NoExecute for the default time, unless the pod speaks of them."""
    tols = list((pod.get("spec") or {}).get("tolerations") or [])
    extra: list[Toleration] = []
    for key, seconds in ((TAINT_NOT_READY, not_ready_seconds), (TAINT_UNREACHABLE, unreachable_seconds)):
        covered = any((t.get("key") in (key, None, "")) and (t.get("effect") in (NO_EXECUTE, None, ""))
                      for t in tols)
        if not covered:
            extra.append({"key": key, "operator": "Exists", "effect": NO_EXECUTE, "tolerationSeconds": seconds})
    return tols + extra


def toleration_seconds(tolerations: list[Toleration], taints: list[Taint]) -> float | None:
    """How long a pod may stay on a node with these NoExecute taints: 0 if one is not tolerated,
    None if all are tolerated forever, else the shortest tolerationSeconds of those used."""
    shortest: float | None = None
    for taint in taints:
        used = [t for t in tolerations if tolerates(t, taint)]
        if not used:
            return 0.0
        for t in used:
            seconds = t.get("tolerationSeconds")
            if seconds is None:
                continue
            limit = max(0.0, float(seconds))
            shortest = limit if shortest is None else min(shortest, limit)
    return shortest


def eviction_deadline(taints: list[Taint], seconds: float, *, first_seen: datetime.datetime) -> datetime.datetime:
    """When a pod tolerating ``taints`` for ``seconds`` must go: counted from the latest
    taint's timeAdded (the taint that started the clock last), else from when it was first seen."""
    added = [t for t in (timestamps.parse(x.get("timeAdded")) for x in taints) if t is not None]
    start = max(added) if added else first_seen
    return start + datetime.timedelta(seconds=seconds)
