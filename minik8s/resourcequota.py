"""What an object costs a ResourceQuota, and whether a quota applies to it: shared by the
apiserver's quota admission (which charges a create) and the quota controller (which recounts
``status.used``), as Kubernetes shares ``pkg/quota/v1`` between the two.

Resource names (Kubernetes' ``IsStandardQuotaResourceName`` and object counts):

* ``pods``, ``cpu``/``requests.cpu``, ``memory``/``requests.memory``, ``limits.cpu``,
  ``limits.memory`` (and the ephemeral-storage ones): what live pods ask for. A pod in a
  terminal phase, or deleted with its grace period over, no longer counts;
* ``services``, ``configmaps``, ``secrets``, ``persistentvolumeclaims``, ... : how many
  objects of the kind exist; ``services.nodeports`` / ``services.loadbalancers``;
  ``requests.storage``: the storage claims ask for;
* ``count/<resource>.<group>`` (``count/deployments.apps``, ``count/pods``): how many objects
  are stored, whatever their state.

Scopes restrict which pods a quota sees: ``BestEffort`` / ``NotBestEffort`` (the QoS class),
``Terminating`` / ``NotTerminating`` (``spec.activeDeadlineSeconds`` set or not) and
``PriorityClass`` (through ``scopeSelector`` with In/NotIn/Exists/DoesNotExist on the pod's
``priorityClassName``). Usage is a ``dict[str, Fraction]``; quantities are formatted back with
the form the quota's own ``hard`` value was written in.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from minik8s import qos, quantity
from minik8s.timestamps import to_unix

__all__ = [
    "STANDARD_RESOURCES", "SCOPES", "Usage", "is_valid_resource_name", "is_integer_resource",
    "usage", "handled_resources", "scope_selectors", "matches", "add", "mask", "exceeded",
    "pretty_print", "format_usage", "parse_list", "pod_counts",
]

Usage = dict[str, Fraction]

_POD_COMPUTE = ("cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
                "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage")
POD_RESOURCES = frozenset(("pods", "count/pods", *_POD_COMPUTE))
SERVICE_RESOURCES = frozenset(("services", "count/services", "services.nodeports", "services.loadbalancers"))
PVC_RESOURCES = frozenset(("persistentvolumeclaims", "count/persistentvolumeclaims", "requests.storage"))
# A plain count of stored objects, by the quota name Kubernetes uses for it.
_OBJECT_COUNTS = {"configmaps": "configmaps", "secrets": "secrets", "resourcequotas": "resourcequotas",
                  "replicationcontrollers": "replicationcontrollers"}

STANDARD_RESOURCES = frozenset((
    "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
    "persistentvolumeclaims", "services.nodeports", "services.loadbalancers", "requests.storage",
    *_POD_COMPUTE,
))
# Resources counted in whole objects: a fractional hard value is refused.
_INTEGER_RESOURCES = frozenset((
    "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
    "persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
))
SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
          "CrossNamespacePodAffinity")
# BestEffort pods ask for nothing, so a BestEffort quota may only count them.
_BEST_EFFORT_RESOURCES = frozenset(("pods", "count/pods"))

_ONE = Fraction(1)


def is_valid_resource_name(name: str) -> bool:
    """A standard quota resource, an object count, or a qualified (extended) resource name."""
    if "/" not in name:
        return name in STANDARD_RESOURCES or name.startswith(("hugepages-", "requests.hugepages-"))
    return True


def is_integer_resource(name: str) -> bool:
    return name in _INTEGER_RESOURCES or name.startswith("count/")


def count_name(plural: str, group: str) -> str:
    """``count/deployments.apps``; the core group has no suffix (``count/pods``)."""
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def parse_list(values: Mapping[str, Any] | None) -> Usage:
    out: Usage = {}
    for k, v in (values or {}).items():
        try:
            out[k] = quantity.parse_quantity(v)
        except ValueError:
            continue
    return out


def add(a: Mapping[str, Fraction], b: Mapping[str, Fraction]) -> Usage:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, Fraction(0)) + v
    return out


def mask(values: Mapping[str, Fraction], names: Iterable[str]) -> Usage:
    keep = set(names)
    return {k: v for k, v in values.items() if k in keep}


def exceeded(new_used: Mapping[str, Fraction], hard: Mapping[str, Fraction]) -> list[str]:
    """The resources of ``new_used`` above their ``hard`` value."""
    return sorted(k for k, v in new_used.items() if k in hard and v > hard[k])


def format_usage(values: Mapping[str, Fraction], forms: Mapping[str, str] | None = None) -> dict[str, str]:
    """Quantities as strings; each in the form (``1Gi`` / ``500m``) of ``forms[name]``."""
    out = {}
    for k, v in values.items():
        fmt = quantity.DECIMAL_SI
        if forms and k in forms:
            try:
                fmt = quantity.parse(forms[k]).format
            except ValueError:
                pass
        out[k] = quantity.format_quantity(v, fmt)
    return out


def pretty_print(values: Mapping[str, Fraction], forms: Mapping[str, str] | None = None) -> str:
    """``limits.cpu=1,pods=2``: sorted by name, as Kubernetes prints usage in its errors."""
    shown = format_usage(values, forms)
    return ",".join(f"{k}={shown[k]}" for k in sorted(shown))


# --- what an object costs ---------------------------------------------------------------------

def pod_counts(pod: Mapping[str, Any], now: float | None = None) -> bool:
    """Whether a pod still counts against compute quota (Kubernetes' QuotaV1Pod): not once it
    finished, nor once it was deleted and its grace period is over."""
    if ((pod.get("status") or {}).get("phase")) in ("Succeeded", "Failed"):
        return False
    md = pod.get("metadata") or {}
    deleted = to_unix(md.get("deletionTimestamp"))
    grace = md.get("deletionGracePeriodSeconds")
    if deleted is not None and grace is not None:
        if (time.time() if now is None else now) > deleted + grace:
            return False
    return True


def _requests_and_limits(spec: Mapping[str, Any]) -> tuple[Usage, Usage]:
    """A pod's effective requests and limits (Kubernetes' PodRequests / PodLimits): the sum of
    its containers, at least the largest init container, plus the pod overhead."""
    totals: list[Usage] = [{}, {}]
    for c in spec.get("containers") or ():
        res = c.get("resources") or {}
        for i, field in enumerate(("requests", "limits")):
            totals[i] = add(totals[i], parse_list(res.get(field)))
    for c in spec.get("initContainers") or ():
        res = c.get("resources") or {}
        for i, field in enumerate(("requests", "limits")):
            for k, v in parse_list(res.get(field)).items():
                if v > totals[i].get(k, Fraction(0)):
                    totals[i][k] = v
    overhead = parse_list(spec.get("overhead"))
    if overhead:
        totals = [add(totals[0], overhead), add(totals[1], mask(overhead, totals[1]))]
    return totals[0], totals[1]


def _resources_key(spec: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a pod's compute usage depends on, hashable: its containers' requests and limits
    and its overhead."""
    def one(c: Mapping[str, Any]) -> tuple[Any, ...]:
        res = c.get("resources") or {}
        return (tuple((res.get("requests") or {}).items()), tuple((res.get("limits") or {}).items()))
    return (tuple(one(c) for c in spec.get("containers") or ()),
            tuple(one(c) for c in spec.get("initContainers") or ()),
            tuple((spec.get("overhead") or {}).items()))


@functools.lru_cache(maxsize=1024)
def _compute_usage(key: tuple[Any, ...]) -> tuple[tuple[str, Fraction], ...]:
    # Pods of one template ask the same: Fraction arithmetic once per distinct ask, not per pod.
    containers, inits, overhead = key
    spec = {"containers": [{"resources": {"requests": dict(r), "limits": dict(lim)}} for r, lim in containers],
            "initContainers": [{"resources": {"requests": dict(r), "limits": dict(lim)}} for r, lim in inits],
            "overhead": dict(overhead)}
    requests, limits = _requests_and_limits(spec)
    out: Usage = {"pods": _ONE}
    for r in ("cpu", "memory", "ephemeral-storage"):
        if r in requests:
            out[r] = out[f"requests.{r}"] = requests[r]
        if r in limits:
            out[f"limits.{r}"] = limits[r]
    for r, v in requests.items():
        if r.startswith("hugepages-"):
            out[r] = out[f"requests.{r}"] = v
        elif "/" in r and not r.startswith(("kubernetes.io/", "requests.")):
            out[f"requests.{r}"] = v  # an extended resource
    return tuple(out.items())


def pod_usage(pod: Mapping[str, Any], now: float | None = None) -> Usage:
    out: Usage = {"count/pods": _ONE}
    if not pod_counts(pod, now):
        return out
    key = _resources_key(pod.get("spec") or {})
    try:
        out.update(_compute_usage(key))
    except TypeError:  # an unhashable value (never in a validated pod): computed uncached
        out.update(_compute_usage.__wrapped__(key))
    return out


def service_usage(svc: Mapping[str, Any]) -> Usage:
    spec = svc.get("spec") or {}
    out: Usage = {"services": _ONE, "count/services": _ONE}
    kind = spec.get("type") or "ClusterIP"
    ports = len(spec.get("ports") or ())
    if kind == "LoadBalancer":
        out["services.loadbalancers"] = _ONE
    if kind in ("NodePort", "LoadBalancer") and ports:
        out["services.nodeports"] = Fraction(ports)
    return out


def pvc_usage(pvc: Mapping[str, Any]) -> Usage:
    out: Usage = {"persistentvolumeclaims": _ONE, "count/persistentvolumeclaims": _ONE}
    spec = pvc.get("spec") or {}
    req = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if req is not None:
        try:
            storage = quantity.parse_quantity(req)
        except ValueError:
            storage = None
        if storage is not None:
            out["requests.storage"] = storage
            cls = spec.get("storageClassName")
            if cls:
                out[f"{cls}.storageclass.storage.k8s.io/requests.storage"] = storage
                out[f"{cls}.storageclass.storage.k8s.io/persistentvolumeclaims"] = _ONE
    return out


def usage(plural: str, group: str, obj: Mapping[str, Any], now: float | None = None) -> Usage:
    """Everything an object of ``group``/``plural`` costs, by quota resource name."""
    if not group:
        if plural == "pods":
            return pod_usage(obj, now)
        if plural == "services":
            return service_usage(obj)
        if plural == "persistentvolumeclaims":
            return pvc_usage(obj)
        if plural in _OBJECT_COUNTS:
            return {_OBJECT_COUNTS[plural]: _ONE, count_name(plural, group): _ONE}
    return {count_name(plural, group): _ONE}


def handled_resources(plural: str, group: str, names: Iterable[str]) -> list[str]:
    """Of the quota's resource ``names``, those an object of this kind can use
    (Kubernetes' evaluator.MatchingResources)."""
    own = count_name(plural, group)
    out = []
    for n in names:
        if n == own:
            out.append(n)
        elif not group and plural == "pods" and (n in POD_RESOURCES or n.startswith(("hugepages-", "requests."))):
            out.append(n)
        elif not group and plural == "services" and n in SERVICE_RESOURCES:
            out.append(n)
        elif not group and plural == "persistentvolumeclaims" and (
                n in PVC_RESOURCES or ".storageclass.storage.k8s.io/" in n):
            out.append(n)
        elif not group and _OBJECT_COUNTS.get(plural) == n:
            out.append(n)
    return out


# --- scopes -----------------------------------------------------------------------------------

def scope_selectors(quota: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``spec.scopes`` as Exists requirements, followed by ``spec.scopeSelector``'s."""
    spec = quota.get("spec") or {}
    out = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or ()]
    out += list(((spec.get("scopeSelector") or {}).get("matchExpressions")) or ())
    return out


def _pod_matches_scope(req: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    scope = req.get("scopeName")
    if scope in ("Terminating", "NotTerminating"):
        deadline = spec.get("activeDeadlineSeconds")
        terminating = deadline is not None and deadline >= 0
        return terminating if scope == "Terminating" else not terminating
    if scope in ("BestEffort", "NotBestEffort"):
        best_effort = qos.qos_class(spec) == "BestEffort"
        return best_effort if scope == "BestEffort" else not best_effort
    if scope == "PriorityClass":
        name = spec.get("priorityClassName") or ""
        op = req.get("operator")
        values = req.get("values") or ()
        if op == "Exists":
            return bool(name)
        if op == "DoesNotExist":
            return not name
        if op == "In":
            return bool(name) and name in values
        if op == "NotIn":
            return not name or name not in values
        return False
    if scope == "CrossNamespacePodAffinity":
        aff = spec.get("affinity") or {}
        for kind in ("podAffinity", "podAntiAffinity"):
            a = aff.get(kind) or {}
            terms = list(a.get("requiredDuringSchedulingIgnoredDuringExecution") or ())
            terms += [w.get("podAffinityTerm") or {} for w in a.get("preferredDuringSchedulingIgnoredDuringExecution") or ()]
            if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
                return True
        return False
    return False


def matches(quota: Mapping[str, Any], plural: str, group: str, obj: Mapping[str, Any]) -> bool:
    """Whether the quota covers this object: it limits something the object uses, and the
    object is in every one of the quota's scopes (scopes only ever select pods)."""
    hard = (quota.get("status") or {}).get("hard") or (quota.get("spec") or {}).get("hard") or {}
    if not handled_resources(plural, group, hard):
        return False
    selectors = scope_selectors(quota)
    if not selectors:
        return True
    if group or plural != "pods":
        return False
    return all(_pod_matches_scope(s, obj) for s in selectors)


def scope_resources_allowed(scope: str, resource: str) -> bool:
    """Whether a quota with this scope may limit this resource (Kubernetes' validation)."""
    if scope == "BestEffort":
        return resource in _BEST_EFFORT_RESOURCES
    return resource in POD_RESOURCES or resource.startswith(("hugepages-", "requests.hugepages-"))
