"""StatefulSet API behaviour (``pkg/registry/apps/statefulset`` and ``ValidateStatefulSet``):
selector and template as for every pod controller, podManagementPolicy and updateStrategy
values, claim templates, the retention policy, and the rule that an update may change only
replicas, ordinals, template, updateStrategy, persistentVolumeClaimRetentionPolicy and
minReadySeconds (Kubernetes' message, field ``spec``)."""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.daemonsets import validate_selector_and_template
from apiserver.registry.workloads import ReplicaSetStrategy
from apiserver.validation import FieldError
from minik8s import labels

_NONNEG = "must be greater than or equal to 0"
_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
            "minReadySeconds")
_IMMUTABLE_MSG = ("updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                  "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")


def _with_claim_volumes(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec as its pods will have it: each claim template is a volume the containers may
    mount (Kubernetes validates the union of the template's volumes and the claims)."""
    claims = [(c.get("metadata") or {}).get("name") for c in spec.get("volumeClaimTemplates") or []]
    tpl = spec.get("template") or {}
    if not claims or tpl.get("spec") is None:
        return spec
    vols = [vol for vol in tpl["spec"].get("volumes") or [] if vol.get("name") not in claims]
    vols += [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims if c]
    return {**spec, "template": {**tpl, "spec": {**tpl["spec"], "volumes": vols}}}


class StatefulSetStrategy(ReplicaSetStrategy):
    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = v.validate_object_meta(obj)
        spec = obj.get("spec") or {}
        errs += validate_selector_and_template(_with_claim_volumes(spec))
        for f in ("replicas", "minReadySeconds", "revisionHistoryLimit"):
            if (spec.get(f) or 0) < 0:
                errs.append(v.invalid(f"spec.{f}", spec.get(f), _NONNEG))
        start = (spec.get("ordinals") or {}).get("start") or 0
        if start < 0:
            errs.append(v.invalid("spec.ordinals.start", start, _NONNEG))
        pmp = spec.get("podManagementPolicy")
        if pmp not in ("OrderedReady", "Parallel"):
            errs.append(v.not_supported("spec.podManagementPolicy", pmp, ["OrderedReady", "Parallel"]))
        us = spec.get("updateStrategy") or {}
        typ = us.get("type")
        if typ not in ("OnDelete", "RollingUpdate"):
            errs.append(v.not_supported("spec.updateStrategy.type", typ, ["OnDelete", "RollingUpdate"]))
        elif typ == "OnDelete" and us.get("rollingUpdate"):
            errs.append(v.invalid("spec.updateStrategy.rollingUpdate", us["rollingUpdate"],
                                  "only allowed for updateStrategy 'RollingUpdate'"))
        partition = (us.get("rollingUpdate") or {}).get("partition") or 0
        if partition < 0:
            errs.append(v.invalid("spec.updateStrategy.rollingUpdate.partition", partition, _NONNEG))
        policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        for f in ("whenDeleted", "whenScaled"):
            if policy.get(f) not in ("Retain", "Delete"):
                errs.append(v.not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{f}", policy.get(f),
                                            ["Retain", "Delete"]))
        names = set()
        for i, claim in enumerate(spec.get("volumeClaimTemplates") or []):
            name = (claim.get("metadata") or {}).get("name") or ""
            path = f"spec.volumeClaimTemplates[{i}].metadata.name"
            if not name:
                errs.append(v.required(path))
            else:
                errs += [v.invalid(path, name, m) for m in v.dns1123_subdomain(name)]
                if name in names:
                    errs.append(v.duplicate(path, name))
            names.add(name)
            if not (claim.get("spec") or {}).get("accessModes"):
                errs.append(FieldError(f"spec.volumeClaimTemplates[{i}].spec.accessModes", v.REQUIRED,
                                       "Required value: at least 1 access mode is required"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = self.validate(new) + v.validate_object_meta_update(new, old)
        ns, os_ = new.get("spec") or {}, old.get("spec") or {}
        if any(ns.get(k) != os_.get(k) for k in ns.keys() | os_.keys() if k not in _MUTABLE):
            errs.append(v.forbidden("spec", _IMMUTABLE_MSG))
        return errs

    def scale(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = super().scale(obj)
        try:
            out["status"]["selector"] = str(labels.from_label_selector((obj.get("spec") or {}).get("selector") or {}))
        except ValueError:
            pass
        return out
