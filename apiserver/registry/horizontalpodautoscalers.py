"""autoscaling/v2 HorizontalPodAutoscaler: defaults, validation and printed columns, as
Kubernetes' ``pkg/apis/autoscaling`` (defaults.go, validation.go) and its printer.

Defaults: ``minReplicas`` 1; no metrics means 80% average CPU utilization; a ``behavior``
given has its unset rules filled with Kubernetes' (scale up: no stabilization, the larger
of 4 pods or 100% per 15 s; scale down: the controller's 300 s window, 100% per 15 s;
``selectPolicy`` Max). Validation answers with field paths as Kubernetes does.
"""

from __future__ import annotations

import copy
from typing import Any

from apiserver import validation as v
from apiserver.printers import Column, Printer, age, meta
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError
from minik8s import quantity

METRIC_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")
TARGET_TYPES = ("AverageValue", "Utilization", "Value")
POLICY_TYPES = ("Percent", "Pods")
SELECT_POLICIES = ("Disabled", "Max", "Min")
MAX_PERIOD_S = 1800
MAX_STABILIZATION_S = 3600

SCALE_UP_DEFAULT = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15},
                                 {"type": "Percent", "value": 100, "periodSeconds": 15}]}
SCALE_DOWN_DEFAULT = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def set_defaults(hpa: dict[str, Any]) -> None:
    spec = hpa.setdefault("spec", {})
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": 80}}}]
    behavior = spec.get("behavior")
    if behavior is not None:
        for key, default in (("scaleUp", SCALE_UP_DEFAULT), ("scaleDown", SCALE_DOWN_DEFAULT)):
            rules = behavior.get(key)
            if rules is None:
                behavior[key] = copy.deepcopy(default)
                continue
            for field in ("selectPolicy", "policies", "stabilizationWindowSeconds"):
                if rules.get(field) is None and field in default:
                    rules[field] = copy.deepcopy(default[field])


def _positive_quantity(value: Any) -> bool:
    try:
        return quantity.parse_quantity(value) > 0
    except (ValueError, TypeError):
        return False


def _validate_target(target: dict[str, Any] | None, path: str) -> list[FieldError]:
    if not target:
        return [v.required(path)]
    errs: list[FieldError] = []
    t = target.get("type")
    if t not in TARGET_TYPES:
        errs.append(v.not_supported(f"{path}.type", t, list(TARGET_TYPES)) if t else v.required(f"{path}.type"))
    util = target.get("averageUtilization")
    if t == "Utilization" and util is None:
        errs.append(v.required(f"{path}.averageUtilization"))
    if util is not None and (not isinstance(util, int) or util < 1):
        errs.append(v.invalid(f"{path}.averageUtilization", util, "must be greater than 0"))
    for field in ("value", "averageValue"):
        if target.get(field) is not None and not _positive_quantity(target[field]):
            errs.append(v.invalid(f"{path}.{field}", target[field], "must be positive"))
    if t == "AverageValue" and target.get("averageValue") is None:
        errs.append(v.required(f"{path}.averageValue"))
    if t == "Value" and target.get("value") is None:
        errs.append(v.required(f"{path}.value"))
    return errs


def _validate_metric(m: dict[str, Any], path: str) -> list[FieldError]:
    t = m.get("type")
    if not t:
        return [v.required(f"{path}.type")]
    if t not in METRIC_TYPES:
        return [v.not_supported(f"{path}.type", t, list(METRIC_TYPES))]
    key = t[0].lower() + t[1:]
    source = m.get(key)
    if source is None:
        return [v.required(f"{path}.{key}")]
    errs: list[FieldError] = []
    for other in ("resource", "containerResource", "pods", "object", "external"):
        if other != key and m.get(other) is not None:
            errs.append(v.forbidden(f"{path}.{other}", "must populate the given metric source only"))
    if t in ("Resource", "ContainerResource"):
        if not source.get("name"):
            errs.append(v.required(f"{path}.{key}.name"))
        if t == "ContainerResource" and not source.get("container"):
            errs.append(v.required(f"{path}.{key}.container"))
        errs += _validate_target(source.get("target"), f"{path}.{key}.target")
        if (source.get("target") or {}).get("type") == "Value":
            errs.append(v.not_supported(f"{path}.{key}.target.type", "Value", ["AverageValue", "Utilization"]))
    else:
        errs += _validate_target(source.get("target"), f"{path}.{key}.target")
    return errs


def _validate_rules(rules: dict[str, Any] | None, path: str) -> list[FieldError]:
    if rules is None:
        return []
    errs: list[FieldError] = []
    window = rules.get("stabilizationWindowSeconds")
    if window is not None and (not isinstance(window, int) or not 0 <= window <= MAX_STABILIZATION_S):
        errs.append(v.invalid(f"{path}.stabilizationWindowSeconds", window,
                              f"must be less than or equal to {MAX_STABILIZATION_S}" if isinstance(window, int)
                              and window > 0 else "must be greater than or equal to zero"))
    select = rules.get("selectPolicy")
    if select is not None and select not in SELECT_POLICIES:
        errs.append(v.not_supported(f"{path}.selectPolicy", select, list(SELECT_POLICIES)))
    policies = rules.get("policies")
    if not policies:
        errs.append(v.required(f"{path}.policies") if select != "Disabled" else None)  # type: ignore[arg-type]
    for i, p in enumerate(policies or []):
        pp = f"{path}.policies[{i}]"
        if p.get("type") not in POLICY_TYPES:
            errs.append(v.not_supported(f"{pp}.type", p.get("type"), list(POLICY_TYPES)))
        value = p.get("value")
        if not isinstance(value, int) or value <= 0:
            errs.append(v.invalid(f"{pp}.value", value, "must be greater than zero"))
        period = p.get("periodSeconds")
        if not isinstance(period, int) or period <= 0:
            errs.append(v.invalid(f"{pp}.periodSeconds", period, "must be greater than zero"))
        elif period > MAX_PERIOD_S:
            errs.append(v.invalid(f"{pp}.periodSeconds", period, f"must be less than or equal to {MAX_PERIOD_S}"))
    return [e for e in errs if e is not None]


def validate(hpa: dict[str, Any]) -> list[FieldError]:
    spec = hpa.get("spec") or {}
    errs: list[FieldError] = []
    ref = spec.get("scaleTargetRef") or {}
    if not ref.get("kind"):
        errs.append(v.required("spec.scaleTargetRef.kind"))
    elif "/" in ref["kind"] or ref["kind"] in (".", ".."):
        errs.append(v.invalid("spec.scaleTargetRef.kind", ref["kind"], "may not contain '/'"))
    if not ref.get("name"):
        errs.append(v.required("spec.scaleTargetRef.name"))
    elif "/" in ref["name"] or ref["name"] in (".", ".."):
        errs.append(v.invalid("spec.scaleTargetRef.name", ref["name"], "may not contain '/'"))
    lo, hi = spec.get("minReplicas"), spec.get("maxReplicas")
    if lo is not None and (not isinstance(lo, int) or lo < 1):
        errs.append(v.invalid("spec.minReplicas", lo, "must be greater than or equal to 1"))
    if not isinstance(hi, int) or hi < 1:
        errs.append(v.invalid("spec.maxReplicas", hi, "must be greater than 0"))
    elif isinstance(lo, int) and hi < lo:
        errs.append(v.invalid("spec.maxReplicas", hi, "must be greater than or equal to `minReplicas`"))
    for i, m in enumerate(spec.get("metrics") or []):
        errs += _validate_metric(m or {}, f"spec.metrics[{i}]")
    behavior = spec.get("behavior") or {}
    errs += _validate_rules(behavior.get("scaleUp"), "spec.behavior.scaleUp")
    errs += _validate_rules(behavior.get("scaleDown"), "spec.behavior.scaleDown")
    return errs


class HorizontalPodAutoscalerStrategy(Strategy):
    initial_status = {"desiredReplicas": 0}  # not omitempty in Kubernetes

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        set_defaults(obj)

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        set_defaults(new)
        super().prepare_for_update(new, old)

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return validate(obj)

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return validate(new)


# --- printing (kubectl get hpa) ---------------------------------------------------------------


def _metric_target(spec: dict[str, Any], status: dict[str, Any] | None) -> str:
    t = spec.get("type")
    key = t[0].lower() + t[1:] if t else ""
    source = spec.get(key) or {}
    target = source.get("target") or {}
    current = ((status or {}).get(key) or {}).get("current") or {}
    name = source.get("name") or (source.get("metric") or {}).get("name") or ""
    if target.get("type") == "Utilization":
        now = f"{current['averageUtilization']}%" if current.get("averageUtilization") is not None else "<unknown>"
        goal = f"{target.get('averageUtilization')}%"
    elif target.get("type") == "AverageValue":
        now = current.get("averageValue") or "<unknown>"
        goal = target.get("averageValue", "")
    else:
        now = current.get("value") or "<unknown>"
        goal = target.get("value", "")
    if t == "ContainerResource":
        return f"{name} ({source.get('container')}): {now}/{goal}" if name else f"{now}/{goal}"
    return f"{name}: {now}/{goal}" if name else f"{now}/{goal}"


def format_targets(hpa: dict[str, Any]) -> str:
    specs = (hpa.get("spec") or {}).get("metrics") or []
    if not specs:
        return "<none>"
    statuses = (hpa.get("status") or {}).get("currentMetrics") or []
    parts = []
    for i, m in enumerate(specs):
        status = statuses[i] if i < len(statuses) and statuses[i].get("type") == m.get("type") else None
        parts.append(_metric_target(m, status))
    shown = parts[:2]
    text = ", ".join(shown)
    if len(parts) > 2:
        text += f" + {len(parts) - 2} more..."
    return text


def _row(obj: dict[str, Any], now: float) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    lo = spec.get("minReplicas")
    return [meta(obj).get("name", ""), f"{ref.get('kind', '')}/{ref.get('name', '')}", format_targets(obj),
            "<unset>" if lo is None else str(lo), spec.get("maxReplicas", 0), status.get("currentReplicas", 0),
            age(obj, now)]


HORIZONTAL_POD_AUTOSCALER = Printer(
    (Column("Name", format="name", description="Name must be unique within a namespace."),
     Column("Reference", description="reference is the target resource to scale"),
     Column("Targets", description="metrics contains the specifications for which to use to calculate the desired "
                                   "replica count"),
     Column("MinPods", description="minReplicas is the lower limit for the number of replicas"),
     Column("MaxPods", type="integer", description="maxReplicas is the upper limit for the number of replicas"),
     Column("Replicas", type="integer", description="currentReplicas is current number of replicas of pods managed "
                                                    "by this autoscaler"),
     Column("Age", description="CreationTimestamp is a timestamp representing the server time when this object "
                               "was created.")),
    _row,
)
