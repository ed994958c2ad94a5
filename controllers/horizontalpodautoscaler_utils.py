"""The HorizontalPodAutoscaler's arithmetic, pure functions as Kubernetes'
``pkg/controller/podautoscaler/replica_calculator.go`` and the behavior normalization of
``horizontal.go``:

* :func:`group_pods` — ready pods with metrics, unready ones (CPU only: not Ready, or
  still starting within the CPU initialization period), pods missing metrics, and ignored
  ones (deleted, failed); Pending pods count as unready;
* :func:`resource_replicas` / :func:`raw_resource_replicas` — the replica count a resource
  metric asks for (Utilization of requests, or AverageValue), with the tolerance (0.1):
  missing pods count as at the target when scaling down and as using nothing when scaling
  up; unready pods as using nothing, only when scaling up; a recount that would flip the
  direction or cross the tolerance keeps the current count;
* :func:`stabilize` and :func:`limit_by_behavior` — stabilization windows and scaling
  policies (Pods/Percent over periods, selectPolicy Max/Min/Disabled), with the reasons
  the ScalingLimited and AbleToScale conditions report.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from minik8s import quantity, timestamps

TOLERANCE = 0.1
CPU_INITIALIZATION_PERIOD_S = 300.0
DELAY_OF_INITIAL_READINESS_S = 30.0
DOWNSCALE_STABILIZATION_S = 300.0
SCALE_UP_DEFAULT = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                 {"type": "Percent", "value": 100, "periodSeconds": 15}]}
SCALE_DOWN_DEFAULT = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


class MetricError(Exception):
    """Raised when a metric cannot give a replica count (the reason becomes ScalingActive's message)."""


@dataclasses.dataclass(frozen=True, slots=True)
class PodMetric:
    """One pod's usage of a resource (millicores or bytes), when it was read and over which window."""

    value: int
    timestamp: float
    window: float


@dataclasses.dataclass(frozen=True, slots=True)
class Groups:
    ready: dict[str, PodMetric]
    unready: set[str]
    missing: set[str]
    ignored: set[str]


def _condition(pod: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == ctype), None)


def group_pods(pods: Iterable[Mapping[str, Any]], metrics: Mapping[str, PodMetric], resource: str, *,
               now: float, cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD_S,
               delay_of_initial_readiness: float = DELAY_OF_INITIAL_READINESS_S) -> Groups:
    ready: dict[str, PodMetric] = {}
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        name = pod["metadata"]["name"]
        status = pod.get("status") or {}
        if pod["metadata"].get("deletionTimestamp") or status.get("phase") == "Failed":
            ignored.add(name)
            continue
        if status.get("phase") == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            cond = _condition(pod, "Ready")
            start = timestamps.to_unix(status.get("startTime"))
            if cond is None or start is None:
                unready.add(name)
                continue
            transition = timestamps.to_unix(cond.get("lastTransitionTime")) or 0.0
            if start + cpu_initialization_period > now:
                # starting: unready until Ready and measured over a window after becoming Ready
                not_ready = cond.get("status") == "False" or metric.timestamp < transition + metric.window
            else:
                # started: unready only if it never became Ready since its start
                not_ready = cond.get("status") == "False" and start + delay_of_initial_readiness > transition
            if not_ready:
                unready.add(name)
                continue
        ready[name] = metric
    return Groups(ready, unready, missing, ignored)


def pod_requests(pods: Iterable[Mapping[str, Any]], resource: str, container: str | None = None) -> dict[str, int]:
    """Each pod's request of ``resource`` (millicores for cpu, bytes otherwise), summed over its
    containers (or the one named); a container without one is a MetricError, as Kubernetes'."""
    out: dict[str, int] = {}
    for pod in pods:
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            if container and c.get("name") != container:
                continue
            value = ((c.get("resources") or {}).get("requests") or {}).get(resource)
            if value is None:
                raise MetricError(f"missing request for {resource} in container {c.get('name')} of Pod "
                                  f"{pod['metadata']['name']}")
            total += quantity.parse_cpu_millis(value) if resource == "cpu" else quantity.parse_bytes(value)
        out[pod["metadata"]["name"]] = total
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Proposal:
    replicas: int
    utilization: int | None  # percent of requests (Utilization targets)
    average: int  # raw average usage per pod (millicores or bytes)
    timestamp: float


def _utilization(metrics: Mapping[str, int], requests: Mapping[str, int], target: int) -> tuple[float, int, int]:
    used = requested = 0
    count = 0
    for name, value in metrics.items():
        if name in requests:
            used += value
            requested += requests[name]
            count += 1
    if requested == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = int(used * 100 / requested)
    return utilization / target, utilization, used // max(count, 1)


def resource_replicas(current: int, target_utilization: int, resource: str, pods: Sequence[Mapping[str, Any]],
                      metrics: Mapping[str, PodMetric], *, now: float, container: str | None = None,
                      tolerance: float = TOLERANCE) -> Proposal:
    """The count a Utilization target asks for."""
    if not metrics:
        raise MetricError("no metrics returned from resource metrics API")
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, resource, now=now)
    requests = pod_requests(pods, resource, container)
    usage = {n: m.value for n, m in groups.ready.items()}
    if not usage:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, utilization, average = _utilization(usage, requests, target_utilization)
    stamp = max(m.timestamp for m in groups.ready.values())

    def recount(fill_missing: int | None) -> Proposal:
        return _recount(current, ratio, usage, groups, requests, tolerance, fill_missing, utilization, average,
                        stamp, lambda u: _utilization(u, requests, target_utilization)[0])

    return recount(None)


def raw_resource_replicas(current: int, target_average: int, resource: str, pods: Sequence[Mapping[str, Any]],
                          metrics: Mapping[str, PodMetric], *, now: float,
                          tolerance: float = TOLERANCE) -> Proposal:
    """The count an AverageValue target (millicores or bytes per pod) asks for."""
    if not metrics:
        raise MetricError("no metrics returned from resource metrics API")
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, resource, now=now)
    usage = {n: m.value for n, m in groups.ready.items()}
    if not usage:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")

    def ratio_of(u: Mapping[str, int]) -> float:
        return sum(u.values()) / (target_average * len(u))

    ratio = ratio_of(usage)
    average = sum(usage.values()) // len(usage)
    stamp = max(m.timestamp for m in groups.ready.values())
    requests = {n: target_average for n in list(groups.missing) + list(groups.unready)}
    return _recount(current, ratio, usage, groups, requests, tolerance, None, None, average, stamp, ratio_of)


def _recount(current: int, ratio: float, usage: dict[str, int], groups: Groups, requests: Mapping[str, int],
             tolerance: float, _unused: Any, utilization: int | None, average: int, stamp: float,
             ratio_of: Any) -> Proposal:
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if abs(1.0 - ratio) <= tolerance:
            return Proposal(current, utilization, average, stamp)
        return Proposal(math.ceil(ratio * len(usage)), utilization, average, stamp)
    usage = dict(usage)
    if groups.missing:
        for name in groups.missing:
            # scaling down: take them as at their request (100% of the target); up: as idle
            usage[name] = requests.get(name, 0) if ratio < 1.0 else 0
    if scale_up_with_unready:
        for name in groups.unready:
            usage[name] = 0
    new_ratio = ratio_of(usage)
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return Proposal(current, utilization, average, stamp)
    replicas = math.ceil(new_ratio * len(usage))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return Proposal(current, utilization, average, stamp)
    return Proposal(replicas, utilization, average, stamp)


# --- behavior -----------------------------------------------------------------------------


@dataclasses.dataclass(slots=True)
class ScaleEvent:
    change: int  # replicas added (scale up) or removed (scale down), positive
    timestamp: float


def rules(behavior: Mapping[str, Any] | None, direction: str) -> dict[str, Any]:
    """The scaleUp or scaleDown rules in force (the given ones over Kubernetes' defaults)."""
    default = SCALE_UP_DEFAULT if direction == "scaleUp" else SCALE_DOWN_DEFAULT
    given = (behavior or {}).get(direction) or {}
    return {**default, **{k: v for k, v in given.items() if v is not None}}


def stabilize(current: int, desired: int, recommendations: list[tuple[float, int]],
              behavior: Mapping[str, Any] | None, *, now: float,
              downscale_window: float = DOWNSCALE_STABILIZATION_S) -> tuple[int, str, str]:
    """The stabilized recommendation: no higher than the lowest within the scale-up window, no
    lower than the highest within the scale-down window. ``recommendations`` holds
    (timestamp, replicas) of earlier syncs; the caller records the new one."""
    up_window = rules(behavior, "scaleUp").get("stabilizationWindowSeconds") or 0
    down_rules = rules(behavior, "scaleDown")
    down_window = down_rules.get("stabilizationWindowSeconds")
    if down_window is None:
        down_window = downscale_window
    up, down = desired, desired
    for stamp, replicas in recommendations:
        if stamp > now - up_window:
            up = min(up, replicas)
        if stamp > now - down_window:
            down = max(down, replicas)
    recommendation = current
    if recommendation < up:
        recommendation = up
    if recommendation > down:
        recommendation = down
    if recommendation != desired:
        if desired < current:
            return recommendation, "ScaleDownStabilized", ("recent recommendations were higher than current one, "
                                                           "applying the highest recent recommendation")
        return recommendation, "ScaleUpStabilized", ("recent recommendations were lower than current one, "
                                                     "applying the lowest recent recommendation")
    return recommendation, "ReadyForNewScale", "recommended size matches current size"


def _changes_within(events: Iterable[ScaleEvent], period: float, now: float) -> int:
    return sum(e.change for e in events if e.timestamp > now - period)


def scale_up_limit(current: int, up_events: list[ScaleEvent], down_events: list[ScaleEvent],
                   up_rules: Mapping[str, Any], *, now: float) -> int:
    if up_rules.get("selectPolicy") == "Disabled":
        return current
    pick_max = up_rules.get("selectPolicy", "Max") != "Min"
    result: int | None = None
    for p in up_rules.get("policies") or []:
        period = p["periodSeconds"]
        start = current - _changes_within(up_events, period, now) + _changes_within(down_events, period, now)
        proposed = start + p["value"] if p["type"] == "Pods" else math.ceil(start * (1 + p["value"] / 100))
        result = proposed if result is None else (max(result, proposed) if pick_max else min(result, proposed))
    return current if result is None else result


def scale_down_limit(current: int, up_events: list[ScaleEvent], down_events: list[ScaleEvent],
                     down_rules: Mapping[str, Any], *, now: float) -> int:
    if down_rules.get("selectPolicy") == "Disabled":
        return current
    pick_max_change = down_rules.get("selectPolicy", "Max") != "Min"
    result: int | None = None
    for p in down_rules.get("policies") or []:
        period = p["periodSeconds"]
        start = current - _changes_within(up_events, period, now) + _changes_within(down_events, period, now)
        proposed = start - p["value"] if p["type"] == "Pods" else int(start * (1 - p["value"] / 100))
        result = proposed if result is None else (min(result, proposed) if pick_max_change else max(result, proposed))
    return current if result is None else result


def limit_by_behavior(current: int, desired: int, min_replicas: int, max_replicas: int,
                      behavior: Mapping[str, Any] | None, up_events: list[ScaleEvent],
                      down_events: list[ScaleEvent], *, now: float) -> tuple[int, str, str]:
    """``desired`` within min/max and the scaling policies, with the ScalingLimited reason."""
    if desired > current:
        limit = max(current, scale_up_limit(current, up_events, down_events, rules(behavior, "scaleUp"), now=now))
        allowed = min(max_replicas, limit)
        if max_replicas > limit:
            reason, message = "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
        else:
            reason, message = "TooManyReplicas", "the desired replica count is more than the maximum replica count"
        if desired > allowed:
            return allowed, reason, message
    elif desired < current:
        limit = min(current, scale_down_limit(current, up_events, down_events, rules(behavior, "scaleDown"), now=now))
        allowed = max(min_replicas, limit)
        if min_replicas < limit:
            reason, message = "ScaleDownLimit", ("the desired replica count is decreasing faster than the maximum "
                                                 "scale rate")
        else:
            reason, message = "TooFewReplicas", "the desired replica count is less than the minimum replica count"
        if desired < allowed:
            return allowed, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
