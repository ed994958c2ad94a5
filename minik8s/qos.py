"""A pod's quality-of-service class (``status.qosClass``), as Kubernetes' qos helper computes
it: shared by the apiserver (which sets it on create), the kubelet and ``mkctl describe``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minik8s import quantity


def qos_class(spec: Mapping[str, Any]) -> str:
    """Guaranteed when every container has cpu and memory limits equal to its requests;
    BestEffort when no container has any request or limit; Burstable otherwise."""
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim:
                guaranteed = False
            elif r in req and _amount(req[r]) != _amount(lim[r]):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _amount(q: Any) -> Any:
    try:
        return quantity.parse_quantity(str(q))
    except ValueError:
        return str(q)
