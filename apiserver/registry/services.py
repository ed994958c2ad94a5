"""Service API behaviour: port and type validation. ClusterIP and NodePort allocation are
done by the service REST storage (``apiserver/allocators.py``) around these hooks."""

from __future__ import annotations

from typing import Any

from apiserver import validation as v
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError

_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]


class ServiceStrategy(Strategy):
    uses_generation = False

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"loadBalancer": {}}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        _drop_type_dependent_fields(new.get("spec") or {}, old.get("spec") or {})

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = v.validate_object_meta(obj, name_rule=v.dns1035_label)
        spec = obj.get("spec") or {}
        typ = spec.get("type")
        if typ not in _TYPES:
            errs.append(v.not_supported("spec.type", typ, _TYPES))
        ports = spec.get("ports") or []
        if typ == "ExternalName":
            if not spec.get("externalName"):
                errs.append(v.required("spec.externalName"))
        elif not ports and spec.get("clusterIP") != "None":
            errs.append(v.required("spec.ports"))
        names: set[str] = set()
        seen: set[tuple[int, str]] = set()
        for i, p in enumerate(ports):
            f = f"spec.ports[{i}]"
            name = p.get("name") or ""
            if len(ports) > 1 and not name:
                errs.append(v.required(f"{f}.name"))
            if name:
                errs += [v.invalid(f"{f}.name", name, m) for m in v.dns1123_label(name)]
                if name in names:
                    errs.append(v.duplicate(f"{f}.name", name))
                names.add(name)
            port = p.get("port")
            if not isinstance(port, int) or not 1 <= port <= 65535:
                errs.append(v.invalid(f"{f}.port", port, "must be between 1 and 65535, inclusive"))
            if p.get("protocol") not in _PROTOCOLS:
                errs.append(v.not_supported(f"{f}.protocol", p.get("protocol"), _PROTOCOLS))
            key = (port, p.get("protocol"))
            if key in seen:
                errs.append(v.duplicate(f, {"port": port, "protocol": p.get("protocol")}))
            seen.add(key)
            tp = p.get("targetPort")
            if isinstance(tp, int) and not 1 <= tp <= 65535:
                errs.append(v.invalid(f"{f}.targetPort", tp, "must be between 1 and 65535, inclusive"))
            np = p.get("nodePort")
            if np and typ not in ("NodePort", "LoadBalancer"):
                errs.append(v.forbidden(f"{f}.nodePort", "may not be used when `type` is 'ClusterIP'"))
        sa = spec.get("sessionAffinity")
        if sa not in ("None", "ClientIP"):
            errs.append(v.not_supported("spec.sessionAffinity", sa, ["ClientIP", "None"]))
        errs += v.validate_labels(spec.get("selector"), "spec.selector")
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        old_ip = (old.get("spec") or {}).get("clusterIP")
        new_ip = (new.get("spec") or {}).get("clusterIP")
        if old_ip and new_ip and old_ip != new_ip and (new.get("spec") or {}).get("type") != "ExternalName":
            errs.append(v.invalid("spec.clusterIP", new_ip, "field is immutable"))
        return errs


def _needs_node_ports(spec: dict[str, Any]) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def _drop_type_dependent_fields(new: dict[str, Any], old: dict[str, Any]) -> None:
    """A type change drops the values the old type needed and the user did not change
    (Kubernetes' dropTypeDependentFields): NodePort → ClusterIP loses its node ports,
    → ExternalName its cluster IPs."""
    if _needs_node_ports(old) and not _needs_node_ports(new):
        old_ports = {p.get("nodePort") for p in old.get("ports") or []}
        for p in new.get("ports") or []:
            if p.get("nodePort") in old_ports:
                p.pop("nodePort", None)
    if new.get("type") == "ExternalName" and old.get("type") != "ExternalName":
        for f in ("clusterIP", "clusterIPs"):
            if new.get(f) == old.get(f):
                new.pop(f, None)
