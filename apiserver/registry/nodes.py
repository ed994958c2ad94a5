"""Node API behaviour: cluster-scoped, status may be set on create (the kubelet registers
with its capacity), ``spec.unschedulable`` for cordon.

A node's addresses are where the apiserver dials its kubelet (``pods/log``, ``pods/exec``), so
they are validated on every write, status included: an ``InternalIP``/``ExternalIP`` must be an
IP address (no port, no path: ``127.0.0.1:8080/x?`` would let a node's owner point the apiserver
at any internal URL), a ``Hostname``/``*DNS`` a DNS subdomain, the kubelet port a port number.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from apiserver import validation as v
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError

_EFFECTS = ["NoExecute", "NoSchedule", "PreferNoSchedule"]
_ADDRESS_TYPES = ["ExternalDNS", "ExternalIP", "Hostname", "InternalDNS", "InternalIP"]
_IP_HINT = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def validate_node_status(status: Any) -> list[FieldError]:
    """The addresses and kubelet endpoint of a Node's status."""
    if not isinstance(status, dict):
        return []
    errs: list[FieldError] = []
    seen: set[tuple[Any, Any]] = set()
    for i, a in enumerate(status.get("addresses") or []):
        path = f"status.addresses[{i}]"
        if not isinstance(a, dict):
            errs.append(v.invalid(path, a, "must be an object with type and address"))
            continue
        kind, addr = a.get("type"), a.get("address")
        if kind not in _ADDRESS_TYPES:
            errs.append(v.not_supported(f"{path}.type", kind, _ADDRESS_TYPES))
        if not isinstance(addr, str) or not addr:
            errs.append(v.required(f"{path}.address"))
        elif kind in ("InternalIP", "ExternalIP"):
            try:
                ip = ipaddress.ip_address(addr)
            except ValueError:
                errs.append(v.invalid(f"{path}.address", addr, _IP_HINT))
            else:
                if str(ip) != addr and not (ip.version == 6 and addr.lower() == str(ip)):
                    errs.append(v.invalid(f"{path}.address", addr, _IP_HINT))
        elif kind in ("Hostname", "InternalDNS", "ExternalDNS"):
            errs += [v.invalid(f"{path}.address", addr, m) for m in v.dns1123_subdomain(addr)]
        if (kind, addr) in seen:
            errs.append(v.duplicate(path, a))
        seen.add((kind, addr))
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    if port is not None and (not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535):
        errs.append(v.invalid("status.daemonEndpoints.kubeletEndpoint.Port", port,
                              "must be between 0 and 65535, inclusive"))
    return errs


class NodeStrategy(Strategy):
    uses_generation = False

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        # Nodes allow every field, status included, on create.
        pass

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        for i, t in enumerate((obj.get("spec") or {}).get("taints") or []):
            if not t.get("key"):
                errs.append(v.required(f"spec.taints[{i}].key"))
            if t.get("effect") not in _EFFECTS:
                errs.append(v.not_supported(f"spec.taints[{i}].effect", t.get("effect"), _EFFECTS))
        return errs + validate_node_status(obj.get("status"))

    def validate_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        return validate_node_status(new.get("status"))

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        old_cidr = (old.get("spec") or {}).get("podCIDR")
        if old_cidr and (new.get("spec") or {}).get("podCIDR") != old_cidr:
            errs.append(v.forbidden("spec.podCIDR", "podCIDR may not be changed once set"))
        return errs

    def field_values(self, obj: dict[str, Any]) -> dict[str, str]:
        out = super().field_values(obj)
        out["spec.unschedulable"] = "true" if (obj.get("spec") or {}).get("unschedulable") else "false"
        return out
