"""The HorizontalPodAutoscaler controller, as Kubernetes' ``pkg/controller/podautoscaler``.

Every HPA is synced when it changes and again each ``--horizontal-pod-autoscaler-sync-period``
(15 s). ``sync(key)``:

* reads the target's ``/scale`` (any kind with one: Deployment, ReplicaSet, StatefulSet,
  ReplicationController); a zero-replica target disables scaling (``ScalingDisabled``); a
  count outside min/max is brought inside;
* otherwise, for each Resource / ContainerResource metric, lists the target's pods (the
  Scale's selector, from the pod informer) and their PodMetrics (metrics.k8s.io) and asks
  :mod:`controllers.horizontalpodautoscaler_utils` for a count (Utilization of the pods'
  requests or AverageValue, tolerance 0.1, unready and missing pods as Kubernetes takes
  them); the largest count wins; a metric that cannot be read is ``ScalingActive=False``
  with Kubernetes' reason (and no scale-down happens on partial information);
* stabilizes the count over the windows and limits it by the scaling policies
  (``behavior``, or without one the down-scale window and the 2x/4-pods up-scale limit),
  reporting ``ScalingLimited``;
* writes the new count to ``/scale`` (``AbleToScale``: ``SucceededRescale`` or
  ``FailedUpdateScale``, a ``SuccessfulRescale`` event), then the status
  (``currentReplicas``, ``desiredReplicas``, ``currentMetrics``, ``lastScaleTime``,
  conditions) when it changed.

Recommendations and scale events live in memory, as in Kubernetes: a restarted controller
starts its stabilization windows afresh. Time comes from ``clock`` (keyword-only, for tests).
"""

from __future__ import annotations

import copy
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from controllers import horizontalpodautoscaler_utils as hu
from controllers.base import Controller, tombstone_safe
from minik8s import errors, labels, quantity, timestamps
from minik8s.api import resources as rs
from minik8s.client.events import NORMAL, WARNING, EventRecorder
from minik8s.client.informer import SharedInformerFactory
from minik8s.client.rest import ApiClient

log = logging.getLogger(__name__)

DEFAULT_SYNC_PERIOD_S = 15.0
_SCALABLE = {rs.DEPLOYMENTS.kind: rs.DEPLOYMENTS, rs.REPLICASETS.kind: rs.REPLICASETS,
             rs.STATEFULSETS.kind: rs.STATEFULSETS, rs.REPLICATIONCONTROLLERS.kind: rs.REPLICATIONCONTROLLERS}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|µs|us|ns)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}


def _seconds(duration: str | None) -> float:
    return sum(float(n) * _UNIT_S[u] for n, u in _DURATION.findall(duration or ""))


def _target_type(ref: dict[str, Any]) -> rs.ResourceType | None:
    rt = _SCALABLE.get(ref.get("kind") or "")
    if rt is None:
        return None
    api_version = ref.get("apiVersion")
    if api_version and api_version != rt.api_version and api_version.split("/")[0] not in ("extensions",):
        return None
    return rt


class HorizontalPodAutoscalerController(Controller):
    name = "horizontalpodautoscaling"

    def __init__(self, client: ApiClient, informers: SharedInformerFactory, *, recorder: EventRecorder | None = None,
                 sync_period: float = DEFAULT_SYNC_PERIOD_S,
                 downscale_stabilization: float = hu.DOWNSCALE_STABILIZATION_S,
                 tolerance: float = hu.TOLERANCE, clock: Callable[[], float] = time.time, **kwargs: Any) -> None:
        """``clock`` and ``kwargs`` (``queue``) are for tests."""
        super().__init__(**kwargs)
        self.client = client
        self.clock = clock
        self.sync_period = sync_period
        self.downscale_stabilization = downscale_stabilization
        self.tolerance = tolerance
        self.recorder = recorder or EventRecorder(client, component="horizontal-pod-autoscaler")
        self.hpa_informer = informers.informer(rs.HORIZONTALPODAUTOSCALERS)
        self.pod_informer = informers.informer(rs.PODS)
        self.informers = [self.hpa_informer, self.pod_informer]
        self.hpa_informer.add_handler(on_add=self.enqueue, on_update=self._update, on_delete=self._delete)
        # per HPA key: (timestamp, replicas) recommendations and the scale events of the behavior
        self.recommendations: dict[str, list[tuple[float, int]]] = {}
        self.up_events: dict[str, list[hu.ScaleEvent]] = {}
        self.down_events: dict[str, list[hu.ScaleEvent]] = {}

    # -- handlers --------------------------------------------------------------------------------

    def _update(self, old: dict[str, Any], cur: dict[str, Any]) -> None:
        if (old.get("spec") != cur.get("spec")) or old["metadata"].get("resourceVersion") != \
                cur["metadata"].get("resourceVersion"):
            self.enqueue(cur)

    def _delete(self, obj: dict[str, Any] | None) -> None:
        obj = tombstone_safe(obj)
        if obj is not None:
            self.enqueue(obj)

    # -- sync --------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.hpa_informer.store.get(key)
        if cached is None:
            for memory in (self.recommendations, self.up_events, self.down_events):
                memory.pop(key, None)
            return
        hpa = copy.deepcopy(cached)
        try:
            await self._reconcile(key, hpa)
        finally:
            # level-triggered and periodic: metrics change without any object changing
            if self.hpa_informer.store.get(key) is not None:
                self.queue.add_after(key, self.sync_period)

    async def _reconcile(self, key: str, hpa: dict[str, Any]) -> None:
        now = self.clock()
        ns = hpa["metadata"]["namespace"]
        spec = hpa.get("spec") or {}
        old_status = copy.deepcopy(hpa.get("status") or {})
        status: dict[str, Any] = copy.deepcopy(old_status)
        status["observedGeneration"] = hpa["metadata"].get("generation")
        conditions: dict[str, dict[str, Any]] = {}
        ref = spec.get("scaleTargetRef") or {}
        rt = _target_type(ref)
        reference = f"{ref.get('kind')}/{ref.get('name')}"
        scale: dict[str, Any] | None = None
        if rt is None:
            _set(conditions, "AbleToScale", "False", "FailedGetScale",
                 f"the HPA controller was unable to get the target's current scale: no matches for kind "
                 f"\"{ref.get('kind')}\" in group \"{(ref.get('apiVersion') or '').rpartition('/')[0]}\"")
            self.recorder.event(hpa, WARNING, "FailedGetScale", f'no matches for kind "{ref.get("kind")}"')
        else:
            try:
                scale = await self.client.get_subresource(rt, ref["name"], "scale", namespace=ns)
            except errors.ApiError as e:
                _set(conditions, "AbleToScale", "False", "FailedGetScale",
                     f"the HPA controller was unable to get the target's current scale: {e}")
                self.recorder.event(hpa, WARNING, "FailedGetScale", str(e))
        if scale is None or rt is None:
            await self._write_status(hpa, status, old_status, conditions, now)
            return
        _set(conditions, "AbleToScale", "True", "SucceededGetScale",
             "the HPA controller was able to get the target's current scale")
        current = (scale.get("spec") or {}).get("replicas") or 0
        status["currentReplicas"] = (scale.get("status") or {}).get("replicas") or 0
        lo, hi = spec.get("minReplicas", 1), spec["maxReplicas"]
        rescale_reason = ""
        desired = current
        if current == 0 and lo != 0:
            desired = 0
            _set(conditions, "ScalingActive", "False", "ScalingDisabled",
                 "scaling is disabled since the replica count of the target is zero")
        elif current > hi:
            desired, rescale_reason = hi, "Current number of replicas above Spec.MaxReplicas"
        elif current < lo:
            desired, rescale_reason = lo, "Current number of replicas below Spec.MinReplicas"
        else:
            proposal, metric_name, metric_statuses, failure = await self._compute(hpa, scale, current, now)
            status["currentMetrics"] = metric_statuses or None
            if proposal is None:
                reason, message = failure or ("FailedGetResourceMetric", "the HPA has no metric to compute from")
                _set(conditions, "ScalingActive", "False", reason, message)
                self.recorder.event(hpa, WARNING, reason, message)
                await self._write_status(hpa, status, old_status, conditions, now)
                return
            if failure is not None and proposal < current:
                proposal = current  # no scale-down on partial information
            _set(conditions, "ScalingActive", "True", "ValidMetricFound",
                 f"the HPA was able to successfully calculate a replica count from {metric_name}")
            if proposal > current:
                rescale_reason = f"{metric_name} above target"
            elif proposal < current:
                rescale_reason = "All metrics below target"
            desired, able_reason, able_message = self._normalize(key, spec, current, proposal, conditions, now)
            _set(conditions, "AbleToScale", "True", able_reason, able_message)
        status["desiredReplicas"] = desired
        if desired != current:
            try:
                await self.client.patch(rt, ref["name"], {"spec": {"replicas": desired}}, namespace=ns,
                                        subresource="scale")
            except errors.ApiError as e:
                _set(conditions, "AbleToScale", "False", "FailedUpdateScale",
                     f"the HPA controller was unable to update the target scale: {e}")
                self.recorder.event(hpa, WARNING, "FailedRescale",
                                    f"New size: {desired}; reason: {rescale_reason}; error: {e}")
                await self._write_status(hpa, status, old_status, conditions, now)
                raise
            _set(conditions, "AbleToScale", "True", "SucceededRescale",
                 f"the HPA controller was able to update the target scale to {desired}")
            self.recorder.event(hpa, NORMAL, "SuccessfulRescale", f"New size: {desired}; reason: {rescale_reason}")
            events = self.up_events if desired > current else self.down_events
            events.setdefault(key, []).append(hu.ScaleEvent(abs(desired - current), now))
            status["lastScaleTime"] = timestamps.from_unix(now)
            log.info("%s: scaled %s from %d to %d (%s)", key, reference, current, desired, rescale_reason)
        await self._write_status(hpa, status, old_status, conditions, now)

    def _normalize(self, key: str, spec: dict[str, Any], current: int, proposal: int,
                   conditions: dict[str, dict[str, Any]], now: float) -> tuple[int, str, str]:
        behavior = spec.get("behavior")
        lo, hi = spec.get("minReplicas", 1), spec["maxReplicas"]
        history = self.recommendations.setdefault(key, [])
        if behavior is None:
            stabilized, able_reason, able_message = hu.stabilize(
                current, proposal, history, {"scaleUp": {"stabilizationWindowSeconds": 0}},
                now=now, downscale_window=self.downscale_stabilization)
            limited, reason, message = _limit_without_behavior(current, stabilized, lo, hi)
        else:
            stabilized, able_reason, able_message = hu.stabilize(current, proposal, history, behavior, now=now,
                                                                 downscale_window=self.downscale_stabilization)
            limited, reason, message = hu.limit_by_behavior(
                current, stabilized, lo, hi, behavior, self.up_events.get(key, []), self.down_events.get(key, []),
                now=now)
        # keep what the longest window can still use
        horizon = max(self.downscale_stabilization, _window(behavior, "scaleUp"), _window(behavior, "scaleDown"),
                      *(p.get("periodSeconds", 0) for d in ("scaleUp", "scaleDown")
                        for p in hu.rules(behavior, d).get("policies") or []))
        history[:] = [(t, r) for t, r in history if t > now - horizon] + [(now, proposal)]
        for events in (self.up_events.get(key, []), self.down_events.get(key, [])):
            events[:] = [e for e in events if e.timestamp > now - horizon]
        limited_now = reason in ("TooManyReplicas", "TooFewReplicas", "ScaleUpLimit", "ScaleDownLimit")
        _set(conditions, "ScalingLimited", "True" if limited_now else "False", reason, message)
        return limited, able_reason, able_message

    async def _compute(self, hpa: dict[str, Any], scale: dict[str, Any], current: int, now: float
                       ) -> tuple[int | None, str, list[dict[str, Any]], tuple[str, str] | None]:
        """The largest proposal of the metrics, the name of the metric behind it, the metrics'
        statuses, and the failure of the last metric that failed (reason, message)."""
        ns = hpa["metadata"]["namespace"]
        selector_text = (scale.get("status") or {}).get("selector")
        if not selector_text:
            return None, "", [], ("InvalidSelector", "the HPA target's scale is missing a selector")
        try:
            selector = labels.parse(selector_text)
        except ValueError as e:
            return None, "", [], ("InvalidSelector", f"couldn't convert selector into a corresponding internal "
                                                     f"selector object: {e}")
        pods = [p for p in self.pod_informer.store.list()
                if p["metadata"].get("namespace") == ns and selector.matches(p["metadata"].get("labels"))]
        best: int | None = None
        best_name = ""
        statuses: list[dict[str, Any]] = []
        failure: tuple[str, str] | None = None
        pod_metrics: list[dict[str, Any]] | None = None
        for spec in (hpa.get("spec") or {}).get("metrics") or []:
            mtype = spec.get("type")
            if mtype not in ("Resource", "ContainerResource"):
                failure = (f"FailedGet{mtype}Metric", f"the HPA was unable to compute the replica count: "
                                                      f"no custom or external metrics API serves {mtype} metrics")
                statuses.append({"type": ""})
                continue
            key = "resource" if mtype == "Resource" else "containerResource"
            source = spec[key]
            resource, target = source["name"], source.get("target") or {}
            container = source.get("container") if mtype == "ContainerResource" else None
            try:
                if pod_metrics is None:
                    listed = await self.client.list(rs.PODMETRICS, namespace=ns, label_selector=selector_text)
                    pod_metrics = listed.get("items") or []
                usage = _usage(pod_metrics, resource, container)
                if target.get("type") == "Utilization":
                    p = hu.resource_replicas(current, target["averageUtilization"], resource, pods, usage, now=now,
                                             container=container, tolerance=self.tolerance)
                    name = f"{resource} resource utilization (percentage of request)"
                    current_value = {"averageValue": _format(resource, p.average),
                                     "averageUtilization": p.utilization}
                else:
                    goal = _parse(resource, target.get("averageValue") or "0")
                    p = hu.raw_resource_replicas(current, goal, resource, pods, usage, now=now,
                                                 tolerance=self.tolerance)
                    name = f"{resource} resource"
                    current_value = {"averageValue": _format(resource, p.average)}
            except (errors.ApiError, hu.MetricError) as e:
                what = "utilization" if target.get("type") == "Utilization" else "usage"
                reason = "FailedGetResourceMetric" if mtype == "Resource" else "FailedGetContainerResourceMetric"
                failure = (reason, f"the HPA was unable to compute the replica count: failed to get {resource} "
                                   f"{what}: {e}")
                statuses.append({"type": ""})
                continue
            body: dict[str, Any] = {"name": resource, "current": current_value}
            if container:
                body["container"] = container
            statuses.append({"type": mtype, key: body})
            if best is None or p.replicas > best:
                best, best_name = p.replicas, (f"{name} for container {container}" if container else name)
        statuses = [s for s in statuses if s.get("type")]
        return best, best_name, statuses, failure

    async def _write_status(self, hpa: dict[str, Any], status: dict[str, Any], old: dict[str, Any],
                            conditions: dict[str, dict[str, Any]], now: float) -> None:
        previous = {c["type"]: c for c in old.get("conditions") or []}
        out = []
        for ctype in ("AbleToScale", "ScalingActive", "ScalingLimited"):
            c = conditions.get(ctype) or previous.get(ctype)
            if c is None:
                continue
            before = previous.get(ctype)
            stamp = before.get("lastTransitionTime") if before is not None and before.get("status") == c["status"] \
                else timestamps.from_unix(now)
            out.append({**c, "lastTransitionTime": stamp})
        status["conditions"] = out
        status.setdefault("desiredReplicas", 0)
        status = {k: v for k, v in status.items() if v is not None}
        if status == old:
            return
        try:
            await self.client.update_status(rs.HORIZONTALPODAUTOSCALERS, {**hpa, "status": status})
        except errors.NotFound:
            return


def _set(conditions: dict[str, dict[str, Any]], ctype: str, status: str, reason: str, message: str) -> None:
    conditions[ctype] = {"type": ctype, "status": status, "reason": reason, "message": message}


def _window(behavior: dict[str, Any] | None, direction: str) -> float:
    return float(hu.rules(behavior, direction).get("stabilizationWindowSeconds") or 0)


def _limit_without_behavior(current: int, desired: int, lo: int, hi: int) -> tuple[int, str, str]:
    """Kubernetes without ``behavior``: up at most to max(2x, 4), down to min."""
    up_limit = max(2 * current, 4)
    if desired > current:
        allowed = min(hi, up_limit)
        if desired > allowed:
            if hi > up_limit:
                return allowed, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum " \
                                                "scale rate"
            return allowed, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
    if desired < lo:
        return lo, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def _parse(resource: str, value: str) -> int:
    return quantity.parse_cpu_millis(value) if resource == "cpu" else quantity.parse_bytes(value)


def _format(resource: str, value: int) -> str:
    return quantity.format_cpu_millis(value) if resource == "cpu" else quantity.format_bytes(value)


def _usage(items: list[dict[str, Any]], resource: str, container: str | None) -> dict[str, hu.PodMetric]:
    """Pod name -> its usage of ``resource`` from PodMetrics (one container, or all summed)."""
    out: dict[str, hu.PodMetric] = {}
    for pm in items:
        total, found = 0, False
        for c in pm.get("containers") or []:
            if container and c.get("name") != container:
                continue
            value = (c.get("usage") or {}).get(resource)
            if value is not None:
                total += _parse(resource, value)
                found = True
        if found:
            out[pm["metadata"]["name"]] = hu.PodMetric(total, timestamps.to_unix(pm.get("timestamp")) or 0.0,
                                                       _seconds(pm.get("window")))
    return out
