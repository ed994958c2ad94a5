"""The scheduling framework's vocabulary: what a plugin sees and what it answers.

Picture (one scheduling cycle, :mod:`scheduler.algorithm`)::

    PodInfo ──► every FilterPlugin.pre_filter ──► per-node checks (None = skip this plugin)
                  each node in turn: first failing check ─► Rejection (its reasons)
                feasible nodes ──► every ScorePlugin.score ──► 0..100 per node, × weight, summed

* :class:`PodInfo` is a pod parsed once (requests, tolerations, ports, affinity, owner), so no
  plugin re-reads the pod's JSON per node. Kubernetes' ``framework.PodInfo``.
* :class:`NodeInfo` is a node plus running totals of the pods on it (assumed ones included):
  requested and non-zero requested resources, host ports in use, pods per owner. Adding or
  removing a pod updates the totals in O(pod), never by recounting. Kubernetes' ``NodeInfo``.
* A filter plugin's ``pre_filter`` runs once per cycle and returns the check to run on each
  node — a closure over what it derived from the pod — or ``None`` when the pod gives it
  nothing to check (Kubernetes' PreFilter ``Skip``), or a :class:`Rejection` when no node
  can take the pod at all (PreFilter ``Unschedulable``: a claim that does not exist). A check returns ``None`` when the node
  passes, else a :class:`Rejection` carrying Kubernetes' reason strings.
* A score plugin scores all feasible nodes in one call and returns them already normalised to
  0..:data:`MAX_NODE_SCORE` (Kubernetes' Score + NormalizeScore), or ``None`` to skip.
  One call per plugin per cycle instead of one per node keeps the Python overhead down.
* :class:`CycleState` is per-cycle scratch space plugins share between their phases.

Pods and nodes are Kubernetes JSON dicts (camelCase), as the REST client delivers them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from minik8s.api import typed
from scheduler import resources
from scheduler.resources import PodRequests

__all__ = [
    "MAX_NODE_SCORE",
    "NO_SCHEDULE",
    "NO_EXECUTE",
    "PREFER_NO_SCHEDULE",
    "TAINT_NODE_NOT_READY",
    "TAINT_NODE_UNREACHABLE",
    "TAINT_NODE_UNSCHEDULABLE",
    "Rejection",
    "Taint",
    "Toleration",
    "tolerations_tolerate",
    "untolerated_taint_rejection",
    "PodInfo",
    "NodeInfo",
    "pod_key",
    "CycleState",
    "NodeCheck",
    "FilterPlugin",
    "ScorePlugin",
    "default_normalize",
]

MAX_NODE_SCORE = 100

NO_SCHEDULE = "NoSchedule"
NO_EXECUTE = "NoExecute"
PREFER_NO_SCHEDULE = "PreferNoSchedule"

TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"

_BIND_ALL = "0.0.0.0"


@dataclasses.dataclass(frozen=True, slots=True)
class Rejection:
    """Why one node cannot take the pod.

    ``resolvable`` is Kubernetes' ``Unschedulable`` (removing pods from the node could make room,
    so preemption is worth a try) as opposed to ``UnschedulableAndUnresolvable``. ``plugin``
    names the plugin that said no, so a queue can tell which cluster events might change the
    answer.
    """

    reasons: tuple[str, ...]
    resolvable: bool = False
    plugin: str = ""


# ---------------------------------------------------------------------------------------------
# Taints and tolerations


@dataclasses.dataclass(frozen=True, slots=True)
class Taint:
    key: str
    value: str
    effect: str

    @classmethod
    def from_dict(cls, d: typed.Taint) -> Taint:
        return cls(d.get("key") or "", d.get("value") or "", d.get("effect") or "")


@functools.lru_cache(maxsize=4096)
def untolerated_taint_rejection(taint: Taint, plugin: str) -> Rejection:
    """The rejection for an untolerated taint, built once per distinct taint."""
    return Rejection((f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}",), plugin=plugin)


@dataclasses.dataclass(frozen=True, slots=True)
class Toleration:
    key: str
    operator: str  # "Exists" or "Equal" ("" means Equal)
    value: str
    effect: str  # "" matches every effect

    @classmethod
    def from_dict(cls, d: typed.Toleration) -> Toleration:
        return cls(d.get("key") or "", d.get("operator") or "Equal", d.get("value") or "", d.get("effect") or "")

    def tolerates(self, taint: Taint) -> bool:
        """Kubernetes' ``Toleration.ToleratesTaint``."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        # An empty key with Exists tolerates every taint (validation forbids empty key + Equal).
        if self.operator == "Exists":
            return True
        return self.operator == "Equal" and self.value == taint.value


def tolerations_tolerate(tolerations: Sequence[Toleration], taint: Taint) -> bool:
    for t in tolerations:
        if t.tolerates(taint):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# Pods


def pod_key(pod: typed.Pod) -> str:
    """The cache key of a pod: its uid, as Kubernetes' scheduler cache uses; namespace/name
    for a pod not yet given one (tests, dry runs)."""
    md = pod.get("metadata") or {}
    uid = md.get("uid")
    if uid:
        return uid
    return f"{md.get('namespace') or 'default'}/{md.get('name') or ''}"


def _host_ports(spec: typed.PodSpec) -> tuple[tuple[str, str, int], ...]:
    """(hostIP, protocol, hostPort) of every port bound on the node, sanitised as Kubernetes'
    HostPortInfo does (no IP = every IP, no protocol = TCP). Sidecars bind ports too."""
    containers = list(spec.get("containers") or ())
    containers += [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    out = []
    for c in containers:
        for p in c.get("ports") or ():
            port = p.get("hostPort") or 0
            if port > 0:
                out.append((p.get("hostIP") or _BIND_ALL, p.get("protocol") or "TCP", int(port)))
    return tuple(out)


def _spread_key(md: typed.ObjectMeta) -> str | None:
    # Pods of one controller (ReplicaSet, StatefulSet...) are spread apart; a terminating pod is
    # already on its way out and does not count (as in Kubernetes' SelectorSpread).
    if md.get("deletionTimestamp"):
        return None
    for ref in md.get("ownerReferences") or ():
        if ref.get("controller"):
            return ref.get("uid") or f"{ref.get('kind')}/{md.get('namespace')}/{ref.get('name')}"
    return None


class PodInfo:
    """A pod parsed once for the scheduler. ``pod`` is the JSON dict it was built from."""

    __slots__ = (
        "pod", "key", "namespace", "name", "node_name", "requests", "tolerations",
        "node_selector", "node_affinity", "host_ports", "spread_key", "preemption_policy", "priority",
    )

    def __init__(self, pod: typed.Pod) -> None:
        md = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod: typed.Pod = pod
        self.key = pod_key(pod)
        self.namespace: str = md.get("namespace") or "default"
        self.name: str = md.get("name") or ""
        self.node_name: str = spec.get("nodeName") or ""
        self.requests: PodRequests = resources.pod_requests(spec)
        self.tolerations: tuple[Toleration, ...] = tuple(
            Toleration.from_dict(t) for t in spec.get("tolerations") or ()
        )
        self.node_selector: dict[str, str] = dict(spec.get("nodeSelector") or {})
        self.node_affinity: typed.NodeAffinity | None = (spec.get("affinity") or {}).get("nodeAffinity") or None
        self.host_ports = _host_ports(spec)
        self.spread_key = _spread_key(md)
        self.preemption_policy: str = spec.get("preemptionPolicy") or "PreemptLowerPriority"
        self.priority: int = int(spec.get("priority") or 0)

    def __repr__(self) -> str:
        return f"PodInfo({self.namespace}/{self.name})"


# ---------------------------------------------------------------------------------------------
# Nodes


def _ready_taint(node: typed.Node) -> Taint | None:
    """The taint Kubernetes' node lifecycle controller puts on a node whose Ready condition is
    False (not-ready) or Unknown (unreachable). Applied here too, so a node that just went bad is
    avoided even before that controller has written the taint."""
    for cond in (node.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            status = cond.get("status")
            if status == "False":
                return Taint(TAINT_NODE_NOT_READY, "", NO_SCHEDULE)
            if status == "Unknown":
                return Taint(TAINT_NODE_UNREACHABLE, "", NO_SCHEDULE)
            return None
    return None


_REGION_LABELS = ("topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/region")
_ZONE_LABELS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone")


def _first_label(labels: Mapping[str, str], keys: tuple[str, ...]) -> str:
    for k in keys:
        v = labels.get(k)
        if v:
            return v
    return ""


def _zone_key(labels: Mapping[str, str]) -> str:
    """Region and zone of a node as one key ("" when it has neither), as Kubernetes' GetZoneKey."""
    region = _first_label(labels, _REGION_LABELS)
    zone = _first_label(labels, _ZONE_LABELS)
    if not region and not zone:
        return ""
    return f"{region}:\x00:{zone}"


class NodeInfo:
    """A node and the pods placed on it, with running totals.

    ``node`` is None while pods are known for a node the cache has not seen (or no longer
    has); such a NodeInfo is kept for its totals but offered to no pod.
    """

    __slots__ = (
        "name", "node", "labels", "taints", "hard_taints", "soft_taints", "unschedulable",
        "ready_taint", "zone", "alloc_cpu", "alloc_mem", "alloc_eph", "alloc_pods", "alloc_scalars",
        "req_cpu", "req_mem", "req_eph", "req_scalars", "nz_cpu", "nz_mem",
        "pods", "used_ports", "spread_counts", "generation",
    )

    def __init__(self, name: str, node: typed.Node | None = None) -> None:
        self.name = name
        self.req_cpu = self.req_mem = self.req_eph = 0
        self.req_scalars: dict[str, int] = {}
        self.nz_cpu = self.nz_mem = 0
        self.pods: dict[str, PodInfo] = {}
        # (protocol, port) -> {hostIP: number of pods binding it}
        self.used_ports: dict[tuple[str, int], dict[str, int]] = {}
        # controller uid -> number of its (non-terminating) pods here
        self.spread_counts: dict[str, int] = {}
        self.generation = 0
        self.set_node(node)

    def set_node(self, node: typed.Node | None) -> None:
        self.node: typed.Node | None = node
        self.generation += 1
        if node is None:
            self.labels: dict[str, str] = {}
            self.taints: tuple[Taint, ...] = ()
            self.hard_taints: tuple[Taint, ...] = ()
            self.soft_taints: tuple[Taint, ...] = ()
            self.unschedulable = False
            self.ready_taint: Taint | None = None
            self.zone = ""
            self.alloc_cpu = self.alloc_mem = self.alloc_eph = self.alloc_pods = 0
            self.alloc_scalars: dict[str, int] = {}
            return
        md = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.labels = dict(md.get("labels") or {})
        self.taints = tuple(Taint.from_dict(t) for t in spec.get("taints") or ())
        self.hard_taints = tuple(t for t in self.taints if t.effect in (NO_SCHEDULE, NO_EXECUTE))
        self.soft_taints = tuple(t for t in self.taints if t.effect == PREFER_NO_SCHEDULE)
        self.unschedulable = bool(spec.get("unschedulable"))
        self.ready_taint = _ready_taint(node)
        self.zone = _zone_key(self.labels)
        alloc = resources.parse_resource_list(status.get("allocatable") or status.get("capacity"))
        self.alloc_cpu = alloc.pop(resources.CPU, 0)
        self.alloc_mem = alloc.pop(resources.MEMORY, 0)
        self.alloc_eph = alloc.pop(resources.EPHEMERAL_STORAGE, 0)
        self.alloc_pods = alloc.pop(resources.PODS, 0)
        self.alloc_scalars = alloc

    @property
    def pod_count(self) -> int:
        return len(self.pods)

    def add_pod(self, pod: PodInfo) -> None:
        if pod.key in self.pods:
            self.remove_pod(pod.key)
        self.pods[pod.key] = pod
        self._account(pod, 1)

    def remove_pod(self, key: str) -> PodInfo | None:
        pod = self.pods.pop(key, None)
        if pod is not None:
            self._account(pod, -1)
        return pod

    def _account(self, pod: PodInfo, sign: int) -> None:
        r = pod.requests
        self.req_cpu += sign * r.milli_cpu
        self.req_mem += sign * r.memory
        self.req_eph += sign * r.ephemeral_storage
        self.nz_cpu += sign * r.non_zero_milli_cpu
        self.nz_mem += sign * r.non_zero_memory
        for name, value in r.scalars.items():
            left = self.req_scalars.get(name, 0) + sign * value
            if left:
                self.req_scalars[name] = left
            else:
                self.req_scalars.pop(name, None)
        for ip, proto, port in pod.host_ports:
            ips = self.used_ports.setdefault((proto, port), {})
            n = ips.get(ip, 0) + sign
            if n > 0:
                ips[ip] = n
            else:
                ips.pop(ip, None)
                if not ips:
                    del self.used_ports[(proto, port)]
        if pod.spread_key is not None:
            n = self.spread_counts.get(pod.spread_key, 0) + sign
            if n > 0:
                self.spread_counts[pod.spread_key] = n
            else:
                self.spread_counts.pop(pod.spread_key, None)
        self.generation += 1

    def port_conflict(self, ip: str, proto: str, port: int) -> bool:
        """Kubernetes' HostPortInfo.CheckConflict: 0.0.0.0 clashes with every IP."""
        ips = self.used_ports.get((proto, port))
        if not ips:
            return False
        if ip == _BIND_ALL:
            return True
        return _BIND_ALL in ips or ip in ips

    def __repr__(self) -> str:
        return f"NodeInfo({self.name}, pods={len(self.pods)}, cpu={self.req_cpu}/{self.alloc_cpu}m)"


# ---------------------------------------------------------------------------------------------
# Plugins


class CycleState(dict[str, Any]):
    """Scratch space for one scheduling cycle, keyed by plugin name: what a plugin derives from
    the pod in one phase (pre-filter) and reads again in another (score)."""


NodeCheck = Callable[[NodeInfo], Rejection | None]


class FilterPlugin(Protocol):
    name: str

    def pre_filter(self, state: CycleState, pod: PodInfo) -> NodeCheck | Rejection | None:
        """The check to run on each node for ``pod``; None when there is nothing to check; a
        Rejection when the pod fits no node whatever the node (Kubernetes' PreFilter saying
        Unschedulable: its reason is the whole message, with no per-node count)."""
        ...


class ScorePlugin(Protocol):
    name: str

    def score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> list[int] | None:
        """One score in 0..MAX_NODE_SCORE per node, in order; None to abstain for this pod."""
        ...


def default_normalize(scores: list[int], *, reverse: bool = False) -> list[int]:
    """Kubernetes' DefaultNormalizeScore: scale so the highest raw score becomes 100 (or, with
    ``reverse``, the lowest raw score becomes 100)."""
    top = max(scores, default=0)
    if top == 0:
        return [MAX_NODE_SCORE] * len(scores) if reverse else scores
    if reverse:
        return [MAX_NODE_SCORE - MAX_NODE_SCORE * s // top for s in scores]
    return [MAX_NODE_SCORE * s // top for s in scores]
