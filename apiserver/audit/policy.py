"""The audit policy (``--audit-policy-file``): an audit.k8s.io/v1 ``Policy`` whose rules are
matched in order against each request; the first match gives its level (Kubernetes'
``policy.Checker``).

A rule matches when every selector it has matches: ``users`` (the requester's name),
``userGroups`` (any of its groups), ``verbs``, and either resource selectors (``namespaces``,
``""`` naming cluster-scoped requests; ``resources``: ``group`` + ``resources`` such as
``pods``, ``pods/log``, ``*/status``, ``deployments/*`` or ``*``, optionally ``resourceNames``)
which only resource requests match, or ``nonResourceURLs`` (exact, or a prefix with a
trailing ``*``) which only non-resource requests match. No rule matching means level
``None``. The stages omitted are the policy's ``omitStages`` with the rule's;
``omitManagedFields`` of the rule, when set, wins over the policy's.

A malformed file is refused at start with an error naming the field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml

from apiserver.auth.attributes import Attributes

__all__ = ["LEVELS", "STAGES", "Decision", "Policy", "PolicyError", "load", "parse"]

LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
_RULE_FIELDS = frozenset(("level", "users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs",
                          "omitStages", "omitManagedFields"))
_GROUP_FIELDS = frozenset(("group", "resources", "resourceNames"))


class PolicyError(ValueError):
    """The policy file is malformed; the message names the field."""


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """What the policy says of one request."""

    level: str
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class GroupResources:
    group: str
    resources: tuple[str, ...]
    resource_names: tuple[str, ...]

    def matches(self, attrs: Attributes) -> bool:
        if self.group != attrs.api_group:
            return False
        if not self.resources:
            return True
        if self.resource_names and attrs.name not in self.resource_names:
            return False
        combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        for res in self.resources:
            if res in (combined, "*"):
                return True
            if attrs.subresource and res.startswith("*/") and attrs.subresource == res[2:]:
                return True
            if res.endswith("/*") and attrs.resource == res[:-2]:
                return True
        return False


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    level: str
    users: frozenset[str] = frozenset()
    user_groups: frozenset[str] = frozenset()
    verbs: frozenset[str] = frozenset()
    resources: tuple[GroupResources, ...] = ()
    namespaces: frozenset[str] = frozenset()
    non_resource_urls: tuple[str, ...] = ()
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool | None = None

    def matches(self, attrs: Attributes, user: Any) -> bool:
        if self.users and (user is None or user.name not in self.users):
            return False
        if self.user_groups and (user is None or not self.user_groups.intersection(user.groups)):
            return False
        if self.verbs and attrs.verb not in self.verbs:
            return False
        if self.namespaces or self.resources:
            if not attrs.resource_request:
                return False
            if self.namespaces and attrs.namespace not in self.namespaces:
                return False
            if self.resources and not any(g.matches(attrs) for g in self.resources):
                return False
        if self.non_resource_urls:
            if attrs.resource_request:
                return False
            if not any(attrs.path == u or (u.endswith("*") and attrs.path.startswith(u[:-1]))
                       for u in self.non_resource_urls):
                return False
        return True


@dataclasses.dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[Rule, ...]
    omit_stages: frozenset[str] = frozenset()
    omit_managed_fields: bool = False

    def decide(self, attrs: Attributes, user: Any) -> Decision:
        """The level, stages to omit and managedFields handling for a request.

        The answer depends on nothing else, and ``attrs`` come from requestinfo's cache of
        recent ones (most requests repeat one shape), so recent answers are kept by the
        identity of their arguments: hashing the frozen attributes each time would cost more
        than walking the rules."""
        key = (id(attrs), id(user))
        hit = _recent.get(key)
        if hit is not None and hit[0] is attrs and hit[1] is user and hit[2] is self:
            return hit[3]
        decision = self._decide(attrs, user)
        if len(_recent) >= 4096:
            _recent.clear()
        _recent[key] = (attrs, user, self, decision)  # holding them keeps their ids unique
        return decision

    def _decide(self, attrs: Attributes, user: Any) -> Decision:
        for rule in self.rules:
            if rule.matches(attrs, user):
                omf = self.omit_managed_fields if rule.omit_managed_fields is None else rule.omit_managed_fields
                return Decision(rule.level, self.omit_stages | rule.omit_stages, omf)
        return Decision("None", self.omit_stages, self.omit_managed_fields)


_recent: dict[tuple[int, int], tuple[Any, Any, Policy, Decision]] = {}


def _strings(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{field}: must be a list of strings")
    return tuple(value)


def _stages(value: Any, field: str) -> frozenset[str]:
    stages = _strings(value, field)
    for i, s in enumerate(stages):
        if s not in STAGES:
            raise PolicyError(f'{field}[{i}]: Unsupported value: "{s}": supported values: '
                              + ", ".join(f'"{x}"' for x in STAGES))
    return frozenset(stages)


def _bool(value: Any, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise PolicyError(f"{field}: must be a boolean")


def _rule(raw: Any, field: str) -> Rule:
    if not isinstance(raw, dict):
        raise PolicyError(f"{field}: must be an object")
    unknown = sorted(set(raw) - _RULE_FIELDS)
    if unknown:
        raise PolicyError(f'{field}: unknown field "{unknown[0]}"')
    level = raw.get("level")
    if level not in LEVELS:
        raise PolicyError(f'{field}.level: Unsupported value: "{level}": supported values: '
                          + ", ".join(f'"{x}"' for x in LEVELS) if level else f"{field}.level: Required value")
    urls = _strings(raw.get("nonResourceURLs"), f"{field}.nonResourceURLs")
    groups: list[GroupResources] = []
    for j, g in enumerate(raw.get("resources") or []):
        gf = f"{field}.resources[{j}]"
        if not isinstance(g, dict):
            raise PolicyError(f"{gf}: must be an object")
        unknown = sorted(set(g) - _GROUP_FIELDS)
        if unknown:
            raise PolicyError(f'{gf}: unknown field "{unknown[0]}"')
        group = g.get("group") or ""
        if not isinstance(group, str):
            raise PolicyError(f"{gf}.group: must be a string")
        resources = _strings(g.get("resources"), f"{gf}.resources")
        names = _strings(g.get("resourceNames"), f"{gf}.resourceNames")
        for k, res in enumerate(resources):
            if res != "*" and res.count("/") > 1 or res == "":
                raise PolicyError(f'{gf}.resources[{k}]: Invalid value: "{res}": a resource, resource/subresource, '
                                  "*, */subresource or resource/*")
        if names and any("*" in r for r in resources):
            raise PolicyError(f"{gf}.resourceNames: Invalid value: resourceNames cannot be given with wildcard "
                              "resources")
        groups.append(GroupResources(group, resources, names))
    namespaces = _strings(raw.get("namespaces"), f"{field}.namespaces")
    if urls and (groups or namespaces):
        raise PolicyError(f"{field}.nonResourceURLs: Invalid value: rules cannot apply to both regular resources "
                          "and non-resource URLs")
    for k, u in enumerate(urls):
        if "*" in u[:-1]:
            raise PolicyError(f'{field}.nonResourceURLs[{k}]: Invalid value: "{u}": "*" may only end a URL')
    return Rule(level=level, users=frozenset(_strings(raw.get("users"), f"{field}.users")),
                user_groups=frozenset(_strings(raw.get("userGroups"), f"{field}.userGroups")),
                verbs=frozenset(_strings(raw.get("verbs"), f"{field}.verbs")), resources=tuple(groups),
                namespaces=frozenset(namespaces), non_resource_urls=urls,
                omit_stages=_stages(raw.get("omitStages"), f"{field}.omitStages"),
                omit_managed_fields=_bool(raw.get("omitManagedFields"), f"{field}.omitManagedFields"))


def parse(doc: Any) -> Policy:
    """A Policy from its decoded document."""
    if not isinstance(doc, dict):
        raise PolicyError("the policy must be an audit.k8s.io/v1 Policy object")
    if doc.get("apiVersion") != "audit.k8s.io/v1" or doc.get("kind") != "Policy":
        raise PolicyError(f'apiVersion/kind: expected audit.k8s.io/v1 Policy, got '
                          f'{doc.get("apiVersion")!r}/{doc.get("kind")!r}')
    rules = doc.get("rules")
    if rules is None:
        rules = []
    if not isinstance(rules, list):
        raise PolicyError("rules: must be a list")
    return Policy(tuple(_rule(r, f"rules[{i}]") for i, r in enumerate(rules)),
                  _stages(doc.get("omitStages"), "omitStages"),
                  bool(_bool(doc.get("omitManagedFields"), "omitManagedFields")))


def load(path: str) -> Policy:
    """The policy in ``path`` (YAML or JSON)."""
    with open(path, "rb") as f:
        try:
            doc = yaml.safe_load(f)
        except yaml.YAMLError as e:
            raise PolicyError(f"not YAML: {e}") from None
    policy = parse(doc)
    if not policy.rules:  # as kube-apiserver: an empty policy is a mistake, not "audit nothing"
        raise PolicyError(f"loaded illegal policy with 0 rules from file {path}")
    return policy
