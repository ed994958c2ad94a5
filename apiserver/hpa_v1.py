"""autoscaling/v1 HorizontalPodAutoscaler: a view of the stored autoscaling/v2 objects, as
Kubernetes serves it (``kubectl autoscale`` creates through v1).

Conversion follows Kubernetes' ``pkg/apis/autoscaling/v1/conversion.go``: v1's
``targetCPUUtilizationPercentage`` is v2's CPU Utilization metric and
``currentCPUUtilizationPercentage`` its current value; everything v1 cannot say (other
metrics, current metrics, conditions, behavior) travels in the annotations
``autoscaling.alpha.kubernetes.io/{metrics,current-metrics,conditions,behavior}`` so that a
round trip through v1 loses nothing.

Requests to v1 are handled here (a virtual handler of the apiserver): reads convert what is
stored; writes convert the v1 body to v2 and go through the v2 strategy (defaults,
validation, admission) as every other write; patches apply to the v1 view first.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from apiserver import bodies, errors, managedfields, params
from apiserver import validation as v
from apiserver.patch.jsonpatch import apply_json_patch
from apiserver.patch.mergepatch import apply_merge_patch
from apiserver.registry import table as registry
from apiserver.responses import json_response, wants_table
from apiserver.rest import ListOptions
from minik8s.api import resources as rs

if TYPE_CHECKING:
    from apiserver.scope import RequestInfo, Server

__all__ = ["handle", "to_v1", "to_v2"]

_PREFIX = "autoscaling.alpha.kubernetes.io/"
_ANNOTATIONS = {"metrics": "metrics", "current-metrics": "currentMetrics", "conditions": "conditions",
                "behavior": "behavior"}
_V1_SPEC = ("scaleTargetRef", "minReplicas", "maxReplicas", "targetCPUUtilizationPercentage")


def _is_cpu_utilization(m: dict[str, Any]) -> bool:
    r = m.get("resource") or {}
    return m.get("type") == "Resource" and r.get("name") == "cpu" and \
        (r.get("target") or {}).get("type") == "Utilization"


def to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    """A stored autoscaling/v2 object as autoscaling/v1 speaks it."""
    if obj.get("kind") == "HorizontalPodAutoscalerList":
        return {**obj, "apiVersion": "autoscaling/v1", "items": [to_v1(o) for o in obj.get("items") or []]}
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v1"
    spec, status = out.get("spec") or {}, out.get("status") or {}
    extra: dict[str, Any] = {}
    metrics = spec.pop("metrics", None) or []
    others = [m for m in metrics if not _is_cpu_utilization(m)]
    cpu = next((m for m in metrics if _is_cpu_utilization(m)), None)
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"].get("averageUtilization")
    if others:
        extra["metrics"] = others
    if spec.get("behavior") is not None:
        extra["behavior"] = spec.pop("behavior")
    current = status.pop("currentMetrics", None) or []
    for m in current:
        if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu":
            util = ((m["resource"].get("current") or {}).get("averageUtilization"))
            if util is not None:
                status["currentCPUUtilizationPercentage"] = util
    if current:
        extra["current-metrics"] = current
    if status.get("conditions"):
        extra["conditions"] = status.pop("conditions")
    if extra:
        annotations = out.setdefault("metadata", {}).setdefault("annotations", {})
        for key, value in extra.items():
            annotations[_PREFIX + key] = orjson.dumps(value).decode()
    out["spec"] = spec
    out["status"] = status
    return out


def to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    """An autoscaling/v1 body as the stored autoscaling/v2 object (the annotations folded back)."""
    if not isinstance(obj, dict):
        raise errors.BadRequest("the body of the request was in an unknown format")
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v2"
    spec = out.get("spec") or {}
    status = out.get("status") or {}
    if not isinstance(spec, dict) or not isinstance(status, dict):
        raise errors.BadRequest("the body of the request was in an unknown format")
    annotations = (out.get("metadata") or {}).get("annotations") or {}
    folded: dict[str, Any] = {}
    for key in _ANNOTATIONS:
        raw = annotations.pop(_PREFIX + key, None)
        if raw is not None:
            try:
                folded[key] = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise errors.Invalid.of("HorizontalPodAutoscaler", "autoscaling", (out.get("metadata") or {}).get(
                    "name") or "", [_invalid(f"metadata.annotations[{_PREFIX + key}]", raw)]) from None
    if not annotations and isinstance(out.get("metadata"), dict):
        out["metadata"].pop("annotations", None)
    unknown = [k for k in spec if k not in _V1_SPEC]
    if unknown:
        raise errors.BadRequest(f'HorizontalPodAutoscaler in version "v1" cannot be handled as a '
                                f'HorizontalPodAutoscaler: strict decoding error: unknown field "spec.{unknown[0]}"')
    metrics: list[dict[str, Any]] = []
    target = spec.pop("targetCPUUtilizationPercentage", None)
    if target is not None:
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": target}}})
    metrics += folded.get("metrics") or []
    if metrics:
        spec["metrics"] = metrics
    if "behavior" in folded:
        spec["behavior"] = folded["behavior"]
    current_cpu = status.pop("currentCPUUtilizationPercentage", None)
    if "current-metrics" in folded:
        status["currentMetrics"] = folded["current-metrics"]
    elif current_cpu is not None:
        status["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": current_cpu}}}]
    if "conditions" in folded:
        status["conditions"] = folded["conditions"]
    out["spec"], out["status"] = spec, status
    return out


def _invalid(field: str, value: Any) -> Any:
    return v.invalid(field, value, "must be JSON")


async def handle(request: Request, server: Server, info: RequestInfo) -> Response:
    entry = registry.BY_TYPE[rs.HORIZONTALPODAUTOSCALERS]
    q = request.query_params
    ns, name, sub = info.namespace, info.name, info.subresource
    method = request.method
    manager = managedfields.manager_name(q.get("fieldManager"), request.headers.get("user-agent"))
    validation = params.field_validation(q)
    if info.watch_path or q.get("watch") in ("1", "t", "T", "true", "True", "TRUE"):
        raise errors.MethodNotAllowed("watch is served in autoscaling/v2; autoscaling/v1 answers get, list and "
                                      "writes")
    if method == "GET":
        if name is None:
            listed = await server.rest.list(entry, ns, ListOptions(q.get("labelSelector"), q.get("fieldSelector")))
            if wants_table(request):
                return json_response(server.table(request, info.entry, listed["items"], listed["metadata"]))
            return json_response(to_v1({**listed, "kind": "HorizontalPodAutoscalerList"}))
        obj = await server.rest.get(entry, ns, name)
        if wants_table(request):
            return json_response(server.table(request, info.entry, [obj], {}))
        return json_response(to_v1(obj))
    if method == "POST" and name is None:
        body = to_v2(await server.read_body(request))
        res = await server.rest.create(entry, ns, body, field_validation=validation, field_manager=manager)
        return json_response(to_v1(res.body), res.code, res.warnings)
    if method == "PUT" and name is not None:
        body = to_v2(await server.read_body(request))
        res = await server.rest.update(entry, ns, name, body, subresource=sub, field_validation=validation,
                                       field_manager=manager)
        return json_response(to_v1(res.body), res.code, res.warnings)
    if method == "PATCH" and name is not None:
        patch = await server.read_body(request)
        current = to_v1(await server.rest.get(entry, ns, name))
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype == "application/json-patch+json":
            patched = apply_json_patch(current, patch)
        elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            patched = apply_merge_patch(current, patch)  # v1 has no lists a strategy would merge
        else:
            raise errors.UnsupportedMediaType("the body of the request was in an unknown format - accepted media "
                                              "types include: application/json-patch+json, "
                                              "application/merge-patch+json, application/strategic-merge-patch+json")
        res = await server.rest.update(entry, ns, name, to_v2(patched), subresource=sub,
                                       field_validation=validation, field_manager=manager)
        return json_response(to_v1(res.body), res.code, res.warnings)
    if method == "DELETE" and name is not None:
        options = params.delete_options(q, bodies.delete_options(await server.read_body(request)))
        res = await server.rest.delete(entry, ns, name, options)
        body = res.body
        return json_response(to_v1(body) if body.get("kind") == "HorizontalPodAutoscaler" else body, res.code)
    raise errors.MethodNotAllowed("the server does not allow this method on the requested resource")
