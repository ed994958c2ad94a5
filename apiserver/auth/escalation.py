"""Escalation prevention: no one grants, through a Role, ClusterRole or binding, a permission
they do not hold themselves (Kubernetes' ``pkg/registry/rbac/*/policybased`` storages and
``pkg/registry/rbac/validation``).

A write of a role is allowed when the user is in ``system:masters``, may ``escalate`` that
role, or already holds every rule it carries (in the role's namespace). A write of a binding is
allowed when the user is in ``system:masters``, may ``bind`` the role it references, or holds
every rule of that role. Setting a ClusterRole's ``aggregationRule`` needs every permission
(``*`` on ``*.*`` and every URL). Refusals are 403 with Kubernetes' text::

    roles.rbac.authorization.k8s.io "r" is forbidden: user "bob" (groups=["system:authenticated"]) is
    attempting to grant RBAC permissions not currently held:
    {APIGroups:[""], Resources:["pods"], Verbs:["create"]}

The check runs as a REST write hook (``before_write``), after validation, on the final object
of a create, update or patch; the app first lets the watch cache catch up with every
acknowledged write (``GUARDED``), so a grant made a moment before counts. The user comes from :mod:`apiserver.auth.request_user`; a write
with no request user is the apiserver's own (bootstrap policy) and is not checked.
"""

from __future__ import annotations

from typing import Any

from apiserver import errors
from apiserver.auth import request_user
from apiserver.auth import user as u
from apiserver.auth.attributes import Attributes, Authorizer, Decision
from apiserver.auth.rbac import ALL, PolicyIndex, Rule
from apiserver.validation import FieldError
from minik8s.api import resources as rs

GROUP = "rbac.authorization.k8s.io"
FULL_AUTHORITY = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                  {"verbs": ["*"], "nonResourceURLs": ["*"]}]


# ---- Covers: does a set of rules hold every permission of another --------------------------

def breakdown(rule: dict[str, Any]) -> list[dict[str, Any]]:
    """One rule per verb × group × resource (× name), and per verb × URL."""
    out: list[dict[str, Any]] = []
    verbs = rule.get("verbs") or []
    names = rule.get("resourceNames") or []
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in verbs:
                base = {"apiGroups": [group], "resources": [resource], "verbs": [verb]}
                if names:
                    out += [{**base, "resourceNames": [n]} for n in names]
                else:
                    out.append(base)
    for url in rule.get("nonResourceURLs") or []:
        out += [{"nonResourceURLs": [url], "verbs": [verb]} for verb in verbs]
    return out


def _resources_cover(owner: frozenset[str], wanted: list[str]) -> bool:
    if ALL in owner:
        return True
    for res in wanted:
        if res in owner:
            continue
        if "/" not in res or "*/" + res.split("/", 1)[1] not in owner:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def rule_covers(owner: Rule, sub: dict[str, Any]) -> bool:
    verbs, groups = sub.get("verbs") or [], sub.get("apiGroups") or []
    if ALL not in owner.verbs and not all(v in owner.verbs for v in verbs):
        return False
    if ALL not in owner.api_groups and not all(g in owner.api_groups for g in groups):
        return False
    if not _resources_cover(owner.resources, sub.get("resources") or []):
        return False
    if not all(any(_url_covers(o, p) for o in owner.non_resource_urls) for p in sub.get("nonResourceURLs") or []):
        return False
    names = sub.get("resourceNames") or []
    return not owner.resource_names or bool(names) and all(n in owner.resource_names for n in names)


def uncovered(owner: list[Rule], wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pieces of ``wanted`` no rule of ``owner`` covers (empty: fully covered)."""
    return [sub for rule in wanted for sub in breakdown(rule) if not any(rule_covers(o, sub) for o in owner)]


def compact(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Simple resource rules that differ only by verb become one rule (CompactRules)."""
    out: list[dict[str, Any]] = []
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rules:
        if r.get("nonResourceURLs"):
            out.append(r)
            continue
        key = (tuple(r.get("apiGroups") or ()), tuple(r.get("resources") or ()), tuple(r.get("resourceNames") or ()))
        if key in merged:
            if r["verbs"][0] not in merged[key]["verbs"]:
                merged[key]["verbs"].append(r["verbs"][0])
        else:
            merged[key] = {**r, "verbs": list(r["verbs"])}
            out.append(merged[key])
    return out


def _go_quote_list(items: list[str]) -> str:
    """Go's ``%q`` of a ``[]string``: ``["a" "b"]``."""
    return "[" + " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in items) + "]"


def compact_string(rule: dict[str, Any]) -> str:
    parts = []
    for field, label in (("apiGroups", "APIGroups"), ("resources", "Resources"),
                         ("nonResourceURLs", "NonResourceURLs"), ("resourceNames", "ResourceNames"),
                         ("verbs", "Verbs")):
        if rule.get(field):
            parts.append(f"{label}:{_go_quote_list(rule[field])}")
    return "{" + ", ".join(parts) + "}"


def escalation_message(user: u.UserInfo, missing: list[dict[str, Any]], resolution_errors: list[str]) -> str:
    lines = sorted({compact_string(r) for r in compact(missing)})
    msg = (f'user "{user.name}" (groups={_go_quote_list(list(user.groups))}) is attempting to grant RBAC '
           f"permissions not currently held:\n" + "\n".join(lines))
    if resolution_errors:
        msg += "; resolution errors: [" + ", ".join(resolution_errors) + "]"
    return msg


# ---- the write hooks -----------------------------------------------------------------------

def _privileged(user: u.UserInfo) -> bool:
    return u.MASTERS in user.groups


class _Guard:
    """Shared by the four hooks: the policy index and the authorizer asked about escalate/bind."""

    def __init__(self, index: PolicyIndex, authorizer: Authorizer) -> None:
        self.index = index
        self.authorizer = authorizer

    def allowed(self, user: u.UserInfo, verb: str, resource: str, name: str, namespace: str) -> bool:
        attrs = Attributes(user=user, verb=verb, resource_request=True, namespace=namespace, api_group=GROUP,
                           api_version="v1", resource=resource, name=name)
        return self.authorizer.authorize(attrs).decision is Decision.ALLOW

    def confirm_no_escalation(self, user: u.UserInfo, namespace: str, rules: list[dict[str, Any]]) -> str | None:
        owned, errs = self.index.rules_for(user, namespace)
        missing = uncovered(owned, rules)
        return escalation_message(user, missing, errs) if missing else None

    def after_write(self, new: dict[str, Any] | None, old: dict[str, Any] | None, *, ok: bool) -> None:
        pass


def _forbidden(rt: rs.ResourceType, name: str, why: str) -> errors.Forbidden:
    return errors.Forbidden(f'{rt.group_resource} "{name}" is forbidden: {why}',
                            details={"name": name, "group": rt.group, "kind": rt.plural})


class RoleGuard(_Guard):
    """Roles and ClusterRoles: ``escalate``, or hold every rule granted."""

    def __init__(self, index: PolicyIndex, authorizer: Authorizer, rt: rs.ResourceType) -> None:
        super().__init__(index, authorizer)
        self.rt = rt

    def before_write(self, new: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        user = request_user.get()
        if user is None or _privileged(user):
            return []
        md = new["metadata"]
        name, ns = md["name"], md.get("namespace") or ""
        if old is not None and _only_metadata_changed(new, old):
            return []
        if self.allowed(user, "escalate", self.rt.plural, name, ns):
            return []
        why = self.confirm_no_escalation(user, ns, new.get("rules") or [])
        if why:
            raise _forbidden(self.rt, name, why)
        if new.get("aggregationRule") and self.confirm_no_escalation(user, ns, FULL_AUTHORITY):
            raise _forbidden(self.rt, name, "must have cluster-admin privileges to use the aggregationRule")
        return []


class BindingGuard(_Guard):
    """RoleBindings and ClusterRoleBindings: ``bind`` the role, or hold every rule of it."""

    def __init__(self, index: PolicyIndex, authorizer: Authorizer, rt: rs.ResourceType) -> None:
        super().__init__(index, authorizer)
        self.rt = rt

    def before_write(self, new: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        user = request_user.get()
        if user is None or _privileged(user):
            return []
        if old is not None and _only_metadata_changed(new, old):
            return []
        md = new["metadata"]
        name, ns = md["name"], md.get("namespace") or ""
        ref = new.get("roleRef") or {}
        role_resource = "clusterroles" if ref.get("kind") == "ClusterRole" else "roles"
        if self.allowed(user, "bind", role_resource, ref.get("name") or "", ns):
            return []
        rules = self.index.role_rules(ref.get("kind") or "", ref.get("name") or "", ns)
        if isinstance(rules, str):
            raise errors.BadRequest(rules)
        why = self.confirm_no_escalation(user, ns, [r.source for r in rules])
        if why:
            raise _forbidden(self.rt, name, why)
        return []


def _only_metadata_changed(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Kubernetes lets a write through unchecked when it changes only what the garbage
    collector needs (ownerReferences, finalizers); here: when no rule, selector, subject or
    roleRef changed at all."""
    return all(new.get(f) == old.get(f) for f in ("rules", "aggregationRule", "subjects", "roleRef"))


GUARDED = (rs.ROLES, rs.CLUSTERROLES, rs.ROLEBINDINGS, rs.CLUSTERROLEBINDINGS)


def write_hooks(index: PolicyIndex, authorizer: Authorizer) -> dict[rs.ResourceType, Any]:
    return {rs.ROLES: RoleGuard(index, authorizer, rs.ROLES),
            rs.CLUSTERROLES: RoleGuard(index, authorizer, rs.CLUSTERROLES),
            rs.ROLEBINDINGS: BindingGuard(index, authorizer, rs.ROLEBINDINGS),
            rs.CLUSTERROLEBINDINGS: BindingGuard(index, authorizer, rs.CLUSTERROLEBINDINGS)}
