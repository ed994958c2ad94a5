"""DaemonSet and ControllerRevision API behaviour (Kubernetes' ``pkg/registry/apps/daemonset``,
``pkg/registry/apps/controllerrevision`` and their validation): the pod template (restartPolicy
Always, labels the selector matches), the update strategy (RollingUpdate's maxUnavailable and
maxSurge, not both zero; OnDelete), the immutable selector, and a ControllerRevision's
immutable data.
"""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.pods import validate_pod_spec
from apiserver.registry.strategy import Strategy
from apiserver.registry.workloads import int_or_percent_errors, is_zero
from apiserver.validation import FieldError
from minik8s import labels

_NONNEG = "must be greater than or equal to 0"


def validate_selector_and_template(spec: dict[str, Any]) -> list[FieldError]:
    """A required, non-empty selector that the template's labels satisfy; a valid pod template
    whose restartPolicy is Always."""
    errs: list[FieldError] = []
    sel = spec.get("selector")
    tpl = spec.get("template") or {}
    tpl_labels = (tpl.get("metadata") or {}).get("labels") or {}
    if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
        errs.append(v.required("spec.selector"))
    else:
        try:
            selector = labels.from_label_selector(sel)
        except ValueError as e:
            errs.append(v.invalid("spec.selector", sel, str(e)))
        else:
            if not selector.matches(tpl_labels):
                errs.append(v.invalid("spec.template.metadata.labels", tpl_labels,
                                      "`selector` does not match template `labels`"))
    tpl_spec = tpl.get("spec")
    if tpl_spec is None:
        errs.append(v.required("spec.template"))
    else:
        errs += v.validate_labels(tpl_labels, "spec.template.metadata.labels")
        errs += validate_pod_spec(tpl_spec, "spec.template.spec")
        if tpl_spec.get("restartPolicy") != "Always":
            errs.append(v.not_supported("spec.template.spec.restartPolicy", tpl_spec.get("restartPolicy"), ["Always"]))
    return errs


class DaemonSetStrategy(Strategy):
    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        spec = obj.get("spec") or {}
        errs += validate_selector_and_template(spec)
        for f in ("minReadySeconds", "revisionHistoryLimit"):
            if (spec.get(f) or 0) < 0:
                errs.append(v.invalid(f"spec.{f}", spec.get(f), _NONNEG))
        us = spec.get("updateStrategy") or {}
        typ = us.get("type")
        if typ not in ("OnDelete", "RollingUpdate"):
            errs.append(v.not_supported("spec.updateStrategy.type", typ, ["OnDelete", "RollingUpdate"]))
        ru = us.get("rollingUpdate")
        if typ == "RollingUpdate":
            if not ru:
                errs.append(v.required("spec.updateStrategy.rollingUpdate"))
            else:
                mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
                errs += int_or_percent_errors(mu, "spec.updateStrategy.rollingUpdate.maxUnavailable")
                errs += int_or_percent_errors(ms, "spec.updateStrategy.rollingUpdate.maxSurge")
                if is_zero(mu) and is_zero(ms):
                    errs.append(v.invalid("spec.updateStrategy.rollingUpdate.maxUnavailable", mu,
                                          "may not be 0 when `maxSurge` is 0"))
                if isinstance(mu, str) and mu.endswith("%") and mu[:-1].isdigit() and int(mu[:-1]) > 100:
                    errs.append(v.invalid("spec.updateStrategy.rollingUpdate.maxUnavailable", mu,
                                          "must not be greater than 100%"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if (new.get("spec") or {}).get("selector") != (old.get("spec") or {}).get("selector"):
            errs.append(v.invalid("spec.selector", (new.get("spec") or {}).get("selector"), "field is immutable"))
        return errs


class ControllerRevisionStrategy(Strategy):
    status_field = None
    uses_generation = False

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        if (obj.get("revision") or 0) < 0:
            errs.append(v.invalid("revision", obj.get("revision"), _NONNEG))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if new.get("data") != old.get("data"):
            errs.append(v.invalid("data", "", "field is immutable"))
        return errs
