"""API behaviour of rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding,
ClusterRoleBinding (Kubernetes' ``pkg/registry/rbac`` strategies and
``pkg/apis/rbac/validation``).

None of them has a status or counts generations. Names are path segments (``system:node`` is
valid). A binding's ``roleRef`` never changes after creation. Who may write these objects
(escalation prevention) is decided in ``apiserver/auth/escalation.py``, not here.
"""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError
from minik8s import labels
from minik8s.api.rbac import GROUP

SERVICE_ACCOUNT, USER, GROUP_KIND = "ServiceAccount", "User", "Group"


def path_segment_name(name: str) -> list[str]:
    """``path.IsValidPathSegmentName``: what Kubernetes allows as an RBAC object's name."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def validate_policy_rule(rule: dict[str, Any], namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not rule.get("verbs"):
        errs.append(FieldError(f"{path}.verbs", v.REQUIRED, "Required value: verbs must contain at least one value"))
    urls = rule.get("nonResourceURLs")
    if urls:
        if namespaced:
            errs.append(v.invalid(f"{path}.nonResourceURLs", urls, "namespaced rules cannot apply to "
                                  "non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            errs.append(v.invalid(f"{path}.nonResourceURLs", urls, "rules cannot apply to both regular "
                                  "resources and non-resource URLs"))
        return errs
    if not rule.get("apiGroups"):
        errs.append(FieldError(f"{path}.apiGroups", v.REQUIRED,
                               "Required value: resource rules must supply at least one api group"))
    if not rule.get("resources"):
        errs.append(FieldError(f"{path}.resources", v.REQUIRED,
                               "Required value: resource rules must supply at least one resource"))
    return errs


def validate_subject(subject: dict[str, Any], namespaced: bool, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name, kind, group = subject.get("name") or "", subject.get("kind") or "", subject.get("apiGroup") or ""
    if not name:
        errs.append(v.required(f"{path}.name"))
    if kind == SERVICE_ACCOUNT:
        if name:
            errs += [v.invalid(f"{path}.name", name, m) for m in v.dns1123_subdomain(name)]
        if group:
            errs.append(v.not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            errs.append(v.required(f"{path}.namespace"))
    elif kind in (USER, GROUP_KIND):
        if group != GROUP:
            errs.append(v.not_supported(f"{path}.apiGroup", group, [GROUP]))
    else:
        errs.append(v.not_supported(f"{path}.kind", kind, [SERVICE_ACCOUNT, USER, GROUP_KIND]))
    return errs


class _Rbac(Strategy):
    status_field = None
    uses_generation = False
    #: kubectl apply / reconcilers may PUT without a resourceVersion, as Kubernetes allows here
    allow_unconditional_update = True

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        return v.validate_object_meta(obj, name_rule=path_segment_name)


class RoleStrategy(_Rbac):
    namespaced_rules = True

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        for i, rule in enumerate(obj.get("rules") or []):
            errs += validate_policy_rule(rule, self.namespaced_rules, f"rules[{i}]")
        return errs


class ClusterRoleStrategy(RoleStrategy):
    namespaced_rules = False

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        agg = obj.get("aggregationRule")
        if agg is not None:
            selectors = agg.get("clusterRoleSelectors") or []
            if not selectors:
                errs.append(FieldError("aggregationRule.clusterRoleSelectors", v.REQUIRED,
                                       "Required value: at least one clusterRoleSelector required if "
                                       "aggregationRule is non-nil"))
            for i, sel in enumerate(selectors):
                try:
                    labels.from_label_selector(sel)
                except ValueError as e:
                    errs.append(v.invalid(f"aggregationRule.clusterRoleSelectors[{i}]", sel, str(e)))
        return errs


class RoleBindingStrategy(_Rbac):
    namespaced = True
    role_kinds: tuple[str, ...] = ("Role", "ClusterRole")

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        ref = obj.get("roleRef") or {}
        if ref.get("apiGroup") != GROUP:
            errs.append(v.not_supported("roleRef.apiGroup", ref.get("apiGroup") or "", [GROUP]))
        if ref.get("kind") not in self.role_kinds:
            errs.append(v.not_supported("roleRef.kind", ref.get("kind") or "", list(self.role_kinds)))
        name = ref.get("name") or ""
        if not name:
            errs.append(v.required("roleRef.name"))
        else:
            errs += [v.invalid("roleRef.name", name, m) for m in path_segment_name(name)]
        for i, s in enumerate(obj.get("subjects") or []):
            errs += validate_subject(s, self.namespaced, f"subjects[{i}]")
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if new.get("roleRef") != old.get("roleRef"):
            errs.append(v.invalid("roleRef", new.get("roleRef"), "cannot change roleRef"))
        return errs


class ClusterRoleBindingStrategy(RoleBindingStrategy):
    namespaced = False
    role_kinds = ("ClusterRole",)
