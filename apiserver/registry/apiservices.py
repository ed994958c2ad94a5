"""apiregistration.k8s.io/v1 APIService: its strategy (validation as the aggregator's) and
its printed columns (``kubectl get apiservices``: NAME, SERVICE, AVAILABLE, AGE).

The objects of the group versions this apiserver serves are kept by
:mod:`apiserver.apiservices_autoregister`; a user may add others, as on Kubernetes.
"""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.printers import Column, Printer, age, meta
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError


class APIServiceStrategy(Strategy):
    uses_generation = True

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        spec = obj.get("spec") or {}
        name = (obj.get("metadata") or {}).get("name") or ""
        group, version = spec.get("group") or "", spec.get("version") or ""
        errs: list[FieldError] = []
        expected = f"{version}.{group}"  # the core group's is "v1."
        if name != expected:
            errs.append(v.invalid("metadata.name", name, f'must be `spec.version+"."+spec.group`: "{expected}"'))
        if not version:
            errs.append(v.required("spec.version"))
        if spec.get("service") is None:
            if spec.get("caBundle") or spec.get("insecureSkipTLSVerify"):
                errs.append(v.invalid("spec.service", None, "must be set when caBundle or insecureSkipTLSVerify is"))
        else:
            svc = spec["service"] or {}
            if not svc.get("namespace"):
                errs.append(v.required("spec.service.namespace"))
            if not svc.get("name"):
                errs.append(v.required("spec.service.name"))
            port = svc.get("port", 443)
            if not isinstance(port, int) or not 0 < port < 65536:
                errs.append(v.invalid("spec.service.port", port, "must be a valid port number"))
        for field, top in (("groupPriorityMinimum", 20000), ("versionPriority", 1000)):
            value = spec.get(field, 0)
            if not isinstance(value, int) or not 0 < value <= top:
                errs.append(v.invalid(f"spec.{field}", value, f"must be positive and less than {top}"))
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return self.validate(new)


def _row(obj: dict[str, Any], now: float) -> list[Any]:
    svc = (obj.get("spec") or {}).get("service")
    service = f"{svc.get('namespace')}/{svc.get('name')}" if svc else "Local"
    available = "Unknown"
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Available":
            available = c.get("status", "Unknown")
            if available != "True" and c.get("reason"):
                available = f"{available} ({c['reason']})"
    return [meta(obj).get("name", ""), service, available, age(obj, now)]


APISERVICE = Printer(
    (Column("Name", format="name", description="Name must be unique within a namespace."),
     Column("Service", description="The reference to the service that hosts this API endpoint."),
     Column("Available", description="Whether this service is available."),
     Column("Age", description="CreationTimestamp is a timestamp representing the server time when this object "
                               "was created.")),
    _row,
)
