"""LimitRanger admission (Kubernetes' ``plugin/pkg/admission/limitranger``) for pods and claims.

* Mutating: every container of a new pod gets the ``default`` limits and ``defaultRequest``
  requests of the namespace's ``Container`` limit ranges for the resources it leaves unset,
  and the pod is annotated ``kubernetes.io/limit-ranger`` with what was set.
* Validating: ``min`` / ``max`` / ``maxLimitRequestRatio`` per container (``Container``) or
  summed over the pod (``Pod``), and ``min`` / ``max`` storage per claim
  (``PersistentVolumeClaim``), refused with Kubernetes' messages, all of them at once.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from apiserver.admission.interface import CREATE, Attributes, Plugin, forbidden
from minik8s import quantity
from minik8s.api import resources as rs

ANNOTATION = "kubernetes.io/limit-ranger"
_PVCS = getattr(rs, "PERSISTENTVOLUMECLAIMS", None)


def _q(v: Any) -> Fraction | None:
    try:
        return quantity.parse_quantity(v)
    except (ValueError, TypeError):
        return None


def _min(kind: str, res: str, enforced: str, request: str | None, limit: str | None) -> list[str]:
    out = []
    e = _q(enforced)
    if request is None:
        out.append(f"minimum {res} usage per {kind} is {enforced}.  No request is specified")
    elif e is not None and (_q(request) or 0) < e:
        out.append(f"minimum {res} usage per {kind} is {enforced}, but request is {request}")
    if limit is not None and e is not None and (_q(limit) or 0) < e:
        out.append(f"minimum {res} usage per {kind} is {enforced}, but limit is {limit}")
    return out


def _max(kind: str, res: str, enforced: str, request: str | None, limit: str | None) -> list[str]:
    out = []
    e = _q(enforced)
    if request is not None and e is not None and (_q(request) or 0) > e:
        out.append(f"maximum {res} usage per {kind} is {enforced}, but request is {request}")
    if limit is None:
        out.append(f"maximum {res} usage per {kind} is {enforced}.  No limit is specified")
    elif e is not None and (_q(limit) or 0) > e:
        out.append(f"maximum {res} usage per {kind} is {enforced}, but limit is {limit}")
    return out


def _ratio(kind: str, res: str, enforced: str, request: str | None, limit: str | None) -> list[str]:
    req, lim = _q(request) if request is not None else None, _q(limit) if limit is not None else None
    if not req:
        return [f"{res} max limit to request ratio per {kind} is {enforced}, but no request is specified "
                f"or request is 0"]
    if not lim:
        return [f"{res} max limit to request ratio per {kind} is {enforced}, but no limit is specified "
                f"or limit is 0"]
    observed = lim / req
    e = _q(enforced)
    if e is not None and observed > e:
        return [f"{res} max limit to request ratio per {kind} is {enforced}, but provided ratio is "
                f"{float(observed):f}"]
    return []


def _check(kind: str, item: dict[str, Any], requests: dict[str, str], limits: dict[str, str]) -> list[str]:
    out: list[str] = []
    for res, enforced in (item.get("min") or {}).items():
        out += _min(kind, res, enforced, requests.get(res), limits.get(res))
    for res, enforced in (item.get("max") or {}).items():
        out += _max(kind, res, enforced, requests.get(res), limits.get(res))
    for res, enforced in (item.get("maxLimitRequestRatio") or {}).items():
        out += _ratio(kind, res, enforced, requests.get(res), limits.get(res))
    return out


def _pod_totals(spec: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The pod's summed requests and limits, in Kubernetes' canonical form. A resource is
    present only when every container sets it (as Kubernetes' pod-level check sees it)."""
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    out: list[dict[str, str]] = []
    for field in ("requests", "limits"):
        sums: dict[str, Fraction] = {}
        forms: dict[str, str] = {}
        missing: set[str] = set()
        names = set().union(*[((c.get("resources") or {}).get(field) or {}).keys() for c in containers]) \
            if containers else set()
        for c in containers:
            vals = (c.get("resources") or {}).get(field) or {}
            for n in names:
                if n not in vals:
                    missing.add(n)
                    continue
                v = _q(vals[n])
                if v is not None:
                    sums[n] = sums.get(n, Fraction(0)) + v
                    forms[n] = vals[n]
        out.append({n: quantity.format_quantity(v, quantity.parse(forms[n]).format)
                    for n, v in sums.items() if n not in missing})
    return out[0], out[1]


class LimitRanger(Plugin):
    handles = frozenset(t for t in (rs.PODS, _PVCS) if t is not None)

    def __init__(self, cache: Any) -> None:  # apiserver.watchcache.WatchCache
        self.cache = cache

    def _items(self, namespace: str | None, kind: str) -> list[dict[str, Any]]:
        objects = self.cache.resource(rs.LIMITRANGES.plural).objects
        if not objects:
            return []
        prefix = f"/registry/limitranges/{namespace}/"
        return [item for key, lr in sorted(objects.items()) if key.startswith(prefix)
                for item in (lr.get("spec") or {}).get("limits") or () if item.get("type") == kind]

    async def admit(self, attrs: Attributes) -> None:
        if attrs.resource is not rs.PODS or attrs.operation != CREATE or attrs.subresource:
            return
        items = self._items(attrs.namespace, "Container")
        if not items:
            return
        notes: list[str] = []
        spec = attrs.obj.setdefault("spec", {})
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            res = c.setdefault("resources", {})
            set_requests: list[str] = []
            set_limits: list[str] = []
            for item in items:
                for field, defaults, done in (("limits", item.get("default"), set_limits),
                                              ("requests", item.get("defaultRequest"), set_requests)):
                    for k, val in (defaults or {}).items():
                        have = res.setdefault(field, {})
                        if k not in have:
                            have[k] = val
                            done.append(k)
            if set_requests:
                notes.append(f"{', '.join(set_requests)} request for container {c.get('name')}")
            if set_limits:
                notes.append(f"{', '.join(set_limits)} limit for container {c.get('name')}")
        if notes:
            md = attrs.obj.setdefault("metadata", {})
            md.setdefault("annotations", {})[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)

    async def validate(self, attrs: Attributes) -> None:
        if attrs.operation != CREATE or attrs.subresource:
            return
        problems: list[str] = []
        if attrs.resource is rs.PODS:
            spec = attrs.obj.get("spec") or {}
            for item in self._items(attrs.namespace, "Container"):
                for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
                    res = c.get("resources") or {}
                    problems += _check("Container", item, res.get("requests") or {}, res.get("limits") or {})
            pod_items = self._items(attrs.namespace, "Pod")
            if pod_items:
                requests, limits = _pod_totals(spec)
                for item in pod_items:
                    problems += _check("Pod", item, requests, limits)
        else:
            storage = ((((attrs.obj.get("spec") or {}).get("resources") or {}).get("requests")) or {})
            for item in self._items(attrs.namespace, "PersistentVolumeClaim"):
                for res, enforced in (item.get("min") or {}).items():
                    if res in storage and (_q(storage[res]) or 0) < (_q(enforced) or 0):
                        problems.append(f"minimum {res} usage per PersistentVolumeClaim is {enforced}, "
                                        f"but request is {storage[res]}")
                for res, enforced in (item.get("max") or {}).items():
                    if res in storage and (_q(storage[res]) or 0) > (_q(enforced) or 0):
                        problems.append(f"maximum {res} usage per PersistentVolumeClaim is {enforced}, "
                                        f"but request is {storage[res]}")
        if problems:
            raise forbidden(attrs, problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]")
