"""API behaviour of the policy kinds: ResourceQuota (spec/status, ``/status`` written by the
quota controller and by quota admission), LimitRange and PriorityClass (no status).

Validation follows Kubernetes' ``ValidateResourceQuota``, ``ValidateLimitRange`` and
``ValidatePriorityClass``: field paths such as ``spec.hard[foo]`` and
``spec.limits[0].max[cpu]``, and Kubernetes' own messages.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from apiserver import validation as v
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError
from minik8s import quantity
from minik8s import resourcequota as rq

NEGATIVE = "must be greater than or equal to 0"
NOT_INTEGER = "must be an integer"
INVALID_QUOTA_RESOURCE = "must be a standard resource for quota"
_OPERATORS = ["DoesNotExist", "Exists", "In", "NotIn"]
_LIMIT_TYPES = ["Container", "PersistentVolumeClaim", "Pod"]
_PREEMPTION_POLICIES = ["Never", "PreemptLowerPriority"]

# Kubernetes' scheduling.HighestUserDefinablePriority and the two system classes.
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_CLUSTER_CRITICAL = "system-cluster-critical"
SYSTEM_NODE_CRITICAL = "system-node-critical"
SYSTEM_PRIORITY_CLASSES = {
    SYSTEM_CLUSTER_CRITICAL: (2 * HIGHEST_USER_DEFINABLE_PRIORITY,
                              "Used for system critical pods that must run in the cluster, but can be "
                              "moved to another node if necessary."),
    SYSTEM_NODE_CRITICAL: (2 * HIGHEST_USER_DEFINABLE_PRIORITY + 1000,
                           "Used for system critical pods that must not be moved from their current node."),
}


def _quantities(values: dict[str, Any] | None, field: str, *, quota: bool = False) -> list[FieldError]:
    errs: list[FieldError] = []
    for name, raw in (values or {}).items():
        path = f"{field}[{name}]"
        if quota and not rq.is_valid_resource_name(name):
            errs.append(v.invalid(path, name, INVALID_QUOTA_RESOURCE))
            continue
        try:
            q = quantity.parse_quantity(raw)
        except ValueError as e:
            errs.append(v.invalid(path, raw, str(e)))
            continue
        if q < 0:
            errs.append(v.invalid(path, raw, NEGATIVE))
        if quota and rq.is_integer_resource(name) and q.denominator != 1:
            errs.append(v.invalid(path, raw, NOT_INTEGER))
    return errs


class ResourceQuotaStrategy(Strategy):
    uses_generation = False

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        spec = obj.get("spec") or {}
        hard = spec.get("hard") or {}
        errs += _quantities(hard, "spec.hard", quota=True)
        scopes = list(spec.get("scopes") or ())
        for i, s in enumerate(scopes):
            if s not in rq.SCOPES:
                errs.append(v.invalid(f"spec.scopes[{i}]", s, "unsupported scope"))
        for a, b in (("BestEffort", "NotBestEffort"), ("Terminating", "NotTerminating")):
            if a in scopes and b in scopes:
                errs.append(v.invalid("spec.scopes", scopes, "conflicting scopes"))
        for i, req in enumerate(((spec.get("scopeSelector") or {}).get("matchExpressions")) or ()):
            path = f"spec.scopeSelector.matchExpressions[{i}]"
            scope, op, values = req.get("scopeName"), req.get("operator"), req.get("values") or []
            if scope not in rq.SCOPES:
                errs.append(v.invalid(f"{path}.scopeName", scope, "unsupported scope"))
            if op not in _OPERATORS:
                errs.append(v.not_supported(f"{path}.operator", op, _OPERATORS))
            elif scope != "PriorityClass" and scope in rq.SCOPES and op not in ("Exists", "DoesNotExist"):
                errs.append(v.invalid(f"{path}.operator", op,
                                      "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, "
                                      "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
                                      "ResourceQuotaScopeNotBestEffort or "
                                      "ResourceQuotaScopeCrossNamespacePodAffinity"))
            elif op in ("In", "NotIn") and not values:
                errs.append(v.required(f"{path}.values"))
            elif op in ("Exists", "DoesNotExist") and values:
                errs.append(v.invalid(f"{path}.values", values,
                                      "must be no values for 'Exists' or 'DoesNotExist' operator"))
        all_scopes = [s["scopeName"] for s in rq.scope_selectors(obj) if s.get("scopeName") in rq.SCOPES]
        for scope in all_scopes:
            for name in hard:
                if not rq.scope_resources_allowed(scope, name):
                    errs.append(v.invalid("spec.hard", name, "unsupported scope applied to resource"))
        return errs

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        status = new.get("status") or {}
        return (self.validate(new) + _quantities(status.get("hard"), "status.hard", quota=True)
                + _quantities(status.get("used"), "status.used", quota=True))


def _limit_item_errors(item: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    kind = item.get("type")
    if kind not in _LIMIT_TYPES:
        errs.append(v.not_supported(f"{path}.type", kind, _LIMIT_TYPES))
    fields = ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
    parsed: dict[str, dict[str, Fraction]] = {}
    for f in fields:
        errs += _quantities(item.get(f), f"{path}.{f}")
        parsed[f] = {}
        for name, raw in (item.get(f) or {}).items():
            try:
                parsed[f][name] = quantity.parse_quantity(raw)
            except ValueError:
                pass
    if kind == "Pod":
        for f in ("default", "defaultRequest"):
            if item.get(f):
                errs.append(v.forbidden(f"{path}.{f}", "may not be specified when `type` is 'Pod'"))
    if kind == "PersistentVolumeClaim":
        for f in ("max", "min"):
            for name in item.get(f) or {}:
                if name != "storage":
                    errs.append(v.not_supported(f"{path}.{f}[{name}]", name, ["storage"]))
    raw = {f: item.get(f) or {} for f in fields}
    mx, ratio = parsed["max"], parsed["maxLimitRequestRatio"]
    mn = parsed["min"]
    names = set().union(*(p.keys() for p in parsed.values()))
    for k in sorted(names):
        for field, low, high, text in _ORDER:
            if k in parsed[low] and k in parsed[high] and parsed[low][k] > parsed[high][k]:
                errs.append(v.invalid(f"{path}.{field}[{k}]", raw[field][k],
                                      text.format(low=raw[low][k], high=raw[high][k])))
        if k in ratio:
            if ratio[k] < 1:
                errs.append(v.invalid(f"{path}.maxLimitRequestRatio[{k}]", raw["maxLimitRequestRatio"][k],
                                      f"ratio {raw['maxLimitRequestRatio'][k]} is less than 1"))
            if k in mn and k in mx and mn[k] > 0:
                max_ratio = mx[k] / mn[k]
                if ratio[k] > max_ratio:
                    errs.append(v.invalid(f"{path}.maxLimitRequestRatio[{k}]", raw["maxLimitRequestRatio"][k],
                                          f"ratio {raw['maxLimitRequestRatio'][k]} is greater than max/min = "
                                          f"{float(max_ratio):f}"))
    return errs


# The order a limit range's values must keep, each broken one reported as Kubernetes words it:
# (the field reported, the value that must not exceed the other, the other, the message).
_ORDER = (
    ("min", "min", "max", "min value {low} is greater than max value {high}"),
    ("defaultRequest", "defaultRequest", "max", "default request value {low} is greater than max value {high}"),
    ("defaultRequest", "defaultRequest", "default", "default request value {low} is greater than default "
                                                    "limit value {high}"),
    ("defaultRequest", "min", "defaultRequest", "min value {low} is greater than default request value {high}"),
    ("default", "default", "max", "default value {low} is greater than max value {high}"),
    ("default", "min", "default", "min value {low} is greater than default value {high}"),
)


class LimitRangeStrategy(Strategy):
    status_field = None
    uses_generation = False

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        for i, item in enumerate((obj.get("spec") or {}).get("limits") or ()):
            errs += _limit_item_errors(item, f"spec.limits[{i}]")
        return errs


class PriorityClassStrategy(Strategy):
    status_field = None
    uses_generation = False

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        name = obj["metadata"].get("name") or ""
        value: int = obj.get("value")  # type: ignore[assignment]  # required: the model's validation rejected a missing one
        if not -2**31 <= value < 2**31:  # an int32 in Kubernetes
            return errs + [v.invalid("value", value, "must be a 32-bit integer")]
        if name in SYSTEM_PRIORITY_CLASSES:
            want = SYSTEM_PRIORITY_CLASSES[name][0]
            if value != want:
                errs.append(v.forbidden("metadata.name",
                                        f"{name} is a system priority class and its value must be {want}"))
        elif name.startswith("system-"):
            errs.append(v.invalid("metadata.name", name, "priority class names with 'system-' prefix are reserved"))
        elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE_PRIORITY:
            errs.append(v.forbidden("value", f"maximum allowed value of a user defined priority is "
                                             f"{HIGHEST_USER_DEFINABLE_PRIORITY}"))
        policy = obj.get("preemptionPolicy")
        if policy not in _PREEMPTION_POLICIES:
            errs.append(v.not_supported("preemptionPolicy", policy, _PREEMPTION_POLICIES))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if new.get("value") != old.get("value"):
            errs.append(v.forbidden("value", "may not be changed in an update."))
        if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
            errs.append(v.invalid("preemptionPolicy", new.get("preemptionPolicy"), "field is immutable"))
        return errs
