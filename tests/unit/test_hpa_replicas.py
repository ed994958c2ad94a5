"""The HorizontalPodAutoscaler's arithmetic (controllers/horizontalpodautoscaler_utils.py),
against the cases Kubernetes' replica calculator and behavior tests describe: tolerance,
Utilization of requests, AverageValue, missing and unready pods, stabilization windows,
Pods/Percent policies with selectPolicy, and min/max limits with their reasons."""

from __future__ import annotations

import pytest

from controllers import horizontalpodautoscaler_utils as hu

NOW = 1_000_000.0


def _pod(name: str, cpu_request: str | None = "100m", *, phase: str = "Running", ready: str = "True",
         started_ago: float = 3600.0, ready_ago: float = 3000.0) -> dict:
    from minik8s import timestamps
    resources = {"requests": {"cpu": cpu_request, "memory": "64Mi"}} if cpu_request else {}
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "resources": resources}]},
            "status": {"phase": phase, "startTime": timestamps.from_unix(NOW - started_ago),
                       "conditions": [{"type": "Ready", "status": ready,
                                       "lastTransitionTime": timestamps.from_unix(NOW - ready_ago)}]}}


def _metrics(**usage: int) -> dict[str, hu.PodMetric]:
    return {name: hu.PodMetric(value, NOW - 5, 15.0) for name, value in usage.items()}


def test_within_tolerance_keeps_the_count() -> None:
    pods = [_pod("a"), _pod("b")]
    # 54% of requests against a 50% target: ratio 1.08, inside 0.1
    p = hu.resource_replicas(2, 50, "cpu", pods, _metrics(a=54, b=54), now=NOW)
    assert (p.replicas, p.utilization, p.average) == (2, 54, 54)


def test_utilization_scales_up_and_down() -> None:
    pods = [_pod("a"), _pod("b"), _pod("c")]
    up = hu.resource_replicas(3, 50, "cpu", pods, _metrics(a=100, b=100, c=100), now=NOW)
    assert (up.replicas, up.utilization) == (6, 100)  # ceil(2.0 * 3)
    down = hu.resource_replicas(3, 50, "cpu", pods, _metrics(a=10, b=10, c=10), now=NOW)
    assert down.replicas == 1  # ceil(0.2 * 3)


def test_a_container_without_a_request_is_an_error() -> None:
    with pytest.raises(hu.MetricError, match="missing request for cpu in container c of Pod a"):
        hu.resource_replicas(1, 50, "cpu", [_pod("a", None)], _metrics(a=10), now=NOW)


def test_missing_pods_count_as_at_target_when_scaling_down_and_idle_when_scaling_up() -> None:
    pods = [_pod("a"), _pod("b"), _pod("c"), _pod("d")]
    # two pods at 10%: ratio 0.2, but the two missing count as 100% of request: (10+10+100+100)/400 = 55% vs 50%
    # -> 1.1, which flips the direction: keep 4
    down = hu.resource_replicas(4, 50, "cpu", pods, _metrics(a=10, b=10), now=NOW)
    assert down.replicas == 4
    # two at 200%: ratio 4; the missing count as 0: 400/400 = 100% -> ratio 2, ceil(2 * 4) = 8
    up = hu.resource_replicas(4, 50, "cpu", pods, _metrics(a=200, b=200), now=NOW)
    assert up.replicas == 8


def test_unready_pods_count_as_idle_only_when_scaling_up() -> None:
    starting = _pod("new", started_ago=10, ready="False", ready_ago=10)
    pods = [_pod("a"), _pod("b"), starting]
    up = hu.resource_replicas(3, 50, "cpu", pods, _metrics(a=150, b=150, new=150), now=NOW)
    # ready: 300/200 = 150% -> ratio 3; unready as 0: 300/300 = 100% -> ratio 2, ceil(2 * 3) = 6
    assert up.replicas == 6
    down = hu.resource_replicas(3, 50, "cpu", pods, _metrics(a=10, b=10, new=500), now=NOW)
    assert down.replicas == 1  # the unready pod's usage is left out: 20/200 = 10% -> ceil(0.2 * 2)
    groups = hu.group_pods([_pod("p", phase="Pending"), _pod("f", phase="Failed")], _metrics(), "cpu", now=NOW)
    assert groups.unready == {"p"} and groups.ignored == {"f"}


def test_average_value() -> None:
    pods = [_pod("a"), _pod("b")]
    p = hu.raw_resource_replicas(2, 100 << 20, "memory", pods, _metrics(a=300 << 20, b=300 << 20), now=NOW)
    assert (p.replicas, p.average) == (6, 300 << 20)
    same = hu.raw_resource_replicas(2, 100 << 20, "memory", pods, _metrics(a=105 << 20, b=100 << 20), now=NOW)
    assert same.replicas == 2


def test_no_pods_or_no_metrics_are_errors() -> None:
    with pytest.raises(hu.MetricError, match="no metrics returned"):
        hu.resource_replicas(1, 50, "cpu", [_pod("a")], {}, now=NOW)
    with pytest.raises(hu.MetricError, match="no pods returned by selector"):
        hu.resource_replicas(1, 50, "cpu", [], _metrics(a=1), now=NOW)


def test_scale_down_stabilization_takes_the_highest_recent_recommendation() -> None:
    history = [(NOW - 100, 8), (NOW - 400, 10)]
    rec, reason, _ = hu.stabilize(8, 3, history, None, now=NOW)
    assert (rec, reason) == (8, "ScaleDownStabilized")  # 10 is older than the 300 s window
    rec, reason, _ = hu.stabilize(8, 3, history, {"scaleDown": {"stabilizationWindowSeconds": 60}}, now=NOW)
    assert (rec, reason) == (3, "ReadyForNewScale")


def test_scale_up_stabilization_takes_the_lowest_recent_recommendation() -> None:
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 120}}
    rec, reason, _ = hu.stabilize(2, 6, [(NOW - 60, 4), (NOW - 200, 2)], behavior, now=NOW)
    assert (rec, reason) == (4, "ScaleUpStabilized")


def test_default_scale_up_policies_allow_4_pods_or_double_per_15s() -> None:
    assert hu.limit_by_behavior(1, 10, 1, 20, {}, [], [], now=NOW)[:2] == (5, "ScaleUpLimit")
    assert hu.limit_by_behavior(10, 40, 1, 100, {}, [], [], now=NOW)[0] == 20
    # 3 pods were added 5 s ago: the period started at 7, so 14 at most now
    events = [hu.ScaleEvent(3, NOW - 5)]
    assert hu.limit_by_behavior(10, 40, 1, 100, {}, events, [], now=NOW)[0] == 14


def test_policies_select_min_and_disabled_and_percent_down() -> None:
    behavior = {"scaleUp": {"selectPolicy": "Min", "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60},
                                                                {"type": "Percent", "value": 50,
                                                                 "periodSeconds": 60}]},
                "scaleDown": {"policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}]}}
    assert hu.limit_by_behavior(4, 10, 1, 20, behavior, [], [], now=NOW)[0] == 5
    assert hu.limit_by_behavior(10, 1, 1, 20, behavior, [], [], now=NOW)[:2] == (5, "ScaleDownLimit")
    disabled = {"scaleDown": {"selectPolicy": "Disabled"}}
    assert hu.limit_by_behavior(10, 1, 1, 20, disabled, [], [], now=NOW)[0] == 10


def test_min_and_max_limits_name_their_reason() -> None:
    assert hu.limit_by_behavior(4, 30, 1, 5, {}, [], [], now=NOW)[:2] == (5, "TooManyReplicas")
    assert hu.limit_by_behavior(4, 1, 3, 5, {}, [], [], now=NOW)[:2] == (3, "TooFewReplicas")
    assert hu.limit_by_behavior(4, 4, 1, 5, {}, [], [], now=NOW)[1] == "DesiredWithinRange"
