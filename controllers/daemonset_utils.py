"""Pure functions of the DaemonSet controller, as Kubernetes' ``pkg/controller/daemon``
(``daemon_controller.go``, ``update.go``, ``util``): which nodes should run a daemon pod, the
tolerations Kubernetes adds to daemon pods, the pod made for one node (pinned by node
affinity on ``metadata.name``), the template hash and ControllerRevision data, the rolling
update budget, and the status.

Nothing here talks to the apiserver; everything takes plain Kubernetes JSON dicts.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from controllers import controller_utils as cu
from controllers.nodelifecycle_utils import tolerates
from minik8s import nodeselector
from minik8s.api import typed
from minik8s.api.typed import Taint, Toleration

HASH_LABEL = "controller-revision-hash"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"

# What Kubernetes adds to every daemon pod (util.AddOrUpdateDaemonPodTolerations): a daemon
# stays on a node that is not ready or unreachable, and is placed despite pressure and cordons.
DAEMON_TOLERATIONS: tuple[dict[str, str], ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
NETWORK_UNAVAILABLE_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                                  "effect": "NoSchedule"}


def daemon_tolerations(pod_spec: Mapping[str, Any]) -> list[Toleration]:
    """The template's tolerations plus the daemon ones it does not already carry."""
    tols: list[Any] = [dict(t) for t in pod_spec.get("tolerations") or []]  # JSON: typed by the return
    extra = list(DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        extra.append(NETWORK_UNAVAILABLE_TOLERATION)
    for t in extra:
        if not any(x.get("key") == t["key"] and x.get("effect") == t["effect"] for x in tols):
            tols.append(dict(t))
    return tols


# -- which nodes ------------------------------------------------------------------------------

def node_should_run(node: Mapping[str, Any], template: Mapping[str, Any]) -> tuple[bool, bool]:
    """(should run, should continue running) a daemon pod of ``template`` on ``node``
    (NodeShouldRunDaemonPod): nodeSelector and required node affinity must match; an
    untolerated NoSchedule taint stops new pods, an untolerated NoExecute taint also evicts."""
    spec = template.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    for k, val in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != val:
            return False, False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is not None and not nodeselector.selector_matcher(required)(nodeselector.NodeView.of(node)):
        return False, False
    tols = daemon_tolerations(spec)
    taints: list[Taint] = list((node.get("spec") or {}).get("taints") or [])
    should_run = should_continue = True
    for taint in taints:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if any(tolerates(t, taint) for t in tols):
            continue
        should_run = False
        if taint.get("effect") == "NoExecute":
            should_continue = False
    return should_run, should_continue


def target_node(pod: Mapping[str, Any]) -> str | None:
    """The node a daemon pod is for: its nodeName, else the metadata.name its affinity pins."""
    spec = typed.pod(pod).get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(f.get("values") or []) == 1:
                return f["values"][0]
    return None


def pin_to_node(pod_spec: dict[str, Any], node_name: str) -> None:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: every required term also asks for this node."""
    field = {"key": "metadata.name", "operator": "In", "values": [node_name]}
    na = pod_spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    req = na.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = [dict(t) for t in req.get("nodeSelectorTerms") or []]
    if not terms:
        terms = [{}]
    for t in terms:
        t["matchFields"] = [field]
    na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": terms}


# -- revisions --------------------------------------------------------------------------------

_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def compute_hash(template: Mapping[str, Any], collision_count: int | None) -> str:
    """A short, stable name for a pod template (as controller.ComputeHash: FNV-32a, then the
    digits spelled in Kubernetes' safe alphabet)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[int(c) % len(_SAFE)] for c in str(h))


def revision_data(ds: Mapping[str, Any]) -> dict[str, Any]:
    """What a DaemonSet's ControllerRevision holds: a strategic merge patch replacing the
    template (kubectl rollout undo applies it as is)."""
    tpl = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    tpl["$patch"] = "replace"
    return {"spec": {"template": tpl}}


def pod_for_node(ds: Mapping[str, Any], node_name: str, hash_: str) -> dict[str, Any]:
    pod = cu.pod_from_template((ds.get("spec") or {}).get("template") or {}, ds)
    md = pod["metadata"]
    md["labels"] = {**(md.get("labels") or {}), HASH_LABEL: hash_,
                    TEMPLATE_GENERATION_LABEL: str((ds.get("metadata") or {}).get("generation") or 1)}
    spec = pod["spec"]
    spec["tolerations"] = daemon_tolerations(spec)
    pin_to_node(spec, node_name)
    return pod


def is_updated(pod: Mapping[str, Any], hash_: str) -> bool:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL) == hash_


# -- rolling update -----------------------------------------------------------------------------

def scaled(value: Any, total: int, *, round_up: bool = True) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            pct = int(value[:-1])
        except ValueError:
            return 0
        x = pct * total / 100
        return math.ceil(x) if round_up else math.floor(x)
    return 0


def surge_and_unavailable(ds: Mapping[str, Any], desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) for ``desired`` nodes; both zero becomes 0 and 1."""
    ru = (((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate")) or {}
    surge = scaled(ru.get("maxSurge", 0), desired)
    unavailable = scaled(ru.get("maxUnavailable", 1), desired)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


_Obj = TypeVar("_Obj", bound=Mapping[str, Any])


def oldest_first(pods: Iterable[_Obj]) -> list[_Obj]:
    return sorted(pods, key=lambda p: ((p.get("metadata") or {}).get("creationTimestamp") or "",
                                       (p.get("metadata") or {}).get("name") or ""))


# -- status -------------------------------------------------------------------------------------

def calculate_status(ds: Mapping[str, Any], nodes: Sequence[typed.Node], node_pods: Mapping[str, Sequence[typed.Pod]],
                     hash_: str, at: datetime.datetime) -> typed.DaemonSetStatus:
    min_ready = (ds.get("spec") or {}).get("minReadySeconds") or 0
    desired = current = misscheduled = ready = available = updated = 0
    for node in nodes:
        name = (node.get("metadata") or {}).get("name") or ""
        should_run, _ = node_should_run(node, (ds.get("spec") or {}).get("template") or {})
        pods = node_pods.get(name) or []
        if not should_run:
            if pods:
                misscheduled += 1
            continue
        desired += 1
        if not pods:
            continue
        current += 1
        pod = oldest_first(pods)[0]
        if cu.is_pod_ready(pod):
            ready += 1
            if cu.is_pod_available(pod, min_ready, at):
                available += 1
        if is_updated(pod, hash_):
            updated += 1
    return {"currentNumberScheduled": current, "numberMisscheduled": misscheduled,
            "desiredNumberScheduled": desired, "numberReady": ready, "updatedNumberScheduled": updated,
            "numberAvailable": available, "numberUnavailable": desired - available}
