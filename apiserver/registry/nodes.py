"""Node API behaviour: cluster-scoped, status may be set on create (the kubelet registers
with its capacity), ``spec.unschedulable`` for cordon."""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError

_EFFECTS = ["NoExecute", "NoSchedule", "PreferNoSchedule"]


class NodeStrategy(Strategy):
    uses_generation = False

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        # Nodes allow every field, status included, on create.
        pass

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        for i, t in enumerate((obj.get("spec") or {}).get("taints") or []):
            if not t.get("key"):
                errs.append(v.required(f"spec.taints[{i}].key"))
            if t.get("effect") not in _EFFECTS:
                errs.append(v.not_supported(f"spec.taints[{i}].effect", t.get("effect"), _EFFECTS))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        old_cidr = (old.get("spec") or {}).get("podCIDR")
        if old_cidr and (new.get("spec") or {}).get("podCIDR") != old_cidr:
            errs.append(v.forbidden("spec.podCIDR", "podCIDR may not be changed once set"))
        return errs

    def field_values(self, obj: dict[str, Any]) -> dict[str, str]:
        out = super().field_values(obj)
        out["spec.unschedulable"] = "true" if (obj.get("spec") or {}).get("unschedulable") else "false"
        return out
