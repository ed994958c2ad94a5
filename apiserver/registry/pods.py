"""Pod API behaviour: creation status, spec validation, the narrow set of mutable spec fields and
graceful deletion (as ``pkg/registry/core/pod/strategy.go``); binding to a node is
``apiserver/registry/podbinding.py``."""

from __future__ import annotations

import copy
from typing import Any

from apiserver import validation as v
from apiserver.registry.strategy import Strategy
from apiserver.validation import FieldError
from minik8s import quantity
from minik8s.qos import qos_class

_RESTART_POLICIES = ["Always", "OnFailure", "Never"]
_DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
_PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
_PROTOCOLS = ["SCTP", "TCP", "UDP"]

_UPDATE_FORBIDDEN_MSG = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)")


class PodStrategy(Strategy):
    uses_generation = False
    return_deleted_object = True

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        # Requests default to limits when only limits are given (Kubernetes' defaulting).
        for c in (obj["spec"].get("containers") or []) + (obj["spec"].get("initContainers") or []):
            res = c.get("resources")
            if res and res.get("limits"):
                req = res.setdefault("requests", {})
                for k, val in res["limits"].items():
                    req.setdefault(k, val)
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj["spec"])}

    def validate(self, obj: dict[str, Any]) -> list[FieldError]:
        errs = super().validate(obj)
        errs += validate_pod_spec(obj.get("spec") or {}, "spec")
        return errs

    def validate_update(self, new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
        errs = super().validate_update(new, old)
        if _mask_mutable(new["spec"], old["spec"]) != old["spec"]:
            errs.append(v.forbidden("spec", _UPDATE_FORBIDDEN_MSG))
        return errs

    def check_graceful_delete(self, obj: dict[str, Any], grace_period_seconds: int | None) -> int | None:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return None
        grace = grace_period_seconds
        if grace is None:
            grace = spec.get("terminationGracePeriodSeconds", 30)
        return grace if grace and grace > 0 else None

    def field_values(self, obj: dict[str, Any]) -> dict[str, str]:
        out = super().field_values(obj)
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        out["spec.nodeName"] = spec.get("nodeName", "")
        out["spec.restartPolicy"] = spec.get("restartPolicy", "")
        out["spec.schedulerName"] = spec.get("schedulerName", "")
        out["spec.serviceAccountName"] = spec.get("serviceAccountName", "")
        out["spec.hostNetwork"] = "true" if spec.get("hostNetwork") else "false"
        out["status.phase"] = status.get("phase", "")
        out["status.podIP"] = status.get("podIP", "")
        out["status.nominatedNodeName"] = status.get("nominatedNodeName", "")
        return out


def _mask_mutable(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """``new`` with the fields a pod update may change copied from ``old``, to compare."""
    masked = copy.deepcopy(new)
    for field in ("containers", "initContainers"):
        olds = old.get(field) or []
        for i, c in enumerate(masked.get(field) or []):
            if i < len(olds):
                c["image"] = olds[i].get("image")
    for f in ("activeDeadlineSeconds", "terminationGracePeriodSeconds"):
        if f in old:
            masked[f] = old[f]
        else:
            masked.pop(f, None)
    olds_t = old.get("tolerations") or []
    new_t = masked.get("tolerations") or []
    if all(t in new_t for t in olds_t):  # additions only
        if olds_t:
            masked["tolerations"] = olds_t
        else:
            masked.pop("tolerations", None)
    return masked


def validate_pod_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    volumes = set()
    for i, vol in enumerate(spec.get("volumes") or []):
        name = vol.get("name") or ""
        f = f"{path}.volumes[{i}].name"
        if not name:
            errs.append(v.required(f))
        else:
            errs += [v.invalid(f, name, m) for m in v.dns1123_label(name)]
            if name in volumes:
                errs.append(v.duplicate(f, name))
        volumes.add(name)
    containers = spec.get("containers") or []
    if not containers:
        errs.append(v.required(f"{path}.containers"))
    names: set[str] = set()
    for field in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(field) or []):
            errs += validate_container(c, f"{path}.{field}[{i}]", names, volumes)
    rp = spec.get("restartPolicy")
    if rp not in _RESTART_POLICIES:
        errs.append(v.not_supported(f"{path}.restartPolicy", rp, _RESTART_POLICIES))
    dp = spec.get("dnsPolicy")
    if dp not in _DNS_POLICIES:
        errs.append(v.not_supported(f"{path}.dnsPolicy", dp, _DNS_POLICIES))
    tg = spec.get("terminationGracePeriodSeconds")
    if tg is not None and tg < 0:
        errs.append(v.invalid(f"{path}.terminationGracePeriodSeconds", tg, "must be greater than or equal to 0"))
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and ads <= 0:
        errs.append(v.invalid(f"{path}.activeDeadlineSeconds", ads, "must be between 1 and 2147483647, inclusive"))
    errs += v.validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    for fld in ("hostname", "subdomain"):
        if spec.get(fld):
            errs += [v.invalid(f"{path}.{fld}", spec[fld], m) for m in v.dns1123_label(spec[fld])]
    for i, t in enumerate(spec.get("tolerations") or []):
        op = t.get("operator") or "Equal"
        if op not in ("Equal", "Exists"):
            errs.append(v.not_supported(f"{path}.tolerations[{i}].operator", op, ["Equal", "Exists"]))
        if op == "Exists" and t.get("value"):
            errs.append(v.invalid(f"{path}.tolerations[{i}].operator", t.get("value"),
                                  "value must be empty when `operator` is 'Exists'"))
        eff = t.get("effect")
        if eff and eff not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            errs.append(v.not_supported(f"{path}.tolerations[{i}].effect", eff,
                                        ["NoExecute", "NoSchedule", "PreferNoSchedule"]))
    return errs


def validate_container(c: dict[str, Any], path: str, names: set[str], volumes: set[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    name = c.get("name") or ""
    if not name:
        errs.append(v.required(f"{path}.name"))
    else:
        errs += [v.invalid(f"{path}.name", name, m) for m in v.dns1123_label(name)]
        if name in names:
            errs.append(v.duplicate(f"{path}.name", name))
        names.add(name)
    if not c.get("image"):
        errs.append(v.required(f"{path}.image"))
    pp = c.get("imagePullPolicy")
    if pp not in _PULL_POLICIES:
        errs.append(v.not_supported(f"{path}.imagePullPolicy", pp, _PULL_POLICIES))
    port_names: set[str] = set()
    for i, p in enumerate(c.get("ports") or []):
        f = f"{path}.ports[{i}]"
        cp = p.get("containerPort")
        if not isinstance(cp, int) or not 1 <= cp <= 65535:
            errs.append(v.invalid(f"{f}.containerPort", cp, "must be between 1 and 65535, inclusive"))
        hp = p.get("hostPort")
        if hp is not None and hp != 0 and not 1 <= hp <= 65535:
            errs.append(v.invalid(f"{f}.hostPort", hp, "must be between 1 and 65535, inclusive"))
        if p.get("protocol") not in _PROTOCOLS:
            errs.append(v.not_supported(f"{f}.protocol", p.get("protocol"), _PROTOCOLS))
        pn = p.get("name")
        if pn:
            if len(pn) > 15 or not v.DNS1123_LABEL_RE.match(pn) or not any(ch.isalpha() for ch in pn):
                errs.append(v.invalid(f"{f}.name", pn, "must be no more than 15 characters, contain only "
                                      "lowercase alphanumerics or '-', and contain at least one letter (a-z)"))
            if pn in port_names:
                errs.append(v.duplicate(f"{f}.name", pn))
            port_names.add(pn)
    for i, e in enumerate(c.get("env") or []):
        en = e.get("name") or ""
        if not en:
            errs.append(v.required(f"{path}.env[{i}].name"))
        else:
            errs += [v.invalid(f"{path}.env[{i}].name", en, m) for m in v.env_var_name(en)]
    for i, m in enumerate(c.get("volumeMounts") or []):
        if m.get("name") not in volumes:
            errs.append(FieldError(f"{path}.volumeMounts[{i}].name", v.NOT_FOUND,
                                   f"Not found: \"{m.get('name')}\""))
        if not m.get("mountPath"):
            errs.append(v.required(f"{path}.volumeMounts[{i}].mountPath"))
    res = c.get("resources") or {}
    for kind in ("limits", "requests"):
        for rname, q in (res.get(kind) or {}).items():
            if not quantity.is_valid(str(q)):
                errs.append(v.invalid(f"{path}.resources.{kind}[{rname}]", q,
                                      "quantities must match the regular expression "
                                      "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"))
    for rname, q in (res.get("requests") or {}).items():
        lim = (res.get("limits") or {}).get(rname)
        if lim is not None and quantity.is_valid(str(q)) and quantity.is_valid(str(lim)):
            if quantity.parse_quantity(str(q)) > quantity.parse_quantity(str(lim)):
                errs.append(v.invalid(f"{path}.resources.requests", q, f"must be less than or equal to {rname} limit of {lim}"))
    return errs
