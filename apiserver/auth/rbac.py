"""The RBAC authorizer (Kubernetes' ``plugin/pkg/auth/authorizer/rbac``): a request is allowed
when some rule of a role bound to the user allows it.

``PolicyIndex`` follows the watch cache's roles, clusterroles, rolebindings and
clusterrolebindings through synchronous listeners (``WatchCache.listen``), so a decision never
reads the store and never lags the cache. It keeps:

* each role's rules compiled (frozensets) once per change, not per request;
* bindings indexed by subject (``User`` name, ``Group`` name, ``ServiceAccount`` namespace and
  name) and by the namespace they act in (``""`` for a ClusterRoleBinding), so a decision
  looks at the bindings of the user's few subjects in two namespaces, never at all bindings.

Matching follows Kubernetes: ``*`` matches every verb, group, resource (``*/status`` every
resource's status subresource), resourceNames narrow to the named objects, a nonResourceURL
ending in ``*`` is a prefix. A binding naming a role that does not exist grants nothing and
is reported in the reason (``RBAC: clusterrole.rbac.authorization.k8s.io "x" not found``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from apiserver.auth import user as u
from apiserver.auth.attributes import Attributes, Decision, Verdict
from minik8s.api import resources as rs

ALL = "*"


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """A PolicyRule, compiled for matching."""

    verbs: frozenset[str]
    api_groups: frozenset[str]
    resources: frozenset[str]
    resource_names: frozenset[str]
    non_resource_urls: tuple[str, ...]
    source: dict[str, Any]  # the rule as stored (for rules reviews and escalation checks)

    @classmethod
    def of(cls, rule: dict[str, Any]) -> Rule:
        return cls(frozenset(rule.get("verbs") or ()), frozenset(rule.get("apiGroups") or ()),
                   frozenset(rule.get("resources") or ()), frozenset(rule.get("resourceNames") or ()),
                   tuple(rule.get("nonResourceURLs") or ()), rule)

    def allows(self, attrs: Attributes) -> bool:
        if ALL not in self.verbs and attrs.verb not in self.verbs:
            return False
        if not attrs.resource_request:
            return any(url_matches(p, attrs.path) for p in self.non_resource_urls)
        if ALL not in self.api_groups and attrs.api_group not in self.api_groups:
            return False
        if not self.resource_matches(attrs.resource, attrs.subresource):
            return False
        return not self.resource_names or attrs.name in self.resource_names

    def resource_matches(self, resource: str, subresource: str) -> bool:
        res = self.resources
        if ALL in res:
            return True
        if not subresource:
            return resource in res
        return f"{resource}/{subresource}" in res or f"*/{subresource}" in res


def url_matches(rule_url: str, path: str) -> bool:
    if rule_url == ALL or rule_url == path:
        return True
    return rule_url.endswith("*") and path.startswith(rule_url[:-1])


@dataclasses.dataclass(frozen=True, slots=True)
class Binding:
    kind: str  # RoleBinding | ClusterRoleBinding
    namespace: str  # "" for a ClusterRoleBinding
    name: str
    role_kind: str  # Role | ClusterRole
    role_name: str

    def describe(self, subject: tuple[str, ...]) -> str:
        """As Kubernetes names the source of a rule in an ``allowed by`` reason."""
        kind, name = subject[0], subject[-1]
        who = f'{kind} "{name}/{subject[1]}"' if kind == "ServiceAccount" else f'{kind} "{name}"'
        own = f"{self.name}/{self.namespace}" if self.namespace else self.name
        return f'{self.kind} "{own}" of {self.role_kind} "{self.role_name}" to {who}'


# A subject key: ("User", name) | ("Group", name) | ("ServiceAccount", namespace, name)
SubjectKey = tuple[str, ...]


def subject_keys(user: u.UserInfo) -> list[SubjectKey]:
    """The binding subjects that apply to ``user``."""
    keys: list[SubjectKey] = [("User", user.name)]
    keys += [("Group", g) for g in user.groups]
    if user.name.startswith(u.SERVICEACCOUNT_PREFIX):
        ns, _, name = user.name[len(u.SERVICEACCOUNT_PREFIX):].partition(":")
        if ns and name and ":" not in name:
            keys.append(("ServiceAccount", ns, name))
    return keys


def binding_subject_keys(subjects: list[dict[str, Any]] | None, namespace: str) -> list[SubjectKey]:
    out: list[SubjectKey] = []
    for s in subjects or []:
        kind, name = s.get("kind"), s.get("name") or ""
        if kind in ("User", "Group"):
            out.append((kind, name))
        elif kind == "ServiceAccount":
            ns = s.get("namespace") or namespace  # a RoleBinding's SA defaults to its namespace
            if ns:
                out.append(("ServiceAccount", ns, name))
    return out


class PolicyIndex:
    """Roles and bindings as the authorizers need them, kept current by the watch cache."""

    def __init__(self) -> None:
        self.roles: dict[tuple[str, str], tuple[Rule, ...]] = {}
        self.cluster_roles: dict[str, tuple[Rule, ...]] = {}
        # subject → binding namespace ("" cluster-wide) → bindings
        self.by_subject: dict[SubjectKey, dict[str, list[Binding]]] = {}
        self._binding_subjects: dict[tuple[str, str, str], list[SubjectKey]] = {}

    # ---- following the cache -----------------------------------------------------------

    def attach(self, cache: Any) -> None:
        """Load the current objects of ``cache`` (a WatchCache) and follow its events."""
        for plural in (rs.ROLES.plural, rs.CLUSTERROLES.plural, rs.ROLEBINDINGS.plural,
                       rs.CLUSTERROLEBINDINGS.plural):
            handler = self._handler(plural)
            for obj in cache.listen(plural, lambda ev, h=handler: h(ev.obj, ev.type == "DELETED")):
                handler(obj, False)

    def _handler(self, plural: str) -> Any:
        return {rs.ROLES.plural: self.set_role, rs.CLUSTERROLES.plural: self.set_cluster_role,
                rs.ROLEBINDINGS.plural: self.set_binding,
                rs.CLUSTERROLEBINDINGS.plural: self.set_binding}[plural]

    def set_role(self, obj: dict[str, Any], deleted: bool = False) -> None:
        md = obj["metadata"]
        key = (md.get("namespace") or "", md["name"])
        if deleted:
            self.roles.pop(key, None)
        else:
            self.roles[key] = tuple(Rule.of(r) for r in obj.get("rules") or ())

    def set_cluster_role(self, obj: dict[str, Any], deleted: bool = False) -> None:
        name = obj["metadata"]["name"]
        if deleted:
            self.cluster_roles.pop(name, None)
        else:
            self.cluster_roles[name] = tuple(Rule.of(r) for r in obj.get("rules") or ())

    def set_binding(self, obj: dict[str, Any], deleted: bool = False) -> None:
        md = obj["metadata"]
        kind = obj.get("kind") or ("RoleBinding" if md.get("namespace") else "ClusterRoleBinding")
        ns = md.get("namespace") or ""
        ident = (kind, ns, md["name"])
        for key in self._binding_subjects.pop(ident, ()):
            per_ns = self.by_subject.get(key)
            if per_ns is None:
                continue
            kept = [b for b in per_ns.get(ns, ()) if (b.kind, b.namespace, b.name) != ident]
            if kept:
                per_ns[ns] = kept
            else:
                per_ns.pop(ns, None)
                if not per_ns:
                    del self.by_subject[key]
        if deleted:
            return
        ref = obj.get("roleRef") or {}
        binding = Binding(kind, ns, md["name"], ref.get("kind") or "", ref.get("name") or "")
        keys = list(dict.fromkeys(binding_subject_keys(obj.get("subjects"), ns)))
        self._binding_subjects[ident] = keys
        for key in keys:
            self.by_subject.setdefault(key, {}).setdefault(ns, []).append(binding)

    # ---- resolving ----------------------------------------------------------------------

    def role_rules(self, role_kind: str, role_name: str, namespace: str) -> tuple[Rule, ...] | str:
        """The rules a roleRef names, or the error text when it names nothing."""
        if role_kind == "ClusterRole":
            rules = self.cluster_roles.get(role_name)
            return rules if rules is not None else f'clusterrole.rbac.authorization.k8s.io "{role_name}" not found'
        if role_kind == "Role":
            rules = self.roles.get((namespace, role_name))
            return rules if rules is not None else f'role.rbac.authorization.k8s.io "{role_name}" not found'
        return f'unsupported role reference kind: "{role_kind}"'

    def visit(self, user: u.UserInfo, namespace: str) -> Iterator[tuple[str, tuple[Rule, ...] | str]]:
        """(source, rules) of every binding that applies to ``user`` in ``namespace`` —
        ClusterRoleBindings first, then the namespace's RoleBindings; ``rules`` is an error text
        when the binding's role is missing. Sources are built lazily by the caller's need."""
        keys = subject_keys(user)
        seen: set[Binding] = set()
        for scope in ("", namespace) if namespace else ("",):
            for key in keys:
                per_ns = self.by_subject.get(key)
                if per_ns is None:
                    continue
                for b in per_ns.get(scope, ()):
                    if b in seen:
                        continue
                    seen.add(b)
                    yield b.describe(key), self.role_rules(b.role_kind, b.role_name, b.namespace)

    def rules_for(self, user: u.UserInfo, namespace: str) -> tuple[list[Rule], list[str]]:
        """Every rule that applies to ``user`` in ``namespace``, and the resolution errors."""
        rules: list[Rule] = []
        errors: list[str] = []
        for _, found in self.visit(user, namespace):
            if isinstance(found, str):
                errors.append(found)
            else:
                rules.extend(found)
        return rules, errors


def aggregate(errors: list[str]) -> str:
    """Kubernetes' ``utilerrors.NewAggregate`` text."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


class RBACAuthorizer:
    """Allows what a bound role's rule allows; otherwise no opinion (the chain goes on)."""

    def __init__(self, index: PolicyIndex) -> None:
        self.index = index

    def authorize(self, attrs: Attributes) -> Verdict:
        errors: list[str] = []
        idx = self.index
        keys = subject_keys(attrs.user)
        ns = attrs.namespace
        for scope in ("", ns) if ns else ("",):
            for key in keys:
                per_ns = idx.by_subject.get(key)
                if per_ns is None:
                    continue
                for b in per_ns.get(scope, ()):
                    rules = idx.role_rules(b.role_kind, b.role_name, b.namespace)
                    if isinstance(rules, str):
                        errors.append(rules)
                        continue
                    for rule in rules:
                        if rule.allows(attrs):
                            return Verdict(Decision.ALLOW, f"RBAC: allowed by {b.describe(key)}")
        return Verdict(Decision.NO_OPINION, f"RBAC: {aggregate(errors)}" if errors else "")
