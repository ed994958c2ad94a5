"""Deployment and ReplicaSet API behaviour: selector/template validation, generation, and
the autoscaling/v1 Scale view of ``spec.replicas``."""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.pods import validate_pod_spec
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError
from minik8s import labels


def int_or_percent_errors(val: Any, field: str) -> list[FieldError]:
    """An IntOrString field that takes a count or a percentage (maxSurge, maxUnavailable, minAvailable)."""
    if isinstance(val, int):
        return [] if val >= 0 else [v.invalid(field, val, "must be greater than or equal to 0")]
    if isinstance(val, str) and val.endswith("%") and val[:-1].isdigit():
        return []
    return [v.invalid(field, val, "a valid percent string must be a numeric string followed by an ending "
                      "'%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')")]


def is_zero(val: Any) -> bool:
    """An IntOrString count or percentage that is zero (``0`` or ``"0%"``)."""
    return bool(val == 0 or val == "0%")


class _Workload(Strategy):
    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        spec = obj.get("spec") or {}
        if (spec.get("replicas") or 0) < 0:
            errs.append(v.invalid("spec.replicas", spec.get("replicas"), "must be greater than or equal to 0"))
        sel = spec.get("selector")
        tpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
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
        tpl_spec = (spec.get("template") or {}).get("spec")
        if tpl_spec is None:
            errs.append(v.required("spec.template"))
        else:
            errs += v.validate_labels(tpl_labels, "spec.template.metadata.labels")
            errs += validate_pod_spec(tpl_spec, "spec.template.spec")
            if tpl_spec.get("restartPolicy") != "Always":
                errs.append(v.not_supported("spec.template.spec.restartPolicy", tpl_spec.get("restartPolicy"),
                                            ["Always"]))
        if (spec.get("minReadySeconds") or 0) < 0:
            errs.append(v.invalid("spec.minReadySeconds", spec.get("minReadySeconds"),
                                  "must be greater than or equal to 0"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if (new.get("spec") or {}).get("selector") != (old.get("spec") or {}).get("selector"):
            errs.append(v.invalid("spec.selector", (new.get("spec") or {}).get("selector"), "field is immutable"))
        return errs

    def scale(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The autoscaling/v1 Scale view of the object."""
        md = obj["metadata"]
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        try:
            selector = str(labels.from_label_selector(spec.get("selector") or {}))
        except ValueError:
            selector = ""
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": md["name"], "namespace": md.get("namespace"), "uid": md.get("uid"),
                         "resourceVersion": md.get("resourceVersion"),
                         "creationTimestamp": md.get("creationTimestamp")},
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": status.get("replicas", 0), "selector": selector},
        }


class DeploymentStrategy(_Workload):
    initial_status: dict[str, Any] | None = {}  # as Kubernetes answers a new Deployment
    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        spec = obj.get("spec") or {}
        strat = spec.get("strategy") or {}
        typ = strat.get("type")
        if typ not in ("Recreate", "RollingUpdate"):
            errs.append(v.not_supported("spec.strategy.type", typ, ["Recreate", "RollingUpdate"]))
        ru = strat.get("rollingUpdate")
        if typ == "Recreate" and ru:
            errs.append(v.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"))
        if typ == "RollingUpdate" and ru:
            mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
            errs += int_or_percent_errors(mu, "spec.strategy.rollingUpdate.maxUnavailable")
            errs += int_or_percent_errors(ms, "spec.strategy.rollingUpdate.maxSurge")
            if is_zero(mu) and is_zero(ms):
                errs.append(v.invalid("spec.strategy.rollingUpdate.maxUnavailable", mu,
                                      "may not be 0 when `maxSurge` is 0"))
            if isinstance(mu, str) and mu.endswith("%") and mu[:-1].isdigit() and int(mu[:-1]) > 100:
                errs.append(v.invalid("spec.strategy.rollingUpdate.maxUnavailable", mu,
                                      "must not be greater than 100%"))
        rhl = spec.get("revisionHistoryLimit")
        if rhl is not None and rhl < 0:
            errs.append(v.invalid("spec.revisionHistoryLimit", rhl, "must be greater than or equal to 0"))
        pds = spec.get("progressDeadlineSeconds")
        if pds is not None and pds <= (spec.get("minReadySeconds") or 0):
            errs.append(v.invalid("spec.progressDeadlineSeconds", pds,
                                  "must be greater than minReadySeconds"))
        return errs


class ReplicaSetStrategy(_Workload):
    initial_status: dict[str, Any] | None = {"replicas": 0}  # replicas has no omitempty
    def field_values(self, obj: dict[str, Any]) -> dict[str, str]:
        out = super().field_values(obj)
        out["status.replicas"] = str((obj.get("status") or {}).get("replicas", 0))
        return out
