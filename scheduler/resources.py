"""What a pod asks of a node: its resource requests, computed once per pod as Kubernetes does.

The scheduler's cache adds these to a node's running totals when a pod lands there, and the
NodeResourcesFit / BalancedAllocation plugins compare them with a node's allocatable. Rules
(Kubernetes' ``resourcehelper.PodRequests``):

* regular containers run together, so their requests are summed;
* init containers run one after another, so the pod needs at least the largest of them — with
  sidecars (init containers with ``restartPolicy: Always``) added to everything started after
  them, as they keep running;
* the pod then requests ``max(sum of containers + sidecars, max over init containers)`` per
  resource, plus ``spec.overhead``.

A second set, the *non-zero* requests, replaces a container's missing cpu/memory request with
100m / 200Mi. Scoring uses it so that pods without requests do not all pile onto one node;
filtering never does.

CPU is counted in millicores, every other resource in its integer value (bytes for memory).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping
from typing import Any

from minik8s import quantity
from minik8s.api import typed

__all__ = [
    "CPU",
    "MEMORY",
    "EPHEMERAL_STORAGE",
    "PODS",
    "DEFAULT_MILLI_CPU_REQUEST",
    "DEFAULT_MEMORY_REQUEST",
    "PodRequests",
    "pod_requests",
    "parse_resource_list",
]

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"

# Kubernetes' schedutil.DefaultMilliCPURequest / DefaultMemoryRequest (scoring only).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

_NATIVE = frozenset((CPU, MEMORY, EPHEMERAL_STORAGE, PODS))


@dataclasses.dataclass(frozen=True, slots=True)
class PodRequests:
    """A pod's effective requests. ``scalars`` holds extended resources (``nvidia.com/gpu``,
    ``hugepages-2Mi``...) by name; native resources are fields."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    scalars: Mapping[str, int] = dataclasses.field(default_factory=dict)
    non_zero_milli_cpu: int = 0
    non_zero_memory: int = 0

    @property
    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or self.scalars)


@functools.lru_cache(maxsize=1024)
def _value(name: str, raw: Any) -> int:
    # Memoised: a cluster uses few distinct quantities ("100m", "64Mi"), and every pod event
    # re-parses its requests (pending, then bound, then each status change).
    if name == CPU:
        return quantity.parse_cpu_millis(str(raw))
    return quantity.parse_bytes(str(raw))


def parse_resource_list(resources: Mapping[str, Any] | None) -> dict[str, int]:
    """``{"cpu": "500m", "memory": "1Gi"}`` -> ``{"cpu": 500, "memory": 1073741824}``."""
    if not resources:
        return {}
    return {name: _value(name, raw) for name, raw in resources.items()}


def _container_requests(container: typed.Container) -> dict[str, int]:
    res = container.get("resources") or {}
    requests = parse_resource_list(res.get("requests"))
    # The apiserver defaults a missing request to the limit; do the same here so a pod stored
    # without that defaulting is still counted as Kubernetes would count it.
    for name, value in parse_resource_list(res.get("limits")).items():
        requests.setdefault(name, value)
    return requests


def _with_defaults(requests: dict[str, int]) -> dict[str, int]:
    # Only a *missing* request gets the default: an explicit 0 stays 0, as in Kubernetes.
    if CPU in requests and MEMORY in requests:
        return requests
    out = dict(requests)
    out.setdefault(CPU, DEFAULT_MILLI_CPU_REQUEST)
    out.setdefault(MEMORY, DEFAULT_MEMORY_REQUEST)
    return out


def _add_into(total: dict[str, int], more: Mapping[str, int]) -> None:
    for name, value in more.items():
        total[name] = total.get(name, 0) + value


def _max_into(total: dict[str, int], more: Mapping[str, int]) -> None:
    for name, value in more.items():
        if value > total.get(name, 0):
            total[name] = value


def _combine(containers: Iterable[dict[str, int]], init: Iterable[tuple[bool, dict[str, int]]],
             overhead: Mapping[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for req in containers:
        _add_into(total, req)
    sidecars: dict[str, int] = {}
    init_max: dict[str, int] = {}
    for restartable, req in init:
        if restartable:
            # A sidecar keeps running beside everything started after it.
            _add_into(total, req)
            _add_into(sidecars, req)
            _max_into(init_max, sidecars)
        else:
            step = dict(sidecars)
            _add_into(step, req)
            _max_into(init_max, step)
    _max_into(total, init_max)
    _add_into(total, overhead)
    return total


def pod_requests(spec: typed.PodSpec) -> PodRequests:
    """The effective requests of a pod ``spec`` (a Kubernetes JSON dict)."""
    containers = [_container_requests(c) for c in spec.get("containers") or ()]
    init = [
        (c.get("restartPolicy") == "Always", _container_requests(c))
        for c in spec.get("initContainers") or ()
    ]
    overhead = parse_resource_list(spec.get("overhead"))

    actual = _combine(containers, init, overhead)
    non_zero = _combine(
        (_with_defaults(r) for r in containers),
        ((restartable, _with_defaults(r)) for restartable, r in init),
        overhead,
    )
    scalars = {name: v for name, v in actual.items() if name not in _NATIVE and v}
    return PodRequests(
        milli_cpu=actual.get(CPU, 0),
        memory=actual.get(MEMORY, 0),
        ephemeral_storage=actual.get(EPHEMERAL_STORAGE, 0),
        scalars=scalars,
        non_zero_milli_cpu=non_zero.get(CPU, 0),
        non_zero_memory=non_zero.get(MEMORY, 0),
    )
