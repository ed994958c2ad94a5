"""ReplicationController API behaviour (``pkg/registry/core/replicationcontroller`` and
``ValidateReplicationController``): a required equality-based selector the template's labels
satisfy, restartPolicy Always, no activeDeadlineSeconds, and the autoscaling/v1 Scale view."""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.pods import validate_pod_spec
from apiserver.registry.workloads import ReplicaSetStrategy
from apiserver.validation import FieldError
from minik8s import labels


class ReplicationControllerStrategy(ReplicaSetStrategy):
    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = v.validate_object_meta(obj)
        spec = obj.get("spec") or {}
        sel = spec.get("selector") or {}
        if not sel:
            errs.append(v.required("spec.selector"))
        if (spec.get("replicas") or 0) < 0:
            errs.append(v.invalid("spec.replicas", spec.get("replicas"), "must be greater than or equal to 0"))
        if (spec.get("minReadySeconds") or 0) < 0:
            errs.append(v.invalid("spec.minReadySeconds", spec.get("minReadySeconds"),
                                  "must be greater than or equal to 0"))
        tpl = spec.get("template")
        if tpl is None:
            errs.append(v.required("spec.template"))
            return errs
        tpl_labels = (tpl.get("metadata") or {}).get("labels") or {}
        if sel and not labels.from_set(sel).matches(tpl_labels):
            errs.append(v.invalid("spec.template.metadata.labels", tpl_labels,
                                  "`selector` does not match template `labels`"))
        errs += v.validate_labels(tpl_labels, "spec.template.metadata.labels")
        tpl_spec = tpl.get("spec") or {}
        errs += validate_pod_spec(tpl_spec, "spec.template.spec")
        if tpl_spec.get("restartPolicy") != "Always":
            errs.append(v.not_supported("spec.template.spec.restartPolicy", tpl_spec.get("restartPolicy"), ["Always"]))
        if tpl_spec.get("activeDeadlineSeconds") is not None:
            errs.append(v.forbidden("spec.template.spec.activeDeadlineSeconds",
                                    "activeDeadlineSeconds in ReplicationController is not Supported"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        # Unlike a ReplicaSet's, an RC's selector may change.
        return self.validate(new) + v.validate_object_meta_update(new, old)

    def scale(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = super().scale(obj)
        out["status"]["selector"] = str(labels.from_set((obj.get("spec") or {}).get("selector") or {}))
        return out
