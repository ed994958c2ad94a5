"""PodDisruptionBudget API behaviour (``pkg/apis/policy/validation``): minAvailable or
maxUnavailable (not both), each a non-negative integer or a percentage up to 100%, a valid
selector, and a known unhealthyPodEvictionPolicy."""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.strategy import Strategy
from apiserver.registry.workloads import int_or_percent_errors
from apiserver.validation import FieldError
from minik8s import labels


def _percent_at_most_100(val: Any, field: str) -> list[FieldError]:
    if isinstance(val, str) and val.endswith("%") and val[:-1].isdigit() and int(val[:-1]) > 100:
        return [v.invalid(field, val, "must not be greater than 100%")]
    return []


class PodDisruptionBudgetStrategy(Strategy):
    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        spec = obj.get("spec") or {}
        mn, mx = spec.get("minAvailable"), spec.get("maxUnavailable")
        if mn is not None and mx is not None:
            errs.append(v.invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
        for name, val in (("minAvailable", mn), ("maxUnavailable", mx)):
            if val is not None:
                errs += int_or_percent_errors(val, f"spec.{name}") + _percent_at_most_100(val, f"spec.{name}")
        sel = spec.get("selector")
        if sel is not None:
            try:
                labels.from_label_selector(sel)
            except ValueError as e:
                errs.append(v.invalid("spec.selector", sel, str(e)))
        policy = spec.get("unhealthyPodEvictionPolicy")
        if policy is not None and policy not in ("IfHealthyBudget", "AlwaysAllow"):
            errs.append(v.not_supported("spec.unhealthyPodEvictionPolicy", policy, ["AlwaysAllow", "IfHealthyBudget"]))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return self.validate(new) + v.validate_object_meta_update(new, old)
